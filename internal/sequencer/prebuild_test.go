package sequencer

import (
	"context"
	"errors"
	"log/slog"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/txpool/legacypool"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/hemi-go/hemi/internal/btc/indextest"
	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/txpool"
)

// TestBuildAhead: a block executed in steps before its tick holds every
// transaction pending at the tick, each step's in Order's order after
// the previous steps', a nonce gap filled at a later step included; a
// block built ahead on a view that moved before the tick is built again
// on the tick's view; a slot on an old parent is dropped. A follower
// accepts every block.
func TestBuildAhead(t *testing.T) {
	e := newEnv(t, 8, 3)
	p := e.newPool("", txpool.Config{})
	runPool(t, p)
	s := e.newSequencer(p)
	follower := e.newChain("")
	to := common.Address{0x71}
	add := func(txs ...*types.Transaction) {
		t.Helper()
		for i, err := range p.Add(txs) {
			if err != nil {
				t.Fatalf("tx %d: %v", i, err)
			}
		}
		if err := p.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	follow := func(b *chain.Block) {
		t.Helper()
		if err := follower.InsertBlock(b); err != nil {
			t.Fatalf("follower rejects block %d: %v", b.Header.Number, err)
		}
	}
	hashes := func(txs []*types.Transaction) []common.Hash {
		out := make([]common.Hash, len(txs))
		for i, tx := range txs {
			out[i] = tx.Hash()
		}
		return out
	}

	t.Run("steps", func(t *testing.T) {
		head := e.chain.Head()
		a := e.transfer(dev[0].Key, 0, to, 1, 1)
		add(a)
		sl := s.prebuild(nil, head)
		if sl == nil || sl.b.Len() != 1 || sl.time != head.Time+2 {
			t.Fatalf("slot %+v", sl)
		}
		b := e.transfer(dev[0].Key, 1, to, 1, 1)
		c := e.transfer(dev[1].Key, 0, to, 1, 5)
		gap := e.transfer(dev[2].Key, 1, to, 1, 9)
		add(b, c, gap)
		if sl = s.prebuild(sl, head); sl.b.Len() != 3 || sl.steps != 2 {
			t.Fatalf("after step 2: %d txs, %d steps", sl.b.Len(), sl.steps)
		}
		fill := e.transfer(dev[2].Key, 0, to, 1, 2)
		add(fill)
		e.clock.Advance(2 * time.Second)
		blk, err := s.build(sl)
		if err != nil {
			t.Fatal(err)
		}
		want := []common.Hash{a.Hash(), c.Hash(), b.Hash(), fill.Hash(), gap.Hash()}
		if got := hashes(blk.Body.Txs); !equalHashes(got, want) {
			t.Fatalf("block txs %v, want %v", got, want)
		}
		follow(blk)
		waitFor(t, "the pool to drop included txs", func() bool { np, _ := p.Stats(); return np == 0 })
	})

	t.Run("view moved before the tick", func(t *testing.T) {
		head := e.chain.Head()
		tx := e.transfer(dev[0].Key, 2, to, 1, 1)
		add(tx)
		sl := s.prebuild(nil, head)
		if sl == nil || sl.view.Height != 6 {
			t.Fatalf("slot %+v", sl)
		}
		indextest.Feed(t, e.ix, newBTCFixture(t, 10).Blocks[8:])
		e.clock.Advance(2 * time.Second)
		blk, err := s.build(sl)
		if err != nil {
			t.Fatal(err)
		}
		if ex, _ := block.DecodeExtra(blk.Header.Extra); ex.BitcoinHeight != 8 {
			t.Fatalf("view height %d, want tip 10 - lag 2 = 8", ex.BitcoinHeight)
		}
		if len(blk.Body.Txs) != 1 || blk.Body.Txs[0].Hash() != tx.Hash() {
			t.Fatalf("block txs %v", hashes(blk.Body.Txs))
		}
		follow(blk)
	})

	t.Run("parent moved", func(t *testing.T) {
		head := e.chain.Head()
		sl := s.prebuild(nil, head)
		e.clock.Advance(2 * time.Second)
		blk, err := s.BuildNext()
		if err != nil {
			t.Fatal(err)
		}
		follow(blk)
		sl = s.prebuild(sl, e.chain.Head())
		if sl == nil || sl.parent != blk.Hash() || sl.steps != 1 {
			t.Fatalf("slot after the head moved: %+v", sl)
		}
		sl.b.Discard()
	})
}

func equalHashes(a, b []common.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestUniqueSkipped: a transaction skipped at several steps is reported
// once, with its last reason, and not at all if a later step included it.
func TestUniqueSkipped(t *testing.T) {
	e := newEnv(t, 8, 3)
	x := e.transfer(dev[0].Key, 0, common.Address{1}, 1, 1)
	y := e.transfer(dev[1].Key, 0, common.Address{1}, 1, 1)
	z := e.transfer(dev[2].Key, 0, common.Address{1}, 1, 1)
	gap, full := core.ErrNonceTooHigh, core.ErrGasLimitReached
	for _, tc := range []struct {
		name     string
		skipped  []chain.Skipped
		included []*types.Transaction
		want     []*types.Transaction
		wantErr  []error
	}{
		{"none", nil, nil, nil, nil},
		{"once each", []chain.Skipped{{Tx: x, Err: gap}, {Tx: y, Err: full}}, nil, []*types.Transaction{x, y}, []error{gap, full}},
		{"twice, last reason", []chain.Skipped{{Tx: x, Err: gap}, {Tx: y, Err: gap}, {Tx: x, Err: full}}, nil,
			[]*types.Transaction{x, y}, []error{full, gap}},
		{"included later", []chain.Skipped{{Tx: x, Err: gap}, {Tx: z, Err: gap}}, []*types.Transaction{x},
			[]*types.Transaction{z}, []error{gap}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := uniqueSkipped(tc.skipped, tc.included)
			if len(got) != len(tc.want) {
				t.Fatalf("%d skipped, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if got[i].Tx != tc.want[i] || !errors.Is(got[i].Err, tc.wantErr[i]) {
					t.Fatalf("skipped %d: %s %v", i, got[i].Tx.Hash(), got[i].Err)
				}
			}
		})
	}
}

// TestOneSenderRecovery: the RPC layer, the pool and the block builder
// recover a transaction's sender with Equal signers, so types.Sender's
// cache makes it one secp256k1 recovery per transaction.
func TestOneSenderRecovery(t *testing.T) {
	e := newEnv(t, 8, 3)
	cfg := e.chain.Config().ChainConfig
	pool := types.LatestSigner(cfg) // legacypool's and the RPC batch path's
	for _, tc := range []struct {
		name   string
		number uint64
		time   uint64
	}{
		{"genesis", 0, e.chain.Head().Time},
		{"next block", 1, e.chain.Head().Time + 2},
		{"far ahead", 1 << 30, 1 << 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &types.Header{Number: new(big.Int).SetUint64(tc.number), Time: tc.time}
			if builder := types.MakeSigner(cfg, h.Number, h.Time); !builder.Equal(pool) {
				t.Fatalf("block %d signer %T is not the pool's %T", tc.number, builder, pool)
			}
		})
	}
}

// TestRunBuildsAhead: Run executes what becomes pending at each Ahead
// step before the tick, so the block holds the steps in arrival order
// (a from-scratch build would put the late high-tip transfer first), and
// it is sealed only at the tick.
func TestRunBuildsAhead(t *testing.T) {
	e := newEnv(t, 8, 3)
	p := e.newPool("", txpool.Config{})
	runPool(t, p)
	s, err := New(Config{Chain: e.chain, Pool: p, Committer: CommitFunc(e.chain.CommitBuilt), Bitcoin: e.btc, Key: seqKey, BlockTime: 2 * time.Second,
		Ahead: 500 * time.Millisecond, Clock: e.clock, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	to := common.Address{0x72}
	add := func(txs ...*types.Transaction) {
		t.Helper()
		for i, err := range p.Add(txs) {
			if err != nil {
				t.Fatalf("tx %d: %v", i, err)
			}
		}
		if err := p.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	// The loop and the pool-stats goroutine both wait on the clock: a
	// step has run when the loop waits again.
	step := func() {
		t.Helper()
		waitFor(t, "the sequencer to wait", func() bool { return e.clock.Waiters() >= 2 })
		e.clock.Advance(500 * time.Millisecond)
		waitFor(t, "the step to run", func() bool { return e.clock.Waiters() >= 2 })
	}
	a := e.transfer(dev[0].Key, 0, to, 1, 1)
	add(a)
	step()
	b, c := e.transfer(dev[0].Key, 1, to, 1, 1), e.transfer(dev[1].Key, 0, to, 1, 5)
	add(b, c)
	step()
	d := e.transfer(dev[2].Key, 0, to, 1, 9)
	add(d)
	step()
	if n := e.chain.Head().Number.Uint64(); n != 0 {
		t.Fatalf("block %d sealed before its tick", n)
	}
	e.clock.Advance(500 * time.Millisecond)
	waitFor(t, "block 1", func() bool { return e.chain.Head().Number.Uint64() == 1 })
	blk, err := e.chain.BlockByNumber(1)
	if err != nil {
		t.Fatal(err)
	}
	want := []common.Hash{a.Hash(), c.Hash(), b.Hash(), d.Hash()}
	got := make([]common.Hash, len(blk.Body.Txs))
	for i, tx := range blk.Body.Txs {
		got[i] = tx.Hash()
	}
	if !equalHashes(got, want) {
		t.Fatalf("block txs %v, want the steps' order %v", got, want)
	}
	if blk.Header.Time != e.spec.Timestamp+2 {
		t.Fatalf("block time %d", blk.Header.Time)
	}
	if err := e.newChain("").InsertBlock(blk); err != nil {
		t.Fatalf("a follower rejects the block built ahead: %v", err)
	}
}

// TestPendingFrom: PendingFrom is Pending without what a block being
// built has executed already, with Pending's fee filter.
func TestPendingFrom(t *testing.T) {
	e := newEnv(t, 8, 3)
	p := e.newPool("", txpool.Config{Limits: legacypool.Config{PriceLimit: 2 * params.GWei}})
	runPool(t, p)
	to := common.Address{0x73}
	var txs []*types.Transaction
	for n := range uint64(4) {
		txs = append(txs, e.transfer(dev[0].Key, n, to, 1, 3))
	}
	txs = append(txs, e.transfer(dev[1].Key, 0, to, 1, 9), e.transfer(dev[1].Key, 1, to, 1, 2),
		e.transfer(dev[2].Key, 0, to, 1, 2), e.transfer(dev[3].Key, 2, to, 1, 5)) // dev3: a gap, queued
	for i, err := range p.Add(txs) {
		if err != nil {
			t.Fatalf("tx %d: %v", i, err)
		}
	}
	if err := p.Sync(); err != nil {
		t.Fatal(err)
	}
	gwei := func(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(params.GWei)) }
	for _, tc := range []struct {
		name    string
		baseFee *big.Int
		next    map[common.Address]uint64
	}{
		{"nothing executed, no base fee", nil, nil},
		{"nothing executed", gwei(1), nil},
		{"part of a sender", gwei(1), map[common.Address]uint64{dev[0].Address: 2}},
		{"a sender done", gwei(1), map[common.Address]uint64{dev[0].Address: 4, dev[1].Address: 1}},
		{"past the pool's nonces", gwei(1), map[common.Address]uint64{dev[0].Address: 9}},
		{"a base fee that cuts the low tips", gwei(101), nil},
		{"cut after the executed ones", gwei(101), map[common.Address]uint64{dev[1].Address: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := p.PendingFrom(tc.baseFee, func(a common.Address) uint64 { return tc.next[a] })
			want := map[common.Address][]*types.Transaction{}
			for from, list := range p.Pending(tc.baseFee) {
				var keep []*types.Transaction
				for _, tx := range list {
					if tx.Nonce() >= tc.next[from] {
						keep = append(keep, tx)
					}
				}
				if len(keep) > 0 {
					want[from] = keep
				}
			}
			if len(got) != len(want) {
				t.Fatalf("%d senders, want %d", len(got), len(want))
			}
			for from, list := range want {
				if !equalHashes(hashList(got[from]), hashList(list)) {
					t.Fatalf("%s: %d txs, want %d", from, len(got[from]), len(list))
				}
			}
		})
	}
}

func hashList(txs []*types.Transaction) []common.Hash {
	out := make([]common.Hash, len(txs))
	for i, tx := range txs {
		out[i] = tx.Hash()
	}
	return out
}

// TestAheadFor: the operator's strict-tip-order setting turns building
// ahead off; otherwise New takes the default steps.
func TestAheadFor(t *testing.T) {
	e := newEnv(t, 1, 1)
	p := e.newPool("", txpool.Config{})
	for _, tc := range []struct {
		name   string
		strict bool
		want   time.Duration
	}{
		{"strict tip order builds at the tick", true, -1},
		{"default steps of a tenth of the block time", false, 200 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Config{Chain: e.chain, Pool: p, Committer: CommitFunc(e.chain.CommitBuilt), Bitcoin: e.btc, Key: seqKey, BlockTime: 2 * time.Second,
				Ahead: AheadFor(tc.strict), Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			if s.cfg.Ahead != tc.want {
				t.Fatalf("Ahead %v, want %v", s.cfg.Ahead, tc.want)
			}
		})
	}
}
