package regtest

import (
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
)

// fanOut splits matured coinbases into at least count wallet outputs,
// confirmed.
func fanOut(b *testing.B, n *Node, w *wallet, count int) []utxo {
	b.Helper()
	const perTx = 500
	need := (count + perTx - 1) / perTx
	mine(b, n, need+100, w.addr)
	var out []utxo
	for i := range need {
		cb := coinbaseUTXO(b, n, int32(i+1))
		outs := make([]*wire.TxOut, perTx-2)
		for j := range outs {
			outs[j] = wire.NewTxOut(cb.value/perTx, w.script)
		}
		tx := w.spend(b, []utxo{cb}, 200_000, outs...)
		if err := n.SubmitTx(tx); err != nil {
			b.Fatal(err)
		}
		out = append(out, w.outputs(tx)...)
	}
	mine(b, n, 1, w.addr)
	return out
}

// BenchmarkSubmitTx measures mempool acceptance (full script validation)
// of one-input P2WPKH spends.
func BenchmarkSubmitTx(b *testing.B) {
	n := newNode(b, Config{})
	w := newWallet(b, "bench-submit")
	utxos := fanOut(b, n, w, b.N)
	txs := make([]*wire.MsgTx, b.N)
	for i := range txs {
		txs[i] = w.spend(b, utxos[i:i+1], 1_000)
	}
	b.ResetTimer()
	for i := range b.N {
		if err := n.SubmitTx(txs[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMine measures mining blocks of 100 mempool transactions.
func BenchmarkMine(b *testing.B) {
	const perBlock = 100
	n := newNode(b, Config{})
	w := newWallet(b, "bench-mine")
	utxos := fanOut(b, n, w, b.N*perBlock)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		for j := range perBlock {
			k := i*perBlock + j
			if err := n.SubmitTx(w.spend(b, utxos[k:k+1], 1_000)); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		mine(b, n, 1, w.addr)
	}
}
