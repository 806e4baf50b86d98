package peerserve

import (
	"testing"

	"github.com/hemi-go/hemi/internal/btc/btcdtest"
)

// TestBtcdSyncs has a real btcd sync from the server: more than one
// getblocks batch (the continue-hash path), then new tips announced by inv,
// then a reorg.
func TestBtcdSyncs(t *testing.T) {
	t.Parallel()
	src := newMemSource(t)
	src.mine(t, 0, 1200, 0)
	srv := startServer(t, src)
	node := btcdtest.Start(t, btcdtest.Options{})

	node.Connect(srv.Addr())
	tip, _ := src.Tip()
	node.WaitForTip(tip)

	mined := src.mine(t, 1200, 3, 0)
	node.WaitForTip(mined[2])

	fork := src.mine(t, 1201, 4, 1) // replaces 1202..1203 with 1202..1205
	node.WaitForTip(fork[3])
	if _, h := node.Tip(); h != 1205 {
		t.Fatalf("btcd height = %d, want 1205", h)
	}
}
