package integration

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/btcdtest"
	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/pop"
)

const (
	coinbaseMaturity = 100
	feeRate          = 3     // sat/vB, above btcd's 1 sat/vB relay minimum
	minCoin          = 50000 // wallet outputs below this are not spent again
	walletKeys       = 8
	holdKeys         = 2 // the last keys only receive: their UTXO sets grow
)

// miningScript pays btcdtest's default mining address, where every btcd of
// these tests mines.
var miningScript = mustScript(btcdtest.DefaultMiningAddress())

func mustScript(a address.Address) []byte {
	s, err := txscript.PayToAddrScript(a)
	if err != nil {
		panic(fmt.Sprintf("script of %s: %v", a, err)) // a valid address always has one
	}
	return s
}

// coinbase is an unspent coinbase output of the mining key.
type coinbase struct {
	height int32
	op     wire.OutPoint
	value  int64
}

// published records one PoP publication the wallet sent.
type published struct {
	keystone [32]byte
	op       wire.OutPoint
}

// wallet builds the test's transactions and sends them to one btcd. It
// spends matured coinbases of btcdtest's mining key into its own keys
// (even indexes P2WPKH, odd P2TR), and chains of spends between those keys;
// the last holdKeys keys only receive, so their UTXO sets grow.
// It tracks what it may spend as btcd sees it (chain and mempool); clone it
// when two btcd nodes go separate ways. It is used from the test goroutine
// only.
type wallet struct {
	t     *testing.T
	keys  []*txgen.Key
	kinds []txgen.Kind
	rng   *rand.Rand

	tip       int32      // height of the chain the wallet's node is on
	coinbases []coinbase // unspent, oldest first
	coins     []txgen.UTXO
	nextKey   int

	sent []chainhash.Hash // every transaction sent, in order
	pubs []published
}

// newWallet returns a wallet over the test keys derived from seed.
func newWallet(t *testing.T, seed string) *wallet {
	w := &wallet{t: t, rng: rand.New(rand.NewPCG(1, uint64(len(seed))))}
	ws := txgen.NewWallet([]byte(seed))
	for i := range walletKeys {
		w.keys = append(w.keys, ws.Key(uint32(i)))
		kind := txgen.P2WPKH
		if i%2 == 1 {
			kind = txgen.P2TR
		}
		w.kinds = append(w.kinds, kind)
	}
	return w
}

// clone returns an independent copy whose random choices follow seed, for
// a btcd node that goes its own way.
func (w *wallet) clone(seed uint64) *wallet {
	c := *w
	c.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	c.coinbases = slices.Clone(w.coinbases)
	c.coins = slices.Clone(w.coins)
	c.sent = slices.Clone(w.sent)
	c.pubs = slices.Clone(w.pubs)
	return &c
}

// addresses returns the wallet's addresses followed by the mining address.
func (w *wallet) addresses() []address.Address {
	var out []address.Address
	for i, k := range w.keys {
		a, err := k.Address(w.kinds[i], params)
		if err != nil {
			w.t.Fatalf("address of key %d: %v", i, err)
		}
		out = append(out, a)
	}
	return append(out, btcdtest.DefaultMiningAddress())
}

// nextOut returns the script of the next spending key in rotation.
func (w *wallet) nextOut() ([]byte, int) {
	i := w.nextKey % (len(w.keys) - holdKeys)
	w.nextKey++
	s, err := w.keys[i].PkScript(w.kinds[i])
	if err != nil {
		w.t.Fatalf("script of key %d: %v", i, err)
	}
	return s, i
}

// mine generates n blocks on node and records their coinbases.
func (w *wallet) mine(node *btcdtest.TestNode, n uint32) []chainhash.Hash {
	w.t.Helper()
	_, base := node.Tip()
	hs := node.Generate(n)
	out := make([]chainhash.Hash, len(hs))
	for i, h := range hs {
		out[i] = *h
		blk, err := node.RPC().GetBlock(h)
		if err != nil {
			w.t.Fatalf("getblock %s: %v", h, err)
		}
		cb := blk.Transactions[0]
		for vout, o := range cb.TxOut {
			if bytes.Equal(o.PkScript, miningScript) {
				w.coinbases = append(w.coinbases, coinbase{height: base + 1 + int32(i),
					op: wire.OutPoint{Hash: cb.TxHash(), Index: uint32(vout)}, value: o.Value})
			}
		}
	}
	w.tip = base + int32(len(hs))
	return out
}

// send submits tx to node's mempool, failing the test if btcd refuses it,
// and records it as sent.
func (w *wallet) send(node *btcdtest.TestNode, tx *wire.MsgTx) *wire.MsgTx {
	w.t.Helper()
	node.SendRawTx(tx)
	w.sent = append(w.sent, tx.TxHash())
	return tx
}

// fund spends the oldest matured coinbase into outputs equal wallet outputs.
func (w *wallet) fund(node *btcdtest.TestNode, outputs int) *wire.MsgTx {
	w.t.Helper()
	tx := w.fundTx(outputs)
	return w.send(node, tx)
}

// fundTx builds (without sending) the spend of the oldest matured coinbase.
func (w *wallet) fundTx(outputs int) *wire.MsgTx {
	w.t.Helper()
	if len(w.coinbases) == 0 || w.tip+1-w.coinbases[0].height < coinbaseMaturity {
		w.t.Fatalf("no matured coinbase at height %d", w.tip)
	}
	cb := w.coinbases[0]
	w.coinbases = w.coinbases[1:]
	const fee = 5000
	each := (cb.value - fee) / int64(outputs)
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(wire.NewTxIn(&cb.op, nil, nil))
	var made []txgen.UTXO
	for i := range outputs {
		s, k := w.nextOut()
		tx.AddTxOut(wire.NewTxOut(each, s))
		made = append(made, txgen.UTXO{OutPoint: wire.OutPoint{Index: uint32(i)}, Value: each, Key: w.keys[k], Kind: w.kinds[k]})
	}
	signMining(w.t, tx, 0, wire.NewTxOut(cb.value, miningScript))
	for i := range made {
		made[i].OutPoint.Hash = tx.TxHash()
	}
	w.coins = append(w.coins, made...)
	return tx
}

// signMining signs input idx of tx, which spends prev, a P2WPKH output of
// btcdtest's mining key.
func signMining(t *testing.T, tx *wire.MsgTx, idx int, prev *wire.TxOut) {
	t.Helper()
	fetcher := txscript.NewCannedPrevOutputFetcher(prev.PkScript, prev.Value)
	wit, err := txscript.WitnessSignature(tx, txscript.NewTxSigHashes(tx, fetcher), idx, prev.Value,
		prev.PkScript, txscript.SigHashAll, btcdtest.DefaultMiningKey(), true)
	if err != nil {
		t.Fatalf("sign coinbase spend: %v", err)
	}
	tx.TxIn[idx].Witness = wit
}

// take removes and returns up to n random spendable coins.
func (w *wallet) take(n int) []txgen.UTXO {
	var out []txgen.UTXO
	for len(out) < n && len(w.coins) > 0 {
		i := w.rng.IntN(len(w.coins))
		c := w.coins[i]
		w.coins = slices.Delete(w.coins, i, i+1)
		if c.Value < minCoin {
			continue // dust-ish leftovers stay unspent: UTXO sets keep some old entries
		}
		out = append(out, c)
	}
	return out
}

// takeCoin removes and returns the spendable coin op.
func (w *wallet) takeCoin(op wire.OutPoint) txgen.UTXO {
	w.t.Helper()
	for i, c := range w.coins {
		if c.OutPoint == op {
			w.coins = slices.Delete(w.coins, i, i+1)
			return c
		}
	}
	w.t.Fatalf("wallet has no coin %s", op)
	return txgen.UTXO{}
}

func (w *wallet) hasBigCoin() bool {
	return slices.ContainsFunc(w.coins, func(c txgen.UTXO) bool { return c.Value >= minCoin })
}

// bigCoin returns a spendable coin worth at least minCoin.
func (w *wallet) bigCoin() wire.OutPoint {
	w.t.Helper()
	for _, c := range w.coins {
		if c.Value >= minCoin {
			return c.OutPoint
		}
	}
	w.t.Fatal("wallet has no coin to spend: fund it first")
	return wire.OutPoint{}
}

// spendOpts shape one wallet spend.
type spendOpts struct {
	inputs []txgen.UTXO  // nil: 1-3 random coins
	extra  []*wire.TxOut // fixed outputs before the payment (OP_RETURN, PoP)
}

// spend sends a transaction paying a random part of its inputs to one
// wallet key and the change to another; it fails the test if the wallet
// has no coins.
func (w *wallet) spend(node *btcdtest.TestNode, o spendOpts) *wire.MsgTx {
	w.t.Helper()
	if o.inputs == nil && !w.hasBigCoin() {
		w.fund(node, 3)
	}
	return w.send(node, w.spendTx(o))
}

// spendTx builds and signs (without sending) a spend; the wallet already
// counts its outputs as its coins.
func (w *wallet) spendTx(o spendOpts) *wire.MsgTx {
	w.t.Helper()
	ins := o.inputs
	if ins == nil {
		ins = w.take(1 + w.rng.IntN(3))
	}
	if len(ins) == 0 {
		w.t.Fatal("wallet has no coins to spend: fund it first")
	}
	var total int64
	for _, in := range ins {
		total += in.Value
	}
	payScript, payKey := w.nextOut()
	changeScript, changeKey := w.nextOut()
	outs := slices.Clone(o.extra)
	payIdx := len(outs)
	pay := total * int64(20+w.rng.IntN(60)) / 100
	outs = append(outs, wire.NewTxOut(pay, payScript))
	if w.rng.IntN(3) == 0 {
		// A small output to a hold key, never spent again.
		k := len(w.keys) - 1 - w.rng.IntN(holdKeys)
		s, err := w.keys[k].PkScript(w.kinds[k])
		if err != nil {
			w.t.Fatalf("script of key %d: %v", k, err)
		}
		outs = append(outs, wire.NewTxOut(int64(10000+w.rng.IntN(90000)), s))
	}
	sp := txgen.Spend{Inputs: ins, Outputs: outs, Change: changeScript, FeeRate: feeRate}
	tx, _, changeIdx, err := sp.Build()
	if err != nil {
		w.t.Fatalf("build spend: %v", err)
	}
	if err := txgen.Sign(tx, ins); err != nil {
		w.t.Fatalf("sign spend: %v", err)
	}
	txid := tx.TxHash()
	w.coins = append(w.coins, txgen.UTXO{OutPoint: wire.OutPoint{Hash: txid, Index: uint32(payIdx)},
		Value: pay, Key: w.keys[payKey], Kind: w.kinds[payKey]})
	if changeIdx >= 0 {
		w.coins = append(w.coins, txgen.UTXO{OutPoint: wire.OutPoint{Hash: txid, Index: uint32(changeIdx)},
			Value: tx.TxOut[changeIdx].Value, Key: w.keys[changeKey], Kind: w.kinds[changeKey]})
	}
	return tx
}

// opReturn returns a standard OP_RETURN output carrying data.
func (w *wallet) opReturn(data []byte) *wire.TxOut {
	w.t.Helper()
	s, err := txgen.OpReturnScript(data)
	if err != nil {
		w.t.Fatalf("op_return: %v", err)
	}
	return wire.NewTxOut(0, s)
}

// publish sends a transaction whose first output publishes ks.
func (w *wallet) publish(node *btcdtest.TestNode, ks pop.Keystone) *wire.MsgTx {
	w.t.Helper()
	tx := w.spend(node, spendOpts{extra: []*wire.TxOut{wire.NewTxOut(0, ks.Script())}})
	w.pubs = append(w.pubs, published{keystone: ks.ID(), op: wire.OutPoint{Hash: tx.TxHash(), Index: 0}})
	return tx
}

// keystone returns a distinct test keystone for L2 block number l2.
func keystone(l2 uint32, btcHeight int32) pop.Keystone {
	ks := pop.Keystone{Version: pop.KeystoneVersion, BTCViewHeight: uint32(btcHeight), L2Number: l2}
	for i := range ks.StateRoot {
		ks.StateRoot[i] = byte(l2) ^ byte(i)
	}
	copy(ks.BlockPrefix[:], fmt.Sprintf("block%07d", l2))
	return ks
}

// activity sends a batch of ordinary traffic: a coinbase funding when the
// wallet runs low, then n spends (some with OP_RETURNs, some spending
// outputs of the same batch).
func (w *wallet) activity(node *btcdtest.TestNode, n int) {
	w.t.Helper()
	if len(w.coins) < 6 {
		w.fund(node, 2+w.rng.IntN(4))
	}
	for i := range n {
		var o spendOpts
		if w.rng.IntN(5) == 0 {
			o.extra = []*wire.TxOut{w.opReturn(fmt.Appendf(nil, "hemi test %d/%d", w.tip, i))}
		}
		w.spend(node, o)
	}
}

// grow sends traffic and mines 1-3 blocks at a time until the chain is at
// least height blocks high.
func (w *wallet) grow(node *btcdtest.TestNode, height int32) {
	w.t.Helper()
	for w.tip < height {
		w.activity(node, 2+w.rng.IntN(5))
		w.mine(node, uint32(1+w.rng.IntN(3)))
	}
}
