package finality

import (
	"context"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/finality/tracker"
	"github.com/hemi-go/hemi/internal/pop"
)

// fakeBitcoin is an index whose whole history is already stored, as after
// a restart: Subscribe replays it.
type fakeBitcoin struct {
	events []index.Event
	blocks map[chainhash.Hash]*wire.MsgBlock
	hashes []chainhash.Hash // by height; [0] is the genesis
}

func newFakeBitcoin(height int32, pubs map[int32][]byte) *fakeBitcoin {
	f := &fakeBitcoin{blocks: map[chainhash.Hash]*wire.MsgBlock{}, hashes: []chainhash.Hash{{0x99}}}
	for h := int32(1); h <= height; h++ {
		msg := wire.NewMsgBlock(&wire.BlockHeader{Nonce: uint32(h)})
		cb := wire.NewMsgTx(1)
		cb.AddTxIn(wire.NewTxIn(&wire.OutPoint{Index: wire.MaxPrevOutIndex}, []byte{byte(h), byte(h >> 8)}, nil))
		cb.AddTxOut(wire.NewTxOut(1, []byte{0x51}))
		msg.AddTransaction(cb)
		if script := pubs[h]; script != nil {
			tx := wire.NewMsgTx(2)
			tx.AddTxIn(wire.NewTxIn(&wire.OutPoint{Hash: chainhash.Hash{byte(h)}}, nil, nil))
			tx.AddTxOut(wire.NewTxOut(0, script))
			msg.AddTransaction(tx)
		}
		hash := chainhash.Hash{0xb0, byte(h), byte(h >> 8)}
		f.blocks[hash] = msg
		f.hashes = append(f.hashes, hash)
		f.events = append(f.events, index.Event{Seq: uint64(len(f.events)), Kind: index.EventConnected, Hash: hash, Height: h})
	}
	return f
}

func (f *fakeBitcoin) Subscribe(ctx context.Context, from uint64) <-chan index.Event {
	ch := make(chan index.Event)
	go func() {
		defer close(ch)
		for _, ev := range f.events[from:] {
			select {
			case ch <- ev:
			case <-ctx.Done():
				return
			}
		}
		<-ctx.Done()
	}()
	return ch
}

func (f *fakeBitcoin) SeqAfter(hash chainhash.Hash) (uint64, error) {
	for i, ev := range f.events {
		if ev.Hash == hash {
			return uint64(i + 1), nil
		}
	}
	return 0, nil
}

func (f *fakeBitcoin) Block(hash chainhash.Hash) (*wire.MsgBlock, error) {
	if b := f.blocks[hash]; b != nil {
		return b, nil
	}
	return nil, fmt.Errorf("block %s: %w", hash, index.ErrNotFound)
}

func (f *fakeBitcoin) BlockTip() (chainhash.Hash, int32) {
	return f.hashes[len(f.hashes)-1], int32(len(f.hashes) - 1)
}

func (f *fakeBitcoin) HeaderByHeight(h int32, _ chainhash.Hash) (index.HeaderInfo, error) {
	if h < 0 || int(h) >= len(f.hashes) {
		return index.HeaderInfo{}, index.ErrNotFound
	}
	return index.HeaderInfo{Hash: f.hashes[h], Height: h, MainChain: true, HaveData: true}, nil
}

// fakeChain has canonical branch A up to its keystone at 25 and a stored
// side branch B with its own keystone at 25; Reconsider asks the service
// as the real chain does and records every switch it was told to make.
type fakeChain struct {
	s        *Service
	cfg      chain.Config
	headers  []*types.Header // canonical, by number
	ka, kb   *pop.L2Keystone
	mu       sync.Mutex
	switches int
}

func newFakeChain() *fakeChain {
	c := &fakeChain{cfg: chain.Config{KeystoneInterval: 25}}
	parent := common.Hash{}
	for n := uint64(0); n <= 25; n++ {
		h := &types.Header{Number: new(big.Int).SetUint64(n), ParentHash: parent, Difficulty: new(big.Int)}
		if n > 0 { // L2 block n views Bitcoin block 1 (the chain started with Bitcoin)
			extra, err := (&block.Extra{BitcoinHeight: 1}).Encode()
			if err != nil {
				panic(err)
			}
			h.Extra = extra
		}
		c.headers = append(c.headers, h)
		parent = h.Hash()
	}
	mk := func(h *types.Header) *pop.L2Keystone {
		k := chain.KeystoneOf(h, c.headers[0].Hash())
		return &pop.L2Keystone{Number: 25, Hash: h.Hash(), ID: k.ID(), K: k}
	}
	c.ka = mk(c.headers[25])
	c.kb = mk(&types.Header{Number: big.NewInt(25), ParentHash: common.Hash{0xbb}, Difficulty: new(big.Int)})
	return c
}

func (c *fakeChain) Config() *chain.Config { return &c.cfg }
func (c *fakeChain) Head() *types.Header   { return c.headers[len(c.headers)-1] }
func (c *fakeChain) HeaderByNumber(n uint64) (*types.Header, error) {
	if n >= uint64(len(c.headers)) {
		return nil, chain.ErrNotFound
	}
	return c.headers[n], nil
}
func (c *fakeChain) HeaderByHash(hash common.Hash) (*types.Header, error) {
	for _, h := range c.headers {
		if h.Hash() == hash {
			return h, nil
		}
	}
	return nil, chain.ErrNotFound
}
func (c *fakeChain) KeystoneAt(n uint64) (*pop.L2Keystone, error) {
	if n == 25 {
		return c.ka, nil
	}
	return nil, chain.ErrNotFound
}
func (c *fakeChain) KeystoneByID(id [32]byte) (*pop.L2Keystone, error) {
	for _, k := range []*pop.L2Keystone{c.ka, c.kb} {
		if k.ID == id {
			return k, nil
		}
	}
	return nil, chain.ErrNotFound
}
func (c *fakeChain) KeystoneByHash(hash common.Hash) (*pop.L2Keystone, error) {
	for _, k := range []*pop.L2Keystone{c.ka, c.kb} {
		if k.Hash == hash {
			return k, nil
		}
	}
	return nil, chain.ErrNotFound
}
func (c *fakeChain) CoveringKeystone(n uint64) uint64 { return (n + 24) / 25 * 25 }
func (c *fakeChain) Subscribe(ctx context.Context, _ uint64) <-chan *types.Header {
	ch := make(chan *types.Header)
	go func() { <-ctx.Done(); close(ch) }()
	return ch
}
func (c *fakeChain) Reconsider() (bool, error) {
	cur := []tracker.KeystoneRef{{Number: 25, ID: c.ka.ID}}
	cand := []tracker.KeystoneRef{{Number: 25, ID: c.kb.ID}}
	if !c.s.Prefer(cur, cand) {
		return false, nil
	}
	c.mu.Lock()
	c.switches++
	c.mu.Unlock()
	return false, nil // the fake stays; it only counts what it was told
}

// TestRestartReplay: B's keystone reached Bitcoin before A's, but this
// node learnt of branch B only after A's keystone was superfinal, so it
// stayed on A. After a restart the service replays Bitcoin from the start:
// while it catches up, A is not yet superfinal as of the replayed tip, and
// fork choice must not switch to B below a superfinal block. With a depth
// A has not reached, B (published first) wins once caught up.
func TestRestartReplay(t *testing.T) {
	tests := []struct {
		name     string
		depth    uint32
		switches bool
		final    uint64
	}{
		{"A superfinal: never switches below it", 4, false, 25},
		{"A not superfinal: B published first wins after catch-up", 100, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			testRestartReplay(t, tc.depth, tc.switches, tc.final)
		})
	}
}

func testRestartReplay(t *testing.T, depth uint32, wantSwitch bool, final uint64) {
	c := newFakeChain()
	btc := newFakeBitcoin(20, map[int32][]byte{3: c.kb.K.Script(), 5: c.ka.K.Script()})
	s, err := New(Config{Index: btc, PoP: genesis.PoPConfig{SuperfinalDepth: depth}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	c.s = s
	s.Bind(c)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if s.isCaughtUp() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the service did not catch up")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if h := s.Heads(); h.Finalized != final {
		t.Fatalf("heads %+v, want block %d finalized", h, final)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if got := c.switches > 0; got != wantSwitch {
		t.Fatalf("fork choice preferred branch B %d times while replaying, want a switch: %v", c.switches, wantSwitch)
	}
}
