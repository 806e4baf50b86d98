package peerserve

import (
	"testing"
	"time"

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

// TestBtcdSyncsPastIdleConnections: a real btcd connects and syncs while
// more idle connections than peer slots sit in the handshake (before, they
// held every slot until btcd's 30 s negotiation timeout and btcd was
// refused).
func TestBtcdSyncsPastIdleConnections(t *testing.T) {
	t.Parallel()
	src := newMemSource(t)
	src.mine(t, 0, 300, 0)
	srv := startLimitServer(t, src, Limits{HandshakeTimeout: 10 * time.Minute})
	idleConns(t, srv.Addr(), DefaultMaxPeers+5)
	node := btcdtest.Start(t, btcdtest.Options{})

	node.Connect(srv.Addr())
	tip, _ := src.Tip()
	node.WaitForTip(tip)
	srv.waitMetric(t, 1, "hemi_btc_peerserve_peers")
}
