package regtest

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"testing"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// wallet is a single P2WPKH key that tests mine to and spend from.
type wallet struct {
	key    *btcec.PrivateKey
	addr   address.Address
	script []byte
}

func newWallet(t testing.TB, seed string) *wallet {
	t.Helper()
	sum := sha256.Sum256([]byte(seed))
	key, _ := btcec.PrivKeyFromBytes(sum[:])
	addr, err := address.NewAddressWitnessPubKeyHash(address.Hash160(key.PubKey().SerializeCompressed()), params())
	if err != nil {
		t.Fatal(err)
	}
	script, err := txscript.PayToAddrScript(addr)
	if err != nil {
		t.Fatal(err)
	}
	return &wallet{key: key, addr: addr, script: script}
}

// utxo is a spendable output of the wallet.
type utxo struct {
	op    wire.OutPoint
	value int64
}

// spend builds a signed tx spending ins to the wallet (two outputs) plus
// extra outputs, paying fee.
func (w *wallet) spend(t testing.TB, ins []utxo, fee int64, extra ...*wire.TxOut) *wire.MsgTx {
	t.Helper()
	tx := wire.NewMsgTx(2)
	var total int64
	fetcher := txscript.NewMultiPrevOutFetcher(nil)
	for _, in := range ins {
		tx.AddTxIn(wire.NewTxIn(&in.op, nil, nil))
		total += in.value
		fetcher.AddPrevOut(in.op, wire.NewTxOut(in.value, w.script))
	}
	for _, o := range extra {
		tx.AddTxOut(o)
		total -= o.Value
	}
	half := (total - fee) / 2
	tx.AddTxOut(wire.NewTxOut(half, w.script))
	tx.AddTxOut(wire.NewTxOut(total-fee-half, w.script))
	hashes := txscript.NewTxSigHashes(tx, fetcher)
	for i, in := range ins {
		wit, err := txscript.WitnessSignature(tx, hashes, i, in.value, w.script, txscript.SigHashAll, w.key, true)
		if err != nil {
			t.Fatal(err)
		}
		tx.TxIn[i].Witness = wit
	}
	return tx
}

// coinbaseUTXO returns the coinbase output of the best-chain block at height.
func coinbaseUTXO(t testing.TB, n *Node, height int32) utxo {
	t.Helper()
	h, ok := n.HashAt(height)
	if !ok {
		t.Fatalf("no block at height %d", height)
	}
	b, err := n.Block(h)
	if err != nil {
		t.Fatal(err)
	}
	cb := b.Transactions[0]
	return utxo{op: wire.OutPoint{Hash: cb.TxHash(), Index: 0}, value: cb.TxOut[0].Value}
}

// outputs returns the tx's outputs paying to the wallet as utxos.
func (w *wallet) outputs(tx *wire.MsgTx) []utxo {
	var out []utxo
	txid := tx.TxHash()
	for i, o := range tx.TxOut {
		if string(o.PkScript) == string(w.script) {
			out = append(out, utxo{op: wire.OutPoint{Hash: txid, Index: uint32(i)}, value: o.Value})
		}
	}
	return out
}

// opReturn is an OP_RETURN output carrying n data bytes in one push.
func opReturn(t testing.TB, n int) *wire.TxOut {
	t.Helper()
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i)
	}
	script, err := txscript.NewScriptBuilder().AddOp(txscript.OP_RETURN).AddData(data).Script()
	if err != nil {
		t.Fatal(err)
	}
	return wire.NewTxOut(0, script)
}

// quiet discards logs.
var quiet = slog.New(slog.DiscardHandler)

// newNode starts a node for t, closed at cleanup.
func newNode(t testing.TB, cfg Config) *Node {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return n
}

// runNode runs n's P2P server until the test ends.
func runNode(t testing.TB, n *Node) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func mine(t testing.TB, n *Node, count int, addr address.Address) []chainhash.Hash {
	t.Helper()
	hs, err := n.Mine(count, addr)
	if err != nil {
		t.Fatalf("Mine(%d): %v", count, err)
	}
	return hs
}

// waitFor polls cond for up to 60 seconds.
func waitFor(t testing.TB, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
