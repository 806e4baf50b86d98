package popm

import (
	"fmt"
	"testing"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/mempool"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// referenceTx builds the PoP transaction shape of Hemi's reference miner
// (a P2PKH input, the OP_RETURN, P2PKH change), signed, for comparison.
func referenceTx(tb testing.TB, w *Wallet, coin Coin, script []byte, fee int64) *wire.MsgTx {
	tb.Helper()
	pkh, err := address.NewAddressPubKeyHash(address.Hash160(w.pub.SerializeCompressed()), &chaincfg.RegressionNetParams)
	if err != nil {
		tb.Fatal(err)
	}
	p2pkh, _ := txscript.PayToAddrScript(pkh)
	tx := wire.NewMsgTx(2)
	op := coin.OutPoint
	tx.AddTxIn(wire.NewTxIn(&op, nil, nil))
	tx.AddTxOut(wire.NewTxOut(0, script))
	tx.AddTxOut(wire.NewTxOut(coin.Value-fee, p2pkh))
	sig, err := txscript.SignatureScript(tx, 0, p2pkh, txscript.SigHashAll, w.priv, true)
	if err != nil {
		tb.Fatal(err)
	}
	tx.TxIn[0].SignatureScript = sig
	return tx
}

// BenchmarkPoPTx builds and signs PoP transactions and compares their
// size with the reference miner's shape built in the same run; the last
// line is `popm vsize_vb=<ours> reference_vb=<theirs> ratio=<ours/theirs>`.
func BenchmarkPoPTx(b *testing.B) {
	w := testWallet(b)
	ks := testKeystone(7)
	script := ks.Script()
	coin := Coin{OutPoint: wire.OutPoint{Hash: chainhash.Hash{1}}, Value: 1_000_000}
	var ours, ref int64
	for i := 0; b.Loop(); i++ {
		coin.OutPoint.Index = uint32(i)
		tx, err := w.BuildPoP(coin, script, 2*PoPVSize(P2WPKH))
		if err != nil {
			b.Fatal(err)
		}
		ours = max(ours, mempool.GetTxVirtualSize(btcutil.NewTx(tx)))
	}
	for i := range 64 {
		coin.OutPoint.Index = uint32(i)
		ref = max(ref, mempool.GetTxVirtualSize(btcutil.NewTx(referenceTx(b, w, coin, script, 1000))))
	}
	b.ReportMetric(float64(ours), "vB")
	b.ReportMetric(float64(ref), "ref_vB")
	fmt.Printf("popm vsize_vb=%d reference_vb=%d ratio=%.2f\n", ours, ref, float64(ours)/float64(ref))
}

// BenchmarkMachineKeystone is one keystone through the state machine:
// coin selection, build, sign, and the broadcast verdict.
func BenchmarkMachineKeystone(b *testing.B) {
	w := testWallet(b)
	var coins []Coin
	for i := range 100 {
		coins = append(coins, Coin{OutPoint: wire.OutPoint{Hash: chainhash.Hash{byte(i)}}, Value: 1_000_000})
	}
	m := NewMachine(MachineConfig{MaxFeeRate: 100, BumpBlocks: 1 << 30, MaxChain: 1}, w, State{})
	m.Step(TipEvent{Height: 1, Coins: coins, FeeRate: 2})
	n := uint64(0)
	for b.Loop() {
		n++
		out := m.Step(KeystoneEvent{testKS(n)})
		if len(out.Send) != 1 {
			b.Fatalf("no tx at %d", n)
		}
		m.Step(BroadcastEvent{Txid: out.Send[0].Txid, Verdict: VerdictAccepted})
		// Confirm it so coins and watched transactions stay bounded.
		m.Step(TipEvent{Height: int32(n) + 100, Coins: coins, FeeRate: 2,
			Mined: map[chainhash.Hash]Mined{out.Send[0].Txid: {Height: int32(n) + 1}}})
	}
}
