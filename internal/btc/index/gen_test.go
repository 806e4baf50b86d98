package index

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/cockroachdb/pebble/v2"
)

// gen builds valid regtest-style blocks in process: regtest's PoW limit is
// so high that about every other nonce solves a header.
type gen struct {
	params *chaincfg.Params
	blocks map[chainhash.Hash]*wire.MsgBlock
	height map[chainhash.Hash]int32
	extra  uint32
}

func newGen(params *chaincfg.Params) *gen {
	g := &gen{params: params, blocks: map[chainhash.Hash]*wire.MsgBlock{}, height: map[chainhash.Hash]int32{}}
	gh := params.GenesisBlock.BlockHash()
	g.blocks[gh] = params.GenesisBlock
	g.height[gh] = 0
	return g
}

// script returns a distinct P2WPKH-shaped output script for tag.
func script(tag uint32) []byte {
	s := make([]byte, 22)
	s[0], s[1] = 0x00, 0x14
	binary.BigEndian.PutUint32(s[2:], tag)
	return s
}

// coinbase pays value to pay and carries height plus a per-generator nonce
// so blocks on different forks differ.
func (g *gen) coinbase(height int32, pay []byte, value int64) *wire.MsgTx {
	g.extra++
	tx := wire.NewMsgTx(2)
	sig := make([]byte, 12)
	binary.LittleEndian.PutUint32(sig, uint32(height))
	binary.LittleEndian.PutUint32(sig[4:], g.extra)
	sig[8] = 0x51
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: wire.MaxPrevOutIndex}, SignatureScript: sig, Sequence: wire.MaxTxInSequenceNum})
	tx.AddTxOut(&wire.TxOut{Value: value, PkScript: pay})
	return tx
}

// spend makes a witness transaction spending ins and paying outs.
func spend(ins []wire.OutPoint, outs ...*wire.TxOut) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	for _, op := range ins {
		tx.AddTxIn(&wire.TxIn{PreviousOutPoint: op, Sequence: wire.MaxTxInSequenceNum,
			Witness: wire.TxWitness{bytes.Repeat([]byte{0x30}, 71), bytes.Repeat([]byte{0x02}, 33)}})
	}
	for _, o := range outs {
		tx.AddTxOut(o)
	}
	return tx
}

// block builds and solves a block on parent with txs after a coinbase
// paying 50 BTC to pay. ts 0 means parent time + 10 minutes.
func (g *gen) block(t testing.TB, parent chainhash.Hash, pay []byte, txs ...*wire.MsgTx) *wire.MsgBlock {
	t.Helper()
	return g.blockAt(t, parent, time.Time{}, g.params.PowLimitBits, pay, txs...)
}

func (g *gen) blockAt(t testing.TB, parent chainhash.Hash, ts time.Time, bits uint32, pay []byte, txs ...*wire.MsgTx) *wire.MsgBlock {
	t.Helper()
	pb, ok := g.blocks[parent]
	if !ok {
		t.Fatalf("gen: unknown parent %s", parent)
	}
	h := g.height[parent] + 1
	if ts.IsZero() {
		ts = pb.Header.Timestamp.Add(10 * time.Minute)
	}
	cb := g.coinbase(h, pay, 50e8)
	all := append([]*wire.MsgTx{cb}, txs...)
	witness := false
	for _, tx := range txs {
		witness = witness || tx.HasWitness()
	}
	if witness {
		cb.TxIn[0].Witness = wire.TxWitness{make([]byte, 32)}
		utxs := make([]*btcutil.Tx, len(all))
		for i, tx := range all {
			utxs[i] = btcutil.NewTx(tx)
		}
		root := blockchain.CalcMerkleRoot(utxs, true)
		var pre [64]byte
		copy(pre[:32], root[:])
		commit := chainhash.DoubleHashB(pre[:])
		cb.AddTxOut(&wire.TxOut{PkScript: append(append([]byte{}, blockchain.WitnessMagicBytes...), commit...)})
	}
	utxs := make([]*btcutil.Tx, len(all))
	for i, tx := range all {
		utxs[i] = btcutil.NewTx(tx)
	}
	m := wire.NewMsgBlock(&wire.BlockHeader{
		Version:    0x20000000,
		PrevBlock:  parent,
		MerkleRoot: blockchain.CalcMerkleRoot(utxs, false),
		Timestamp:  ts,
		Bits:       bits,
	})
	m.Transactions = all
	solve(&m.Header)
	hash := m.BlockHash()
	g.blocks[hash] = m
	g.height[hash] = h
	return m
}

// solve finds a nonce meeting the header's target.
func solve(h *wire.BlockHeader) {
	target := blockchain.CompactToBig(h.Bits)
	for {
		hash := h.BlockHash()
		if blockchain.HashToBig(&hash).Cmp(target) <= 0 {
			return
		}
		h.Nonce++
	}
}

// unsolve makes the header fail its own target.
func unsolve(h *wire.BlockHeader) {
	target := blockchain.CompactToBig(h.Bits)
	for {
		hash := h.BlockHash()
		if blockchain.HashToBig(&hash).Cmp(target) > 0 {
			return
		}
		h.Nonce++
	}
}

// chain builds n blocks on parent, each with a coinbase only.
func (g *gen) chain(t testing.TB, parent chainhash.Hash, n int, pay []byte) []*wire.MsgBlock {
	t.Helper()
	out := make([]*wire.MsgBlock, 0, n)
	for range n {
		b := g.block(t, parent, pay)
		out = append(out, b)
		parent = b.BlockHash()
	}
	return out
}

func headers(bs []*wire.MsgBlock) []wire.BlockHeader {
	out := make([]wire.BlockHeader, len(bs))
	for i, b := range bs {
		out[i] = b.Header
	}
	return out
}

func openTest(t testing.TB, dir string, params *chaincfg.Params) *Index {
	t.Helper()
	cfg := Config{Dir: dir, Params: params, MaxBatchDelay: 20 * time.Millisecond,
		Now: func() time.Time { return time.Unix(1_900_000_000, 0) }}
	if v, err := strconv.Atoi(os.Getenv("INDEX_MEMTABLE_MB")); err == nil {
		cfg.MemTableSize = uint64(v) << 20
	}
	if v, err := strconv.Atoi(os.Getenv("INDEX_BATCH_MB")); err == nil {
		cfg.BatchBytes = v << 20
	}
	ix, err := Open(cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return ix
}

// openRawDB opens the pebble database of an index in dir (closed, or
// never opened) with the index's options, for a test to write records
// the index itself would not.
func openRawDB(t testing.TB, dir string) *pebble.DB {
	t.Helper()
	cfg := Config{Dir: dir, Params: regtest}
	if err := cfg.setDefaults(); err != nil {
		t.Fatal(err)
	}
	db, err := pebble.Open(dir, pebbleOptions(&cfg))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// feed gives the index headers then blocks, failing the test on error.
func feed(t testing.TB, ix *Index, bs []*wire.MsgBlock) {
	t.Helper()
	if _, _, err := ix.AcceptHeaders(headers(bs)); err != nil {
		t.Fatalf("headers: %v", err)
	}
	for _, b := range bs {
		if err := ix.AcceptBlock(b); err != nil {
			t.Fatalf("block %s: %v", b.BlockHash(), err)
		}
	}
}

// mustTip waits briefly for the block tip to become want: a block handed
// to AcceptBlock while another goroutine (or the batch timer) connects is
// connected by that goroutine, possibly after AcceptBlock returned.
func mustTip(t testing.TB, ix *Index, want chainhash.Hash, wantHeight int32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h, height := ix.BlockTip()
		if h == want && height == wantHeight {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("block tip %s@%d, want %s@%d", h, height, want, wantHeight)
		}
		time.Sleep(time.Millisecond)
	}
}

func scriptHash(s []byte) [32]byte { return sha256.Sum256(s) }

func isErr(err, target error) bool { return errors.Is(err, target) }

func errorf(format string, a ...any) error { return fmt.Errorf(format, a...) }
