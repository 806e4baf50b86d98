package regtest

import (
	"errors"
	"testing"
)

// TestMineEmpty: a reorg returns a transaction to the mempool; MineEmpty
// builds a longer branch without it (it stays in the mempool) and the next
// Mine includes it.
func TestMineEmpty(t *testing.T) {
	n := newNode(t, Config{})
	w := newWallet(t, "empty")
	mine(t, n, 110, w.addr)
	tx := w.spend(t, []utxo{coinbaseUTXO(t, n, 1)}, 10_000)
	if err := n.SubmitTx(tx); err != nil {
		t.Fatal(err)
	}
	held := mine(t, n, 1, w.addr)
	if err := n.InvalidateBlock(held[0]); err != nil {
		t.Fatal(err)
	}
	empty, err := n.MineEmpty(2, w.addr)
	if err != nil {
		t.Fatal(err)
	}
	if tip, height := n.Tip(); height != 112 || tip != empty[1] {
		t.Fatalf("tip %s@%d, want the empty branch's %s@112", tip, height, empty[1])
	}
	for _, h := range empty {
		b, err := n.Block(h)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Transactions) != 1 {
			t.Fatalf("empty block %s holds %d transactions", h, len(b.Transactions))
		}
	}
	if _, err := n.MempoolTx(tx.TxHash()); err != nil {
		t.Fatalf("the returned tx left the mempool: %v", err)
	}
	next := mine(t, n, 1, w.addr)
	b, err := n.Block(next[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Transactions) != 2 || b.Transactions[1].TxHash() != tx.TxHash() {
		t.Fatal("the next ordinary block did not mine the returned tx")
	}

	errs := []struct {
		name  string
		count int
	}{
		{name: "zero blocks", count: 0},
		{name: "too many blocks", count: MaxMinePerCall + 1},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := n.MineEmpty(tc.count, w.addr); !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
		})
	}
	if _, err := n.MineEmpty(1, nil); !errors.Is(err, ErrConfig) {
		t.Fatalf("nil address: err = %v, want ErrConfig", err)
	}
}
