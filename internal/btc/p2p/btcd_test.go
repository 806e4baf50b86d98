package p2p_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/btcdtest"
	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/p2p"
)

func logger() *slog.Logger {
	if os.Getenv("P2P_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBtcdSyncIndexAndBroadcast syncs a real btcd's chain into the real
// index through the client, broadcasts valid and invalid transactions to
// btcd, and follows the block that mines the valid one.
func TestBtcdSyncIndexAndBroadcast(t *testing.T) {
	t.Parallel()
	params := &chaincfg.RegressionNetParams
	node := btcdtest.Start(t, btcdtest.Options{})
	node.Generate(210)
	want, wantHeight := node.Tip()

	ix, err := index.Open(index.Config{Dir: t.TempDir(), Params: params, Logger: logger()})
	if err != nil {
		t.Fatalf("open index: %v", err)
	}
	// btcd ignores getheaders while it does not consider itself current;
	// a short HeadersTimeout makes the client ask again soon.
	c, err := p2p.New(p2p.Config{Params: params, Peers: []string{node.P2PAddr()}, Logger: logger(),
		BroadcastTimeout: 20 * time.Second, HeadersTimeout: 2 * time.Second}, ix)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := ix.Close(); err != nil {
			t.Errorf("close index: %v", err)
		}
	})

	waitUntil(t, 60*time.Second, "index at btcd's tip", func() bool {
		h, height := ix.BlockTip()
		return h == want && height == wantHeight
	})
	for _, height := range []int32{1, 100, wantHeight} {
		bh, err := node.RPC().GetBlockHash(int64(height))
		if err != nil {
			t.Fatal(err)
		}
		hi, err := ix.HeaderByHeight(height, want)
		if err != nil || hi.Hash != *bh {
			t.Errorf("height %d: index %v (%v), btcd %s", height, hi.Hash, err, bh)
		}
	}
	waitUntil(t, 10*time.Second, "synced progress", func() bool { return c.Progress().Synced })

	// Spendable coinbases of blocks 1 and 2 pay btcdtest's mining key.
	spendable := func(height int32) (*wire.MsgTx, uint32) {
		hi, err := ix.HeaderByHeight(height, want)
		if err != nil {
			t.Fatal(err)
		}
		blk, err := ix.Block(hi.Hash)
		if err != nil {
			t.Fatal(err)
		}
		cb := blk.Transactions[0]
		script, err := txscript.PayToAddrScript(btcdtest.DefaultMiningAddress())
		if err != nil {
			t.Fatal(err)
		}
		for i, out := range cb.TxOut {
			if bytes.Equal(out.PkScript, script) {
				return cb, uint32(i)
			}
		}
		t.Fatalf("coinbase of block %d does not pay the mining key", height)
		return nil, 0
	}
	cb1, i1 := spendable(1)
	cb2, i2 := spendable(2)
	payBack, _ := txscript.PayToAddrScript(btcdtest.DefaultMiningAddress())
	valid := signSpend(t, cb1, i1, wire.NewTxOut(cb1.TxOut[i1].Value-10_000, payBack))
	double := signSpend(t, cb1, i1, wire.NewTxOut(cb1.TxOut[i1].Value-20_000, payBack))
	opReturn81, err := txscript.NullDataScript(bytes.Repeat([]byte{0x48}, 81))
	if err != nil {
		// NullDataScript refuses over-long data; build the script by hand.
		opReturn81 = append([]byte{txscript.OP_RETURN, txscript.OP_PUSHDATA1, 81}, bytes.Repeat([]byte{0x48}, 81)...)
	}
	nonstd := signSpend(t, cb2, i2, wire.NewTxOut(cb2.TxOut[i2].Value-10_000, payBack), wire.NewTxOut(0, opReturn81))

	tests := []struct {
		name       string
		tx         *wire.MsgTx
		accepted   bool
		code       wire.RejectCode
		reasonPart string
	}{
		{name: "valid spend", tx: valid, accepted: true},
		{name: "double spend", tx: double, code: wire.RejectDuplicate, reasonPart: "already spent"},
		{name: "81-byte OP_RETURN", tx: nonstd, code: wire.RejectNonstandard, reasonPart: "non-standard"},
	}
	for _, tt := range tests {
		// Sequential: the double spend needs the valid spend in the mempool.
		res, err := c.Broadcast(context.Background(), tt.tx)
		if err != nil {
			t.Fatalf("%s: Broadcast: %v", tt.name, err)
		}
		t.Logf("%s: %s", tt.name, res)
		if res.OK() != tt.accepted {
			t.Errorf("%s: accepted = %v, want %v (%s)", tt.name, res.OK(), tt.accepted, res)
		}
		if tt.accepted {
			node.WaitForMempool(tt.tx.TxHash())
			pool, err := node.RPC().GetRawMempool()
			if err != nil {
				t.Fatal(err)
			}
			if !containsHash(pool, tt.tx.TxHash()) {
				t.Errorf("%s: %s not in btcd's getrawmempool", tt.name, tt.tx.TxHash())
			}
			continue
		}
		if len(res.Rejected) != 1 || res.Rejected[0].Code != tt.code ||
			!strings.Contains(res.Rejected[0].Reason, tt.reasonPart) {
			t.Errorf("%s: rejected = %+v, want code %v with %q", tt.name, res.Rejected, tt.code, tt.reasonPart)
		}
	}

	// btcd mines the valid spend; the client follows the announcement.
	hs := node.Generate(1)
	waitUntil(t, 30*time.Second, "index at the new block", func() bool {
		h, _ := ix.BlockTip()
		return h == *hs[0]
	})
	info, err := ix.TxByID(valid.TxHash(), *hs[0])
	if err != nil || info.Confirmations != 1 {
		t.Errorf("TxByID(valid) = %+v, %v; want one confirmation", info, err)
	}
}

func containsHash(hs []*chainhash.Hash, h chainhash.Hash) bool {
	for _, x := range hs {
		if *x == h {
			return true
		}
	}
	return false
}

// signSpend spends output idx of prev (a P2WPKH of btcdtest's mining key).
func signSpend(t *testing.T, prev *wire.MsgTx, idx uint32, outs ...*wire.TxOut) *wire.MsgTx {
	t.Helper()
	prevOut := prev.TxOut[idx]
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(wire.NewTxIn(wire.NewOutPoint(ptr(prev.TxHash()), idx), nil, nil))
	for _, o := range outs {
		tx.AddTxOut(o)
	}
	fetcher := txscript.NewCannedPrevOutputFetcher(prevOut.PkScript, prevOut.Value)
	wit, err := txscript.WitnessSignature(tx, txscript.NewTxSigHashes(tx, fetcher), 0, prevOut.Value,
		prevOut.PkScript, txscript.SigHashAll, btcdtest.DefaultMiningKey(), true)
	if err != nil {
		t.Fatal(err)
	}
	tx.TxIn[0].Witness = wit
	return tx
}

func ptr[T any](v T) *T { return &v }

// TestBtcdReorg follows a reorg of depth 6 on a real btcd: the client's
// peer mines a short branch, then learns a longer one from a second btcd.
func TestBtcdReorg(t *testing.T) {
	t.Parallel()
	params := &chaincfg.RegressionNetParams
	a := btcdtest.Start(t, btcdtest.Options{})
	b := btcdtest.Start(t, btcdtest.Options{})
	a.Generate(20)
	b.Connect(a.P2PAddr())
	base, _ := a.Tip()
	b.WaitForTip(base)
	b.Disconnect(a.P2PAddr())

	ix, err := index.Open(index.Config{Dir: t.TempDir(), Params: params, Logger: logger()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := p2p.New(p2p.Config{Params: params, Peers: []string{a.P2PAddr()}, Logger: logger(),
		HeadersTimeout: 2 * time.Second}, ix)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		_ = ix.Close()
	})

	a.Generate(6)
	short, _ := a.Tip()
	waitUntil(t, 30*time.Second, "short branch indexed", func() bool { h, _ := ix.BlockTip(); return h == short })

	b.Generate(9)
	long, longHeight := b.Tip()
	a.Connect(b.P2PAddr())
	a.WaitForTip(long)
	waitUntil(t, 30*time.Second, "long branch indexed", func() bool { h, _ := ix.BlockTip(); return h == long })
	if _, h := ix.BlockTip(); h != longHeight {
		t.Errorf("block tip height %d, want %d", h, longHeight)
	}
	if hdr, h := ix.BestHeader(); hdr != long || h != longHeight {
		t.Errorf("best header %s@%d, want %s@%d", hdr, h, long, longHeight)
	}
}
