package sequencer

import (
	"context"
	"errors"
	"log/slog"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/hemi-go/hemi/internal/btc/indextest"
	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/txpool"
)

func (e *env) newSequencer(p *txpool.Pool) *Sequencer {
	e.t.Helper()
	s, err := New(Config{Chain: e.chain, Pool: p, Committer: CommitFunc(e.chain.CommitBuilt), Bitcoin: e.btc, Key: seqKey, BlockTime: 2 * time.Second,
		Clock: e.clock, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// runPool runs p until the test ends.
func runPool(t *testing.T, p *txpool.Pool) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); p.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func TestNewRefusesAForeignKey(t *testing.T) {
	e := newEnv(t, 8, 3)
	p := e.newPool("", txpool.Config{})
	other, _ := crypto.GenerateKey()
	if _, err := New(Config{Chain: e.chain, Pool: p, Committer: CommitFunc(e.chain.CommitBuilt), Bitcoin: e.btc, Key: other}); err == nil {
		t.Fatal("a key that is not the chain's sequencer was accepted")
	}
}

// TestCommitterSeam: the producer hands every sealed block to its
// Committer and stores nothing itself: a block the committer refuses is
// not in the chain (the head stays), and the next build, once the
// committer accepts, is the block at the same height, committed once.
func TestCommitterSeam(t *testing.T) {
	e := newEnv(t, 8, 3)
	p := e.newPool("", txpool.Config{})
	refuse := errors.New("raft: not committed")
	var handed []*chain.Built
	accept := false
	s, err := New(Config{Chain: e.chain, Pool: p, Bitcoin: e.btc, Key: seqKey, BlockTime: 2 * time.Second,
		Clock: e.clock, Logger: slog.New(slog.DiscardHandler),
		Committer: CommitFunc(func(b *chain.Built) error {
			handed = append(handed, b)
			if !accept {
				return refuse
			}
			return e.chain.CommitBuilt(b)
		})})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Second)
	if _, err := s.BuildNext(); !errors.Is(err, refuse) {
		t.Fatalf("build with a refusing committer: %v, want its error", err)
	}
	if n := e.chain.Head().Number.Uint64(); n != 0 || len(handed) != 1 {
		t.Fatalf("head %d after a refused commit (%d handed), want 0 (1)", n, len(handed))
	}
	if _, err := e.chain.HeaderByHash(handed[0].Block.Hash()); err == nil {
		t.Fatal("the refused block is stored")
	}
	accept = true
	b, err := s.BuildNext()
	if err != nil {
		t.Fatal(err)
	}
	if b.Header.Number.Uint64() != 1 || len(handed) != 2 || e.chain.Head().Hash() != b.Hash() || handed[1].Block != b {
		t.Fatalf("block %d (head %d, %d handed): want block 1 committed through the committer", b.Header.Number, e.chain.Head().Number, len(handed))
	}
	if _, err := New(Config{Chain: e.chain, Pool: p, Bitcoin: e.btc, Key: seqKey}); err == nil {
		t.Fatal("New accepted a Config without a Committer")
	}
}

// TestEmptyBlocksOnTime: with no transactions, Run builds a block every
// block time of the fake clock, timestamps exactly 2 s apart.
func TestEmptyBlocksOnTime(t *testing.T) {
	e := newEnv(t, 8, 3)
	p := e.newPool("", txpool.Config{})
	runPool(t, p)
	s := e.newSequencer(p)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	gen := e.chain.Head().Time
	for i := uint64(1); i <= 5; i++ {
		// Not due before the block time has passed.
		waitFor(t, "the sequencer to wait", func() bool { return e.clock.Waiters() >= 2 })
		e.clock.Advance(time.Second)
		if n := e.chain.Head().Number.Uint64(); n != i-1 {
			t.Fatalf("block %d built a second early", n)
		}
		e.clock.Advance(time.Second)
		waitFor(t, "a block", func() bool { return e.chain.Head().Number.Uint64() == i })
		h := e.chain.Head()
		if h.Time != gen+2*i {
			t.Fatalf("block %d at time %d, want %d", i, h.Time, gen+2*i)
		}
		if h.GasUsed == 0 {
			t.Fatalf("block %d: the view update system tx used no gas", i)
		}
		b, err := e.chain.BlockByNumber(i)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Body.Txs) != 0 || len(b.Body.SystemTxs) == 0 {
			t.Fatalf("block %d: %d user txs, %d system txs; want an empty block with its view update", i, len(b.Body.Txs), len(b.Body.SystemTxs))
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestBuildOrdersAndFollowerAgrees: pending transfers go in by tip with
// each sender's nonces in order; balances move; the Bitcoin view follows
// tip-lag and switches branch after a Bitcoin reorg; a follower chain
// fed the blocks re-executes them to the same state roots.
func TestBuildOrdersAndFollowerAgrees(t *testing.T) {
	e := newEnv(t, 8, 3)
	p := e.newPool("", txpool.Config{})
	runPool(t, p)
	s := e.newSequencer(p)
	follower := e.newChain("")
	to := common.Address{0x70}

	e.clock.Advance(2 * time.Second)
	txs := []*types.Transaction{
		e.transfer(dev[0].Key, 0, to, 100, 1),
		e.transfer(dev[0].Key, 1, to, 100, 9), // high tip, but after nonce 0
		e.transfer(dev[1].Key, 0, to, 100, 5),
		e.transfer(dev[2].Key, 0, to, 100, 3),
	}
	for i, err := range p.Add(txs) {
		if err != nil {
			t.Fatalf("tx %d: %v", i, err)
		}
	}
	if err := p.Sync(); err != nil {
		t.Fatal(err)
	}
	b1, err := s.BuildNext()
	if err != nil {
		t.Fatal(err)
	}
	want := []common.Hash{txs[2].Hash(), txs[3].Hash(), txs[0].Hash(), txs[1].Hash()}
	if len(b1.Body.Txs) != len(want) {
		t.Fatalf("%d txs included, want %d", len(b1.Body.Txs), len(want))
	}
	for i, tx := range b1.Body.Txs {
		if tx.Hash() != want[i] {
			t.Fatalf("position %d: %s, want %s", i, tx.Hash(), want[i])
		}
	}
	if ex, _ := block.DecodeExtra(b1.Header.Extra); ex.BitcoinHeight != 6 {
		t.Fatalf("view height %d, want tip 8 - lag 2 = 6", ex.BitcoinHeight)
	}
	st, err := e.chain.StateAt(b1.Header.Root)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.GetBalance(to).ToBig(); got.Cmp(big.NewInt(400)) != 0 {
		t.Fatalf("recipient has %v wei, want 400", got)
	}
	// The pool drops what the block included.
	waitFor(t, "the pool to drop included txs", func() bool { np, _ := p.Stats(); return np == 0 })

	// Bitcoin moves on: the view follows tip - lag.
	more := newBTCFixture(t, 10).Blocks[8:]
	indextest.Feed(t, e.ix, more)
	e.clock.Advance(2 * time.Second)
	b2, err := s.BuildNext()
	if err != nil {
		t.Fatal(err)
	}
	if ex, _ := block.DecodeExtra(b2.Header.Extra); ex.BitcoinHeight != 8 {
		t.Fatalf("view height %d, want tip 10 - lag 2 = 8", ex.BitcoinHeight)
	}

	// A Bitcoin reorg onto a heavier branch from height 5: the view
	// switches onto it once tip-lag there has more work than the view.
	fork := e.f.Fork(t, 5, 7) // heights 6'..12'
	indextest.Feed(t, e.ix, fork)
	e.clock.Advance(2 * time.Second)
	b3, err := s.BuildNext()
	if err != nil {
		t.Fatal(err)
	}
	if ex, _ := block.DecodeExtra(b3.Header.Extra); ex.BitcoinHeight != 10 || ex.BitcoinHash != fork[4].BlockHash() {
		t.Fatalf("view %d %s, want 10' %s", ex.BitcoinHeight, ex.BitcoinHash, fork[4].BlockHash())
	}

	for _, b := range []*chain.Block{b1, b2, b3} {
		if err := follower.InsertBlock(b); err != nil {
			t.Fatalf("follower rejects block %d: %v", b.Header.Number, err)
		}
		fh, err := follower.HeaderByNumber(b.Header.Number.Uint64())
		if err != nil {
			t.Fatal(err)
		}
		if fh.Root != b.Header.Root || fh.Hash() != b.Hash() {
			t.Fatalf("block %d: follower root %s, sequencer %s", b.Header.Number, fh.Root, b.Header.Root)
		}
	}
}

func TestDevKeyAndLoadKey(t *testing.T) {
	if DevKey() == nil {
		t.Fatal("no dev key")
	}
	t.Setenv(KeyEnv, "")
	if _, err := LoadKey(""); err == nil {
		t.Fatal("no key source accepted")
	}
	hexKey := common.Bytes2Hex(crypto.FromECDSA(DevKey()))
	t.Setenv(KeyEnv, "0x"+hexKey+"\n")
	k, err := LoadKey("")
	if err != nil || !k.Equal(DevKey()) {
		t.Fatalf("env key: %v", err)
	}
	t.Setenv(KeyEnv, "nothex")
	if _, err := LoadKey(""); err == nil {
		t.Fatal("garbage key accepted")
	}
}

// reorgAfterChoice is the index, as the sequencer sees it, with a Bitcoin
// reorg landing right after the first view choice: while the block on
// that view is being finished and sealed.
type reorgAfterChoice struct {
	*indexBitcoin
	once  sync.Once
	reorg func()
}

func (r *reorgAfterChoice) MainChainAt(height int32) (hvm.Header, error) {
	v, err := r.indexBitcoin.MainChainAt(height)
	r.once.Do(r.reorg)
	return v, err
}

// TestBuildAfterBitcoinReorg: after the sequencer chose the view of its
// next block (old branch block 10) and before it committed the block, the
// index reorganizes onto a heavier fork from block 8. The committed
// block's view is on the new most-work chain, built again on it, not the
// old branch's block 10, which the rules alone would still accept (it
// extends the parent's view). The re-check runs before the Committer:
// the block on the moved view never reaches it.
func TestBuildAfterBitcoinReorg(t *testing.T) {
	e := newEnv(t, 12, 2)
	fork := e.f.Fork(t, 8, 6) // 9'..14': more work than 1..12
	p := e.newPool("", txpool.Config{})
	btc := &reorgAfterChoice{indexBitcoin: e.btc, reorg: func() { indextest.Feed(t, e.ix, fork) }}
	var committed []*chain.Built
	commit := CommitFunc(func(b *chain.Built) error {
		committed = append(committed, b)
		return e.chain.CommitBuilt(b)
	})
	s, err := New(Config{Chain: e.chain, Pool: p, Committer: commit, Bitcoin: btc, Key: seqKey, BlockTime: 2 * time.Second,
		Clock: e.clock, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Second)
	b, err := s.BuildNext()
	if err != nil {
		t.Fatal(err)
	}
	ex, err := block.DecodeExtra(b.Header.Extra)
	if err != nil {
		t.Fatal(err)
	}
	tip, _ := e.ix.BlockTip()
	if tip != fork[len(fork)-1].BlockHash() {
		t.Fatal("setup: the index did not reorganize onto the fork")
	}
	if on, err := e.btc.Contains(ex.BitcoinHash, tip); err != nil || !on {
		t.Fatalf("block 1's view %s@%d is not on the most-work chain after the reorg (%v)", ex.BitcoinHash, ex.BitcoinHeight, err)
	}
	if want := fork[len(fork)-1-int(s.cfg.ViewLag)].BlockHash(); ex.BitcoinHash != want {
		t.Fatalf("view %s@%d, want the fork's tip - lag %s", ex.BitcoinHash, ex.BitcoinHeight, want)
	}
	if len(committed) != 1 || committed[0].Block.Hash() != b.Hash() {
		t.Fatalf("the Committer got %d blocks, want only the one built on the new view", len(committed))
	}
}

// TestStartAtOnce: a producer started with StartAtOnce (a raft group's
// new leader) builds its first block without waiting for its due time,
// timestamped parent+1 s, and then keeps the regular schedule from it.
func TestStartAtOnce(t *testing.T) {
	e := newEnv(t, 8, 3)
	p := e.newPool("", txpool.Config{})
	runPool(t, p)
	s, err := New(Config{Chain: e.chain, Pool: p, Committer: CommitFunc(e.chain.CommitBuilt), Bitcoin: e.btc, Key: seqKey,
		BlockTime: 2 * time.Second, StartAtOnce: true, Clock: e.clock, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	gen := e.chain.Head().Time
	// The clock stands still: block 1 (due at gen+2) comes at once.
	waitFor(t, "the first block at once", func() bool { return e.chain.Head().Number.Uint64() == 1 })
	if h := e.chain.Head(); h.Time != gen+1 {
		t.Fatalf("first block at time %d, want parent+1 = %d", h.Time, gen+1)
	}
	// Block 2 is due a block time after block 1's timestamp, not at once.
	waitFor(t, "the sequencer to wait", func() bool { return e.clock.Waiters() >= 2 })
	e.clock.Advance(2 * time.Second)
	if n := e.chain.Head().Number.Uint64(); n != 1 {
		t.Fatalf("block %d built before its due time", n)
	}
	e.clock.Advance(time.Second)
	waitFor(t, "block 2", func() bool { return e.chain.Head().Number.Uint64() == 2 })
	if h := e.chain.Head(); h.Time != gen+3 {
		t.Fatalf("block 2 at time %d, want %d", h.Time, gen+3)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestStartDue(t *testing.T) {
	now := time.Unix(1_700_000_000, 300_000_000)
	for _, tc := range []struct {
		name   string
		parent uint64
		due    time.Time
		want   time.Time
		moved  bool
	}{
		{"due later: now", 1_700_000_000, time.Unix(1_700_000_001, 0), now, true},
		{"due already: unchanged", 1_699_999_998, time.Unix(1_699_999_999, 0), time.Unix(1_699_999_999, 0), false},
		{"parent ahead of the clock: unchanged", 1_700_000_001, time.Unix(1_700_000_002, 0), time.Unix(1_700_000_002, 0), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, moved := startDue(tc.parent, tc.due, now)
			if !got.Equal(tc.want) || moved != tc.moved {
				t.Fatalf("startDue = %v, %v; want %v, %v", got, moved, tc.want, tc.moved)
			}
		})
	}
}
