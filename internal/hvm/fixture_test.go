package hvm

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/txgen"
)

var regtest = &chaincfg.RegressionNetParams

// fixture is a deterministic, fully signed regtest chain (fixed seed,
// fixed timestamps) whose transactions pay every standard address type:
//
//	1..101  coinbases to key 0 (P2WPKH)
//	102     tx1 spends coinbase 1 to P2PKH, P2SH, P2WPKH, P2WSH, P2TR,
//	        an OP_RETURN and change
//	103     tx2 spends tx1:0 (P2PKH, a ~107-byte scriptSig) and tx1:4
//	        (P2TR) into 10 outputs, one of them an OP_RETURN at vout 1;
//	        custom sequences and locktime
//	104     tx3 spends tx2:0 (P2WPKH) to the P2WSH address again
//	105,106 coinbase only
//
// The view is block 106. fork() builds a heavier branch from block 103
// (blocks 104'..107') that leaves tx3 out.
type fixture struct {
	specs  []txgen.BlockSpec
	blocks []*wire.MsgBlock

	tx1, tx2, tx3 *wire.MsgTx
	addr          map[string]string // kind -> address string
	script        map[string][]byte // kind -> output script
	coinbaseAddr  string
}

var fixtureSeed = []byte("hvm golden fixture v0")

func buildFixture(t testing.TB) *fixture {
	t.Helper()
	w := txgen.NewWallet(fixtureSeed)
	k0, k1, k2, k3, k4, k5, k7, k8 := w.Key(0), w.Key(1), w.Key(2), w.Key(3), w.Key(4), w.Key(5), w.Key(7), w.Key(8)
	f := &fixture{addr: map[string]string{}, script: map[string][]byte{}}

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	pk := func(k *txgen.Key, kind txgen.Kind) []byte {
		s, err := k.PkScript(kind)
		must(err)
		return s
	}
	add := func(kind string, a address.Address) {
		s, err := txscript.PayToAddrScript(a)
		must(err)
		f.addr[kind], f.script[kind] = a.String(), s
	}
	pkh, err := address.NewAddressPubKeyHash(address.Hash160(k1.Pub.SerializeCompressed()), regtest)
	must(err)
	add("p2pkh", pkh)
	nested, err := address.NewAddressScriptHash(pk(k2, txgen.P2WPKH), regtest)
	must(err)
	add("p2sh", nested)
	wpkh, err := k3.Address(txgen.P2WPKH, regtest)
	must(err)
	add("p2wpkh", wpkh)
	wscript := append(append([]byte{txscript.OP_DATA_33}, k4.Pub.SerializeCompressed()...), txscript.OP_CHECKSIG)
	wsh := sha256.Sum256(wscript)
	wshAddr, err := address.NewAddressWitnessScriptHash(wsh[:], regtest)
	must(err)
	add("p2wsh", wshAddr)
	tr, err := k5.Address(txgen.P2TR, regtest)
	must(err)
	add("p2tr", tr)
	tr8, err := k8.Address(txgen.P2TR, regtest)
	must(err)
	add("p2tr-many", tr8)
	cbAddr, err := k0.Address(txgen.P2WPKH, regtest)
	must(err)
	f.coinbaseAddr = cbAddr.String()

	pay0 := pk(k0, txgen.P2WPKH)
	for range 101 {
		f.specs = append(f.specs, txgen.BlockSpec{PayTo: pay0})
	}

	// tx1 at 102: coinbase 1 to every address type.
	ch := txgen.NewChain(regtest)
	for _, s := range f.specs {
		b, err := ch.NextBlock(s)
		must(err)
		f.blocks = append(f.blocks, b)
	}
	cb1 := f.blocks[0].Transactions[0]
	opret, err := txgen.OpReturnScript([]byte("hemi hvm golden"))
	must(err)
	sp := txgen.Spend{
		Inputs: []txgen.UTXO{{OutPoint: wire.OutPoint{Hash: cb1.TxHash()}, Value: cb1.TxOut[0].Value, Key: k0, Kind: txgen.P2WPKH}},
		Outputs: []*wire.TxOut{
			wire.NewTxOut(1e8, f.script["p2pkh"]),
			wire.NewTxOut(2e8, f.script["p2sh"]),
			wire.NewTxOut(3e8, f.script["p2wpkh"]),
			wire.NewTxOut(4e8, f.script["p2wsh"]),
			wire.NewTxOut(5e8, f.script["p2tr"]),
			wire.NewTxOut(0, opret),
		},
		Change:  pay0,
		FeeRate: 2,
	}
	tx1, fee1, _, err := sp.Build()
	must(err)
	must(txgen.Sign(tx1, sp.Inputs))
	f.tx1 = tx1
	f.next(t, ch, txgen.BlockSpec{PayTo: pay0, Txs: []*wire.MsgTx{tx1}, Fees: fee1})

	// tx2 at 103: a legacy P2PKH input and a taproot input, 10 outputs.
	tx2 := wire.NewMsgTx(2)
	tx2.LockTime = 102
	tx2.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: tx1.TxHash(), Index: 0}, Sequence: 0xfffffffd})
	tx2.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: tx1.TxHash(), Index: 4}, Sequence: 0xfffffffe})
	opret2, err := txgen.OpReturnScript([]byte("second"))
	must(err)
	tx2.AddTxOut(wire.NewTxOut(5e7, pk(k7, txgen.P2WPKH)))
	tx2.AddTxOut(wire.NewTxOut(0, opret2))
	for range 7 {
		tx2.AddTxOut(wire.NewTxOut(1e7, f.script["p2tr-many"]))
	}
	const fee2 = 10_000
	tx2.AddTxOut(wire.NewTxOut(6e8-5e7-7e7-fee2, f.script["p2pkh"]))
	prev := txscript.NewMultiPrevOutFetcher(nil)
	prev.AddPrevOut(tx2.TxIn[0].PreviousOutPoint, tx1.TxOut[0])
	prev.AddPrevOut(tx2.TxIn[1].PreviousOutPoint, tx1.TxOut[4])
	hashes := txscript.NewTxSigHashes(tx2, prev)
	sig0, err := txscript.SignatureScript(tx2, 0, tx1.TxOut[0].PkScript, txscript.SigHashAll, k1.Priv, true)
	must(err)
	tx2.TxIn[0].SignatureScript = sig0
	wit1, err := txscript.TaprootWitnessSignature(tx2, hashes, 1, tx1.TxOut[4].Value, tx1.TxOut[4].PkScript, txscript.SigHashDefault, k5.Priv)
	must(err)
	tx2.TxIn[1].Witness = wit1
	for i, in := range tx2.TxIn {
		out := prev.FetchPrevOutput(in.PreviousOutPoint)
		vm, err := txscript.NewEngine(out.PkScript, tx2, i, txscript.StandardVerifyFlags, nil, hashes, out.Value, prev)
		must(err)
		must(vm.Execute())
	}
	f.tx2 = tx2
	f.next(t, ch, txgen.BlockSpec{PayTo: pay0, Txs: []*wire.MsgTx{tx2}, Fees: fee2})

	// tx3 at 104: spends tx2:0.
	sp3 := txgen.Spend{
		Inputs:  []txgen.UTXO{{OutPoint: wire.OutPoint{Hash: tx2.TxHash()}, Value: 5e7, Key: k7, Kind: txgen.P2WPKH}},
		Outputs: []*wire.TxOut{wire.NewTxOut(4e7, f.script["p2wsh"])},
		Change:  pay0,
		FeeRate: 3,
	}
	tx3, fee3, _, err := sp3.Build()
	must(err)
	must(txgen.Sign(tx3, sp3.Inputs))
	must(txgen.Verify(tx3, sp3.Inputs))
	f.tx3 = tx3
	f.next(t, ch, txgen.BlockSpec{PayTo: pay0, Txs: []*wire.MsgTx{tx3}, Fees: fee3})
	f.next(t, ch, txgen.BlockSpec{PayTo: pay0})
	f.next(t, ch, txgen.BlockSpec{PayTo: pay0})
	return f
}

func (f *fixture) next(t testing.TB, ch *txgen.Chain, s txgen.BlockSpec) {
	t.Helper()
	b, err := ch.NextBlock(s)
	if err != nil {
		t.Fatal(err)
	}
	f.specs = append(f.specs, s)
	f.blocks = append(f.blocks, b)
}

// tip is the fixture's view block (106).
func (f *fixture) tip() chainhash.Hash { return f.blocks[len(f.blocks)-1].BlockHash() }

// fork returns blocks 104'..107' on top of block 103: a heavier branch
// without tx3 (different coinbase nonces give different blocks).
func (f *fixture) fork(t testing.TB) []*wire.MsgBlock {
	t.Helper()
	ch := txgen.NewChain(regtest)
	for _, s := range f.specs[:103] {
		if _, err := ch.NextBlock(s); err != nil {
			t.Fatal(err)
		}
	}
	if h, _ := ch.Tip(); h != f.blocks[102].BlockHash() {
		t.Fatalf("fork replay diverged at 103: %s", h)
	}
	var out []*wire.MsgBlock
	for i := range 4 {
		b, err := ch.NextBlock(txgen.BlockSpec{PayTo: f.specs[0].PayTo, ExtraNonce: uint64(100 + i)})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// openIndex stores blocks in a fresh index and waits until its tip is the
// last of them.
func openIndex(t testing.TB, dir string) *index.Index {
	t.Helper()
	ix, err := index.Open(index.Config{Dir: dir, Params: regtest, MaxBatchDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return ix
}
