package devnettest

import (
	"strings"
	"testing"
	"time"

	"github.com/hemi-go/hemi/internal/devnet"
	"github.com/hemi-go/hemi/internal/signer"
)

// TestDevnetSigners: the devnet runs the dev committee's three signers
// against its own JSON-RPC; each steps cleanly over the real node (no
// batch open: nothing to sign), the batch reads over JSON-RPC as "none",
// and a post for a batch that is not open is refused by the predeploy
// (the estimate fails) rather than sent.
func TestDevnetSigners(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a regtest node, an indexer and an L2")
	}
	e := startTunnelEnv(t, 2*time.Minute, StackConfig{L2BlockTime: time.Second, KeystoneInterval: 2, RPC: true, PoPM: devnet.PoPMConfig{Off: true}})
	if len(e.Signers) != 3 {
		t.Fatalf("%d signers running, want the dev committee's 3", len(e.Signers))
	}
	seen := map[uint8]bool{}
	for _, sg := range e.Signers {
		seen[sg.Index()] = true
	}
	if len(seen) != 3 {
		t.Fatalf("signer indexes %v", seen)
	}
	if _, err := e.WaitL2(e.ctx, 2); err != nil {
		t.Fatal(err)
	}
	b, head, err := signer.ReadBatch(e.ctx, e.c, e.tc.TunnelAddress)
	if err != nil || b.Number != 0 || head < 2 {
		t.Fatalf("batch %+v at %d: %v", b, head, err)
	}
	n, err := signer.DialRPCNode(e.ctx, e.RPCURL, nil, e.tc.TunnelAddress, e.L2.Accounts[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if open, err := n.OpenBatch(e.ctx); err != nil || open != nil {
		t.Fatalf("open batch %+v: %v", open, err)
	}
	if _, err := n.Finalized(e.ctx); err != nil {
		t.Fatal(err)
	}
	if posted, err := n.Posted(e.ctx, 1, 0); err != nil || len(posted) != 0 {
		t.Fatalf("posted %v: %v", posted, err)
	}
	sigs := [][]byte{make([]byte, 64)}
	if err := n.Post(e.ctx, 1, 0, 0, sigs); err == nil || !strings.Contains(err.Error(), "estimate") {
		t.Fatalf("post for a batch that is not open: %v", err)
	}
}
