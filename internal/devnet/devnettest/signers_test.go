package devnettest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/ethclient"

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
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := StartStack(ctx, StackConfig{L2BlockTime: time.Second, KeystoneInterval: 2, RPC: true, PoPM: devnet.PoPMConfig{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.Signers) != 3 {
		t.Fatalf("%d signers running, want the dev committee's 3", len(s.Signers))
	}
	seen := map[uint8]bool{}
	for _, sg := range s.Signers {
		seen[sg.Index()] = true
	}
	if len(seen) != 3 {
		t.Fatalf("signer indexes %v", seen)
	}
	if _, err := s.WaitL2(ctx, 2); err != nil {
		t.Fatal(err)
	}
	c, err := ethclient.DialContext(ctx, s.RPCURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tc := s.L2.File.Config.Tunnel
	b, head, err := signer.ReadBatch(ctx, c, tc.TunnelAddress)
	if err != nil || b.Number != 0 || head < 2 {
		t.Fatalf("batch %+v at %d: %v", b, head, err)
	}
	n, err := signer.DialRPCNode(ctx, s.RPCURL, nil, tc.TunnelAddress, s.L2.Accounts[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if open, err := n.OpenBatch(ctx); err != nil || open != nil {
		t.Fatalf("open batch %+v: %v", open, err)
	}
	if _, err := n.Finalized(ctx); err != nil {
		t.Fatal(err)
	}
	if posted, err := n.Posted(ctx, 1, 0); err != nil || len(posted) != 0 {
		t.Fatalf("posted %v: %v", posted, err)
	}
	sigs := [][]byte{make([]byte, 64)}
	if err := n.Post(ctx, 1, 0, 0, sigs); err == nil || !strings.Contains(err.Error(), "estimate") {
		t.Fatalf("post for a batch that is not open: %v", err)
	}
}
