package finality

import (
	"context"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"sync/atomic"
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

// simBTC is an index held in memory that grows and reorganises while a
// service follows it, and counts what the service reads from it: the
// work of a restart.
type simBTC struct {
	mu     sync.Mutex
	events []index.Event
	blocks map[chainhash.Hash]*wire.MsgBlock
	main   []chainhash.Hash // the connected chain by height; [0] is the genesis
	notify chan struct{}
	nonce  uint32

	blockReads, eventsSent, headerReads atomic.Int64
}

func newSimBTC() *simBTC {
	return &simBTC{blocks: map[chainhash.Hash]*wire.MsgBlock{}, main: []chainhash.Hash{{0x99}}, notify: make(chan struct{})}
}

// mine connects a block holding one publication per script on the tip.
func (b *simBTC) mine(scripts ...[]byte) chainhash.Hash {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.nonce++
	parent := b.main[len(b.main)-1]
	msg := wire.NewMsgBlock(&wire.BlockHeader{PrevBlock: parent, Nonce: b.nonce})
	cb := wire.NewMsgTx(1)
	cb.AddTxIn(wire.NewTxIn(&wire.OutPoint{Index: wire.MaxPrevOutIndex}, []byte{byte(b.nonce), byte(b.nonce >> 8), byte(b.nonce >> 16)}, nil))
	cb.AddTxOut(wire.NewTxOut(1, []byte{0x51}))
	msg.AddTransaction(cb)
	for i, s := range scripts {
		tx := wire.NewMsgTx(2)
		tx.AddTxIn(wire.NewTxIn(&wire.OutPoint{Hash: chainhash.Hash{byte(b.nonce), byte(b.nonce >> 8), byte(i)}}, nil, nil))
		tx.AddTxOut(wire.NewTxOut(0, s))
		msg.AddTransaction(tx)
	}
	hash := msg.BlockHash()
	b.blocks[hash] = msg
	b.main = append(b.main, hash)
	b.events = append(b.events, index.Event{Seq: uint64(len(b.events)), Kind: index.EventConnected, Hash: hash, Height: int32(len(b.main) - 1)})
	b.wake()
	return hash
}

// disconnect removes the n newest blocks, as a reorg's first half.
func (b *simBTC) disconnect(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for range n {
		h := int32(len(b.main) - 1)
		b.events = append(b.events, index.Event{Seq: uint64(len(b.events)), Kind: index.EventDisconnected, Hash: b.main[h], Height: h})
		b.main = b.main[:h]
	}
	b.wake()
}

func (b *simBTC) wake() {
	close(b.notify)
	b.notify = make(chan struct{})
}

func (b *simBTC) Subscribe(ctx context.Context, from uint64) <-chan index.Event {
	ch := make(chan index.Event)
	go func() {
		defer close(ch)
		next := from
		for {
			b.mu.Lock()
			var ev *index.Event
			if next < uint64(len(b.events)) {
				e := b.events[next]
				ev = &e
			}
			notify := b.notify
			b.mu.Unlock()
			if ev == nil {
				select {
				case <-notify:
					continue
				case <-ctx.Done():
					return
				}
			}
			select {
			case ch <- *ev:
				b.eventsSent.Add(1)
				next++
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

func (b *simBTC) SeqAfter(hash chainhash.Hash) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if hash == b.main[0] {
		return 0, nil
	}
	for i := len(b.events) - 1; i >= 0; i-- {
		if ev := b.events[i]; ev.Kind == index.EventConnected && ev.Hash == hash {
			return uint64(i + 1), nil
		}
	}
	return 0, fmt.Errorf("no event of %s: %w", hash, index.ErrNotFound)
}

func (b *simBTC) Block(hash chainhash.Hash) (*wire.MsgBlock, error) {
	b.blockReads.Add(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	if m := b.blocks[hash]; m != nil {
		return m, nil
	}
	return nil, fmt.Errorf("block %s: %w", hash, index.ErrNotFound)
}

func (b *simBTC) BlockTip() (chainhash.Hash, int32) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.main[len(b.main)-1], int32(len(b.main) - 1)
}

func (b *simBTC) HeaderByHeight(h int32, _ chainhash.Hash) (index.HeaderInfo, error) {
	b.headerReads.Add(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	if h < 0 || int(h) >= len(b.main) {
		return index.HeaderInfo{}, index.ErrNotFound
	}
	return index.HeaderInfo{Hash: b.main[h], Height: h, MainChain: true, HaveData: true}, nil
}

// simChain is a linear L2 chain held in memory, keystones every 25
// blocks, that grows and reorganises, and counts the service's reads.
type simChain struct {
	mu      sync.Mutex
	cfg     chain.Config
	headers []*types.Header // canonical, by number
	ks      map[uint64]*pop.L2Keystone
	heads   chan struct{}
	s       *Service

	headerReads, keystoneReads atomic.Int64
}

func newSimChain() *simChain {
	c := &simChain{cfg: chain.Config{KeystoneInterval: 25}, ks: map[uint64]*pop.L2Keystone{}, heads: make(chan struct{})}
	c.headers = []*types.Header{{Number: new(big.Int), Difficulty: new(big.Int)}}
	return c
}

// grow adds n blocks viewing Bitcoin height view; branch tells branches
// apart.
func (c *simChain) grow(n int, view uint32, branch byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	iv := c.cfg.KeystoneInterval
	for range n {
		parent := c.headers[len(c.headers)-1]
		num := parent.Number.Uint64() + 1
		extra, err := (&block.Extra{BitcoinHeight: view}).Encode()
		if err != nil {
			panic(err)
		}
		h := &types.Header{Number: new(big.Int).SetUint64(num), ParentHash: parent.Hash(), Difficulty: new(big.Int),
			Extra: extra, Time: uint64(branch)}
		c.headers = append(c.headers, h)
		if num%iv == 0 {
			k := chain.KeystoneOf(h, c.headers[num-iv].Hash())
			lk := &pop.L2Keystone{Number: num, Hash: h.Hash(), ID: k.ID(), K: k}
			if prev := c.ks[num-iv]; prev != nil {
				lk.PrevID = prev.ID
			}
			c.ks[num] = lk
		}
	}
	c.wakeLocked()
}

// rewind drops the blocks above number (the first half of an L2 reorg).
func (c *simChain) rewind(number uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.headers = c.headers[:number+1]
	for n := range c.ks {
		if n > number {
			delete(c.ks, n)
		}
	}
}

func (c *simChain) wakeLocked() {
	close(c.heads)
	c.heads = make(chan struct{})
}

func (c *simChain) Config() *chain.Config { return &c.cfg }
func (c *simChain) Head() *types.Header {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.headers[len(c.headers)-1]
}
func (c *simChain) HeaderByNumber(n uint64) (*types.Header, error) {
	c.headerReads.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if n >= uint64(len(c.headers)) {
		return nil, chain.ErrNotFound
	}
	return c.headers[n], nil
}
func (c *simChain) HeaderByHash(hash common.Hash) (*types.Header, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range c.headers {
		if h.Hash() == hash {
			return h, nil
		}
	}
	return nil, chain.ErrNotFound
}
func (c *simChain) KeystoneAt(n uint64) (*pop.L2Keystone, error) {
	c.keystoneReads.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if k := c.ks[n]; k != nil {
		return k, nil
	}
	return nil, chain.ErrNotFound
}
func (c *simChain) KeystoneByID(id [32]byte) (*pop.L2Keystone, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range c.ks {
		if k.ID == id {
			return k, nil
		}
	}
	return nil, chain.ErrNotFound
}
func (c *simChain) KeystoneByHash(hash common.Hash) (*pop.L2Keystone, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range c.ks {
		if k.Hash == hash {
			return k, nil
		}
	}
	return nil, chain.ErrNotFound
}
func (c *simChain) CoveringKeystone(n uint64) uint64 { return (n + 24) / 25 * 25 }
func (c *simChain) Subscribe(ctx context.Context, _ uint64) <-chan *types.Header {
	ch := make(chan *types.Header)
	go func() {
		defer close(ch)
		for {
			c.mu.Lock()
			wait := c.heads
			c.mu.Unlock()
			select {
			case <-wait:
			case <-ctx.Done():
				return
			}
			select {
			case ch <- c.Head():
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}
func (c *simChain) Reconsider() (bool, error) { return false, nil }

// resetCounts zeroes every read counter.
func resetCounts(b *simBTC, c *simChain) {
	b.blockReads.Store(0)
	b.eventsSent.Store(0)
	b.headerReads.Store(0)
	c.headerReads.Store(0)
	c.keystoneReads.Store(0)
}

// work is what a service read from the index and the chain.
type work struct{ btcBlocks, events, btcHeaders, l2Headers, keystones int64 }

func countsOf(b *simBTC, c *simChain) work {
	return work{b.blockReads.Load(), b.eventsSent.Load(), b.headerReads.Load(), c.headerReads.Load(), c.keystoneReads.Load()}
}

// running is a service run by runService.
type running struct {
	s    *Service
	stop func()
}

// runService runs a service over b and c with state in dir ("" none)
// until it has applied every Bitcoin event and keystone there is.
func runService(t *testing.T, b *simBTC, c *simChain, dir string, depth uint32, opts ...func(*Config)) *running {
	t.Helper()
	cfg := Config{Index: b, PoP: genesis.PoPConfig{SuperfinalDepth: depth}, Dir: dir, Logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.s = s
	s.Bind(c)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	r := &running{s: s, stop: func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("service: %v", err)
		}
	}}
	waitApplied(t, r, b, c)
	return r
}

// waitApplied waits until r's tracker is at the index tip, its keystones
// at the chain head's, and its heads refreshed after both.
func waitApplied(t *testing.T, r *running, b *simBTC, c *simChain) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		tipHash, tipH := b.BlockTip()
		top := c.Head().Number.Uint64() / 25
		r.s.mu.Lock()
		h, hash, _ := r.s.tr.Tip()
		ok := h == tipH && hash == tipHash && uint64(len(r.s.canon)) == top && r.s.caughtUp && r.s.heads == r.s.headsLocked() &&
			r.s.computedLocked().Finalized <= r.s.floor.number
		r.s.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("service at Bitcoin %d (want %d), keystones %d (want %d)", h, tipH, len(r.s.canon), top)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// snapshot is every answer of a service that a restart must keep.
type snapshot struct {
	heads    Heads
	statuses map[uint64]tracker.Status
}

func snapshotOf(t *testing.T, s *Service, c *simChain) snapshot {
	t.Helper()
	out := snapshot{heads: s.Heads(), statuses: map[uint64]tracker.Status{}}
	c.mu.Lock()
	ks := make([]*pop.L2Keystone, 0, len(c.ks))
	for _, k := range c.ks {
		ks = append(ks, k)
	}
	c.mu.Unlock()
	for _, k := range ks {
		out.statuses[k.Number] = s.KeystoneStatus(k)
	}
	return out
}

func (a snapshot) diff(b snapshot) string {
	if a.heads != b.heads {
		return fmt.Sprintf("heads %+v vs %+v", a.heads, b.heads)
	}
	if len(a.statuses) != len(b.statuses) {
		return fmt.Sprintf("%d keystones vs %d", len(a.statuses), len(b.statuses))
	}
	for n, st := range a.statuses {
		if b.statuses[n] != st {
			return fmt.Sprintf("keystone %d: %+v vs %+v", n, st, b.statuses[n])
		}
	}
	return ""
}
