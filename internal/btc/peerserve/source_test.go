package peerserve

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// memSource is an in-memory Source of valid regtest blocks for tests.
type memSource struct {
	params *chaincfg.Params

	mu      sync.Mutex
	best    []chainhash.Hash // best chain by height
	height  map[chainhash.Hash]int32
	blocks  map[chainhash.Hash]*wire.MsgBlock
	raw     map[chainhash.Hash][]byte
	mempool map[chainhash.Hash]*wire.MsgTx
	reject  error
	subs    []func(Announcement)
}

var (
	_ Source        = (*memSource)(nil)
	_ MempoolLister = (*memSource)(nil)
)

func newMemSource(t testing.TB) *memSource {
	t.Helper()
	p := &chaincfg.RegressionNetParams
	g := p.GenesisBlock
	s := &memSource{
		params:  p,
		height:  map[chainhash.Hash]int32{},
		blocks:  map[chainhash.Hash]*wire.MsgBlock{},
		raw:     map[chainhash.Hash][]byte{},
		mempool: map[chainhash.Hash]*wire.MsgTx{},
	}
	s.add(t, g)
	s.best = []chainhash.Hash{g.BlockHash()}
	s.height[g.BlockHash()] = 0
	return s
}

func (s *memSource) add(t testing.TB, b *wire.MsgBlock) {
	t.Helper()
	var buf bytes.Buffer
	if err := b.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	h := b.BlockHash()
	s.mu.Lock()
	s.blocks[h] = b
	s.raw[h] = buf.Bytes()
	s.mu.Unlock()
}

// mine extends the block at parent (a best-chain height) by n valid blocks
// and makes them the best chain; extra makes sibling blocks differ.
func (s *memSource) mine(t testing.TB, parent int32, n int, extra int64) []chainhash.Hash {
	t.Helper()
	s.mu.Lock()
	prevHash := s.best[parent]
	prev := s.blocks[prevHash]
	s.mu.Unlock()
	var out []chainhash.Hash
	for i := range n {
		height := parent + int32(i) + 1
		b := makeBlock(t, s.params, prev, height, extra)
		s.add(t, b)
		prev = b
		out = append(out, b.BlockHash())
	}
	s.mu.Lock()
	for _, h := range s.best[parent+1:] {
		delete(s.height, h)
	}
	s.best = s.best[:parent+1]
	for i, h := range out {
		s.best = append(s.best, h)
		s.height[h] = parent + int32(i) + 1
	}
	subs := append([]func(Announcement){}, s.subs...)
	s.mu.Unlock()
	tip := out[len(out)-1]
	for _, fn := range subs {
		fn(Announcement{Block: &tip})
	}
	return out
}

// makeBlock builds a coinbase-only regtest block that btcd accepts.
func makeBlock(t testing.TB, p *chaincfg.Params, prev *wire.MsgBlock, height int32, extra int64) *wire.MsgBlock {
	t.Helper()
	sig, err := txscript.NewScriptBuilder().AddInt64(int64(height)).AddInt64(extra).Script()
	if err != nil {
		t.Fatal(err)
	}
	cb := wire.NewMsgTx(1)
	cb.AddTxIn(&wire.TxIn{
		PreviousOutPoint: wire.OutPoint{Index: wire.MaxPrevOutIndex},
		SignatureScript:  sig,
		Sequence:         wire.MaxTxInSequenceNum,
	})
	cb.AddTxOut(&wire.TxOut{Value: blockchain.CalcBlockSubsidy(height, p), PkScript: []byte{txscript.OP_TRUE}})
	b := &wire.MsgBlock{
		Header: wire.BlockHeader{
			Version:    0x20000000,
			PrevBlock:  prev.BlockHash(),
			MerkleRoot: blockchain.CalcMerkleRoot([]*btcutil.Tx{btcutil.NewTx(cb)}, false),
			Timestamp:  prev.Header.Timestamp.Add(time.Second),
			Bits:       p.PowLimitBits,
		},
		Transactions: []*wire.MsgTx{cb},
	}
	target := blockchain.CompactToBig(b.Header.Bits)
	for nonce := uint32(0); ; nonce++ {
		b.Header.Nonce = nonce
		h := b.Header.BlockHash()
		if blockchain.HashToBig(&h).Cmp(target) <= 0 {
			return b
		}
		if nonce == ^uint32(0) {
			t.Fatal("no nonce solves the block")
		}
	}
}

func (s *memSource) Tip() (chainhash.Hash, int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.best[len(s.best)-1], int32(len(s.best) - 1)
}

func (s *memSource) HashAt(height int32) (chainhash.Hash, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if height < 0 || int(height) >= len(s.best) {
		return chainhash.Hash{}, false
	}
	return s.best[height], true
}

func (s *memSource) HeightOf(hash chainhash.Hash) (int32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.height[hash]
	return h, ok
}

func (s *memSource) Header(hash chainhash.Hash) (wire.BlockHeader, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.blocks[hash]
	if !ok {
		return wire.BlockHeader{}, ErrNotFound
	}
	return b.Header, nil
}

func (s *memSource) RawBlock(hash chainhash.Hash) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.raw[hash]
	if !ok {
		return nil, ErrNotFound
	}
	return r, nil
}

func (s *memSource) MempoolTx(txid chainhash.Hash) (*wire.MsgTx, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, ok := s.mempool[txid]
	if !ok {
		return nil, ErrNotFound
	}
	return tx, nil
}

func (s *memSource) MempoolTxids() []chainhash.Hash {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]chainhash.Hash, 0, len(s.mempool))
	for h := range s.mempool {
		out = append(out, h)
	}
	return out
}

func (s *memSource) AcceptTx(tx *wire.MsgTx) error {
	s.mu.Lock()
	if s.reject != nil {
		err := s.reject
		s.mu.Unlock()
		return err
	}
	h := tx.TxHash()
	s.mempool[h] = tx
	subs := append([]func(Announcement){}, s.subs...)
	s.mu.Unlock()
	for _, fn := range subs {
		fn(Announcement{Tx: &h})
	}
	return nil
}

func (s *memSource) Subscribe(ctx context.Context, fn func(Announcement)) {
	s.mu.Lock()
	s.subs = append(s.subs, fn)
	s.mu.Unlock()
	// Subscriptions end with the test; nothing to undo.
	_ = ctx
}

// rejectErr is a Source error with a reject code.
type rejectErr struct{ code wire.RejectCode }

func (e rejectErr) Error() string               { return fmt.Sprintf("rejected with code %v", e.code) }
func (e rejectErr) RejectCode() wire.RejectCode { return e.code }
