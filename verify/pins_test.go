package verify_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hemi-go/hemi/verify"
	"github.com/hemi-go/hemi/verify/verifytest"
)

// TestPinnedCheckpointBundle runs the verifier on a bundle whose Bitcoin
// run is real testnet4 or signet headers from the network's newest pinned
// checkpoint. No Hemi PoP transaction is in those public blocks, so the
// strongest result real data allows is: the identity, checkpoint and
// headers links proved, and the first failure at pop-tx, the first link
// that needs Hemi's own transactions. The same run passes when the user
// gives the checkpoint (--checkpoint), and a bundle naming the checkpoint
// height with another hash is refused at the checkpoint link.
func TestPinnedCheckpointBundle(t *testing.T) {
	for _, network := range []string{"testnet4", "signet"} {
		t.Run(network, func(t *testing.T) {
			f := forge(t, verifytest.Spec{})
			id := *f.Identity
			id.BitcoinNetwork = network
			b := *f.Bundle
			b.BitcoinNetwork = network
			b.Bitcoin = verify.RealRun(t, network)
			tip := b.Bitcoin.Checkpoint.Height + int32(len(b.Bitcoin.Headers))

			for _, given := range [][]string{nil, {fmt.Sprintf("%d:%s", b.Bitcoin.Checkpoint.Height, b.Bitcoin.Checkpoint.Hash)}} {
				r := verify.Verify(&b, verify.Options{Identity: &id, Checkpoints: given})
				if r.OK || r.FailedLink != verify.LinkPoPTx {
					all, _ := json.Marshal(r)
					t.Fatalf("checkpoints %v: want the pop-tx link to fail first, got %s", given, all)
				}
				links := map[string]string{}
				for _, p := range r.Proved {
					links[p.Link] = p.What
				}
				if links[verify.LinkIdentity] == "" || links[verify.LinkBitcoin] == "" || r.BitcoinTip != tip ||
					r.Checkpoint != fmt.Sprintf("%d:%s", b.Bitcoin.Checkpoint.Height, b.Bitcoin.Checkpoint.Hash) {
					t.Fatalf("checkpoints %v: proved %v, tip %d, checkpoint %s", given, links, r.BitcoinTip, r.Checkpoint)
				}
				want := "Tests/WalletCoreTests" // the pinned Source
				if network == "testnet4" {
					want = "bathron"
				}
				if given != nil {
					want = "--checkpoint"
				}
				if !strings.Contains(links[verify.LinkCheckpoint], want) {
					t.Fatalf("checkpoint link says %q, want %q", links[verify.LinkCheckpoint], want)
				}
			}

			other := b
			other.Bitcoin.Checkpoint.Hash = strings.Repeat("0", 63) + "1"
			if r := verify.Verify(&other, verify.Options{Identity: &id}); r.FailedLink != verify.LinkCheckpoint {
				t.Fatalf("a checkpoint the verifier does not pin: failed %q (%s)", r.FailedLink, r.Error)
			}
		})
	}
}
