package btcdtest

import (
	"context"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/testtools"
)

// DefaultWait bounds each TestNode wait helper.
const DefaultWait = 60 * time.Second

// TestNode is a Node bound to a test: its helpers fail the test instead of
// returning errors, so they must be called from the test's goroutine.
type TestNode struct {
	*Node
	t testing.TB
}

// Start starts btcd for t and stops it at cleanup, printing the last lines
// of its log if t failed. It skips t when the btcd binary is absent.
func Start(t testing.TB, opts Options) *TestNode {
	t.Helper()
	if opts.Binary == "" {
		opts.Binary = testtools.Tool(t, "btcd")
	}
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	n, err := StartProcess(ctx, opts)
	if err != nil {
		t.Fatalf("btcdtest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("btcd %s log tail:\n%s", n.P2PAddr(), n.LogTail(60))
		}
		if err := n.Stop(); err != nil {
			t.Errorf("btcdtest: stop: %v", err)
		}
	})
	return &TestNode{Node: n, t: t}
}

func (tn *TestNode) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), DefaultWait)
}

// Generate mines count blocks and returns their hashes.
func (tn *TestNode) Generate(count uint32) []*chainhash.Hash {
	tn.t.Helper()
	hs, err := tn.Node.Generate(count)
	if err != nil {
		tn.t.Fatalf("btcdtest: %v", err)
	}
	return hs
}

// Tip returns btcd's best block hash and height.
func (tn *TestNode) Tip() (chainhash.Hash, int32) {
	tn.t.Helper()
	h, height, err := tn.Node.Tip()
	if err != nil {
		tn.t.Fatalf("btcdtest: %v", err)
	}
	return *h, height
}

// Connect connects btcd to addr and waits for the handshake.
func (tn *TestNode) Connect(addr string) {
	tn.t.Helper()
	ctx, cancel := tn.ctx()
	defer cancel()
	if err := tn.Node.Connect(ctx, addr); err != nil {
		tn.t.Fatalf("btcdtest: %v", err)
	}
}

// Disconnect drops btcd's connection to addr and waits until it is gone.
func (tn *TestNode) Disconnect(addr string) {
	tn.t.Helper()
	ctx, cancel := tn.ctx()
	defer cancel()
	if err := tn.Node.Disconnect(ctx, addr); err != nil {
		tn.t.Fatalf("btcdtest: %v", err)
	}
}

// WaitForHeight waits until btcd's best height is at least height.
func (tn *TestNode) WaitForHeight(height int32) {
	tn.t.Helper()
	ctx, cancel := tn.ctx()
	defer cancel()
	if err := tn.Node.WaitForHeight(ctx, height); err != nil {
		tn.t.Fatalf("btcdtest: %v", err)
	}
}

// WaitForTip waits until btcd's best block is hash.
func (tn *TestNode) WaitForTip(hash chainhash.Hash) {
	tn.t.Helper()
	ctx, cancel := tn.ctx()
	defer cancel()
	if err := tn.Node.WaitForTip(ctx, hash); err != nil {
		tn.t.Fatalf("btcdtest: %v", err)
	}
}

// WaitForMempool waits until txid is in btcd's mempool.
func (tn *TestNode) WaitForMempool(txid chainhash.Hash) {
	tn.t.Helper()
	ctx, cancel := tn.ctx()
	defer cancel()
	if err := tn.Node.WaitForMempool(ctx, txid); err != nil {
		tn.t.Fatalf("btcdtest: %v", err)
	}
}

// SendRawTx submits tx to btcd's mempool and returns its txid.
func (tn *TestNode) SendRawTx(tx *wire.MsgTx) chainhash.Hash {
	tn.t.Helper()
	h, err := tn.Node.SendRawTx(tx)
	if err != nil {
		tn.t.Fatalf("btcdtest: %v", err)
	}
	return *h
}
