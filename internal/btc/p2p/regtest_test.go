package p2p_test

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/btcdtest"
	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/p2p"
	"github.com/hemi-go/hemi/internal/btc/peerserve"
	"github.com/hemi-go/hemi/internal/btc/regtest"
)

// TestRegtestNodeInProcess syncs from the embedded regtest node running in
// this same process (as devnet does) and broadcasts to it.
func TestRegtestNodeInProcess(t *testing.T) {
	t.Parallel()
	node, ctx, cancel := startRegtest(t, regtest.Config{})
	miner := btcdtest.DefaultMiningAddress()
	if _, err := node.Mine(110, miner); err != nil {
		t.Fatal(err)
	}
	ix, c := syncFrom(ctx, cancel, t, node)
	tip, _ := node.Tip()

	script, _ := txscript.PayToAddrScript(miner)
	coinbase := func(height int32) (*wire.MsgTx, uint32) {
		hi, err := ix.HeaderByHeight(height, tip)
		if err != nil {
			t.Fatal(err)
		}
		blk, err := ix.Block(hi.Hash)
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range blk.Transactions[0].TxOut {
			if bytes.Equal(o.PkScript, script) {
				return blk.Transactions[0], uint32(i)
			}
		}
		t.Fatalf("coinbase %d does not pay the miner", height)
		return nil, 0
	}
	cb, idx := coinbase(1)
	valid := signSpend(t, cb, idx, wire.NewTxOut(cb.TxOut[idx].Value-10_000, script))
	res, err := c.Broadcast(context.Background(), valid)
	if err != nil || !res.OK() {
		t.Fatalf("Broadcast(valid) = %s, %v", res, err)
	}
	op81 := append([]byte{txscript.OP_RETURN, txscript.OP_PUSHDATA1, 81}, bytes.Repeat([]byte{1}, 81)...)
	cb2, idx2 := coinbase(2)
	bad := signSpend(t, cb2, idx2, wire.NewTxOut(cb2.TxOut[idx2].Value-10_000, script), wire.NewTxOut(0, op81))
	res, err = c.Broadcast(context.Background(), bad)
	if err != nil || res.OK() || len(res.Rejected) != 1 || res.Rejected[0].Code != wire.RejectNonstandard {
		t.Fatalf("Broadcast(81-byte OP_RETURN) = %s, %v; want one nonstandard rejection", res, err)
	}
	t.Logf("rejection: %+v", res.Rejected[0])

	hs, err := node.Mine(1, miner)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "mined block indexed", func() bool { h, _ := ix.BlockTip(); return h == hs[0] })
	if info, err := ix.TxByID(valid.TxHash(), hs[0]); err != nil || info.Confirmations != 1 {
		t.Errorf("TxByID(valid) = %+v, %v", info, err)
	}
}

// TestRegtestNodePastIdleConnections: our client syncs from the embedded
// regtest node while more idle connections than its peer slots sit
// unfinished in the handshake (before: they filled the slots until btcd's
// 30 s negotiation timeout and the client was refused).
func TestRegtestNodePastIdleConnections(t *testing.T) {
	t.Parallel()
	// A handshake timeout longer than the test, so only the server's
	// eviction of the oldest unfinished handshake lets the client in.
	node, ctx, cancel := startRegtest(t, regtest.Config{P2PLimits: peerserve.Limits{HandshakeTimeout: time.Hour}})
	if _, err := node.Mine(20, btcdtest.DefaultMiningAddress()); err != nil {
		t.Fatal(err)
	}
	for range peerserve.DefaultMaxPeers + 5 {
		conn, err := net.Dial("tcp", node.P2PAddr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
	}
	syncFrom(ctx, cancel, t, node)
	if n := node.PeerCount(); n != 1 {
		t.Fatalf("node has %d peers, want 1 (idle connections are not peers)", n)
	}
}

// syncFrom opens an empty index, runs our P2P client (returned with it) against node until
// the index reaches the node's tip, and stops both (through cancel) when
// the test ends.
func syncFrom(ctx context.Context, cancel context.CancelFunc, t *testing.T, node *regtest.Node) (*index.Index, *p2p.Client) {
	t.Helper()
	params := node.Params()
	ix, err := index.Open(index.Config{Dir: t.TempDir(), Params: params, Logger: logger()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := p2p.New(p2p.Config{Params: params, Peers: []string{node.P2PAddr()}, Logger: logger()}, ix)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		_ = ix.Close()
	})
	tip, _ := node.Tip()
	waitUntil(t, 30*time.Second, "index at the node's tip", func() bool { h, _ := ix.BlockTip(); return h == tip })
	return ix, c
}

// startRegtest runs the embedded regtest node of cfg (the test's logger
// filled in) in this process until the test ends; cancel stops it early
// (syncFrom takes it to stop the sync).
func startRegtest(t *testing.T, cfg regtest.Config) (*regtest.Node, context.Context, context.CancelFunc) {
	t.Helper()
	cfg.Logger = logger()
	node, err := regtest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	nodeDone := make(chan error, 1)
	go func() { nodeDone <- node.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-nodeDone
		_ = node.Close()
	})
	return node, ctx, cancel
}
