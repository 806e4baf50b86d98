package regtest

import (
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/btcdtest"
)

// buildChain mines count blocks to w, with transactions in most blocks once
// coinbases mature: coinbase spends, spends of earlier outputs and
// OP_RETURNs. It returns the wallet's unspent outputs.
func buildChain(t testing.TB, n *Node, w *wallet, count int) []utxo {
	t.Helper()
	mine(t, n, 101, w.addr)
	var pool []utxo
	for i := 101; i < count; i++ {
		_, height := n.Tip()
		cb := coinbaseUTXO(t, n, height-100)
		var extra []*wire.TxOut
		if i%5 == 0 {
			extra = append(extra, opReturn(t, 80))
		}
		tx := w.spend(t, []utxo{cb}, 5_000, extra...)
		if err := n.SubmitTx(tx); err != nil {
			t.Fatalf("block %d: coinbase spend: %v", i+1, err)
		}
		outs := w.outputs(tx)
		if len(pool) >= 2 && i%3 == 0 {
			// A two-input spend of older outputs.
			child := w.spend(t, pool[:2], 5_000)
			if err := n.SubmitTx(child); err != nil {
				t.Fatalf("block %d: child spend: %v", i+1, err)
			}
			pool = append(pool[2:], w.outputs(child)...)
		}
		pool = append(pool, outs...)
		mine(t, n, 1, w.addr)
	}
	return pool
}

// TestBtcdSyncsFromNode has a real btcd sync a 300-block chain with
// transactions from the embedded node over P2P, follow a depth-6 reorg made
// with InvalidateBlock, and relay transactions both ways.
func TestBtcdSyncsFromNode(t *testing.T) {
	t.Parallel()
	n := newNode(t, Config{})
	w := newWallet(t, "btcd-sync")
	pool := buildChain(t, n, w, 300)
	runNode(t, n)

	b := btcdtest.Start(t, btcdtest.Options{TxIndex: true})
	b.Connect(n.P2PAddr())
	tip, height := n.Tip()
	if height != 300 {
		t.Fatalf("our height = %d, want 300", height)
	}
	b.WaitForTip(tip)
	for _, h := range []int32{1, 101, 150, 299} {
		ours, _ := n.HashAt(h)
		theirs, err := b.RPC().GetBlockHash(int64(h))
		if err != nil {
			t.Fatal(err)
		}
		if *theirs != ours {
			t.Fatalf("block %d: btcd %s, ours %s", h, theirs, ours)
		}
	}
	// btcd validated and indexed our transactions.
	last, _ := n.Block(tip)
	if len(last.Transactions) < 2 {
		t.Fatalf("tip block has %d txs, want transactions", len(last.Transactions))
	}
	if _, err := b.RPC().GetRawTransaction(ptr(last.Transactions[1].TxHash())); err != nil {
		t.Fatalf("btcd does not know our tx: %v", err)
	}

	t.Run("reorg depth 6", func(t *testing.T) {
		at295, _ := n.HashAt(295)
		if err := n.InvalidateBlock(at295); err != nil {
			t.Fatal(err)
		}
		fork := mine(t, n, 7, newWallet(t, "fork").addr)
		b.WaitForTip(fork[6])
		if _, h := b.Tip(); h != 301 {
			t.Fatalf("btcd height after reorg = %d, want 301", h)
		}
	})

	t.Run("our tx relayed to btcd", func(t *testing.T) {
		tx := w.spend(t, pool[:1], 5_000)
		pool = pool[1:]
		if err := n.SubmitTx(tx); err != nil {
			t.Fatal(err)
		}
		b.WaitForMempool(tx.TxHash())
	})

	t.Run("btcd tx relayed to us", func(t *testing.T) {
		tx := w.spend(t, pool[:1], 5_000)
		pool = pool[1:]
		txid := b.SendRawTx(tx)
		waitFor(t, func() bool { _, err := n.MempoolTx(txid); return err == nil }, "btcd's tx in our mempool")
	})

	t.Run("btcd mines on our chain and we follow", func(t *testing.T) {
		hs := b.Generate(2)
		want := *hs[1]
		waitFor(t, func() bool { h, _ := n.Tip(); return h == want }, "btcd's block as our tip")
		bt, bh := b.Tip()
		ot, oh := n.Tip()
		t.Logf("btcd tip %s@%d, ours %s@%d, tip txs %d", bt, bh, ot, oh, len(last.Transactions))
		if len(n.MempoolTxids()) != 0 {
			t.Fatalf("mempool has %d txs after btcd mined them", len(n.MempoolTxids()))
		}
	})

	t.Run("btcd's longer fork wins on reconnect", func(t *testing.T) {
		b.Disconnect(n.P2PAddr())
		ours := mine(t, n, 1, w.addr)
		theirs := b.Generate(3)
		want := *theirs[2]
		b.Connect(n.P2PAddr())
		waitFor(t, func() bool { h, _ := n.Tip(); return h == want }, "btcd's fork as our tip")
		if _, ok := n.HeightOf(ours[0]); ok {
			t.Fatal("our losing block is still on the best chain")
		}
	})
}

func ptr(h chainhash.Hash) *chainhash.Hash { return &h }
