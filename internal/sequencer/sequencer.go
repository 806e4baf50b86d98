package sequencer

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/clock"
	"github.com/hemi-go/hemi/internal/hvm"
)

// Config configures a Sequencer. It is not modified after New.
type Config struct {
	// Chain is the chain the sequencer extends; it must list Key's
	// address among its sequencers.
	Chain Chain
	// Pool supplies the user transactions. Its Run is the caller's.
	Pool Pool
	// Committer takes each sealed block (the assembly's: today the
	// chain's CommitBuilt).
	Committer Committer
	// Bitcoin answers the view choice (node.Bitcoin over the index the
	// chain uses).
	Bitcoin Bitcoin
	// Key seals blocks. Read it from a file or the environment, never a
	// flag (LoadKey).
	Key *ecdsa.PrivateKey
	// BlockTime is the spacing of blocks (the genesis config's BlockTime;
	// default 2 s). Blocks are built on time, empty or not.
	BlockTime time.Duration
	// ViewLag is how many blocks the view trails the Bitcoin tip (default:
	// the chain's rule, itself at least 0).
	ViewLag uint32
	// Coinbase receives the priority fees (default: Key's address).
	Coinbase common.Address
	// Retry is how long to wait before trying again when no Bitcoin view
	// is acceptable yet or a build failed (default BlockTime/4).
	Retry time.Duration
	// Ahead is how often, between two blocks, the next block executes
	// the transactions that became pending since its last step, so that
	// at the tick only the newest are left to execute before the block is
	// sealed and committed (default BlockTime/10; negative: execute
	// everything at the tick). A block built ahead holds the increments
	// in the order they were executed, each ordered as Order orders.
	Ahead time.Duration
	// StartAtOnce makes Run build its first block at once instead of at
	// its due time, when the head's timestamp is not ahead of the clock:
	// the block's timestamp is then the parent's plus one second (at most
	// one second ahead of the clock, within the chain's MaxFuture) and
	// the schedule continues from it. A raft group's new leader runs its
	// producer so (internal/node): a killed leader's successor would
	// otherwise wait up to one block time for the due time, which was
	// most of a failover (issue 10: kill to next block p50 <= 500 ms).
	StartAtOnce bool
	// Clock defaults to clock.System (the wall clock).
	Clock clock.Clock
	// Logger defaults to slog.Default() with subsystem=sequencer.
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// AheadFor is Config.Ahead for an operator's strict-tip-order setting
// (config sequencer.strict_tip_order): strict turns building ahead off,
// so every block executes at its tick with all its user transactions
// ordered by effective tip; otherwise the default steps.
func AheadFor(strictTipOrder bool) time.Duration {
	if strictTipOrder {
		return -1
	}
	return 0
}

// Sequencer builds, seals and commits a block every BlockTime.
type Sequencer struct {
	cfg     Config
	addr    common.Address
	log     *slog.Logger
	metrics *metrics
}

// New checks cfg and returns a Sequencer.
func New(cfg Config) (*Sequencer, error) {
	if cfg.Chain == nil || cfg.Pool == nil || cfg.Committer == nil || cfg.Bitcoin == nil || cfg.Key == nil {
		return nil, errors.New("sequencer: Config needs Chain, Pool, Committer, Bitcoin and Key")
	}
	addr := crypto.PubkeyToAddress(cfg.Key.PublicKey)
	if !slices.Contains(cfg.Chain.Rules().Sequencers, addr) {
		return nil, fmt.Errorf("sequencer: key %s is not a sequencer of this chain (genesis config sequencers: %v)", addr, cfg.Chain.Rules().Sequencers)
	}
	if cfg.BlockTime <= 0 {
		cfg.BlockTime = 2 * time.Second
	}
	if cfg.BlockTime < time.Second {
		return nil, fmt.Errorf("sequencer: block time %v below the 1 s timestamp resolution", cfg.BlockTime)
	}
	if cfg.ViewLag < cfg.Chain.Rules().ViewLag {
		cfg.ViewLag = cfg.Chain.Rules().ViewLag
	}
	if cfg.Coinbase == (common.Address{}) {
		cfg.Coinbase = addr
	}
	if cfg.Retry <= 0 {
		cfg.Retry = cfg.BlockTime / 4
	}
	if cfg.Ahead == 0 {
		cfg.Ahead = cfg.BlockTime / 10
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default().With("subsystem", "sequencer")
	}
	return &Sequencer{cfg: cfg, addr: addr, log: cfg.Logger, metrics: newMetrics(cfg.Registerer)}, nil
}

// Address is the sequencer's sealing address.
func (s *Sequencer) Address() common.Address { return s.addr }

// Run builds blocks until ctx is done. A build that cannot happen (no
// acceptable Bitcoin view yet, a failed execution) is retried after
// Config.Retry; it never ends Run. Run returns nil when ctx is done and
// an error only when the chain is closed under it.
func (s *Sequencer) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.loop(ctx) })
	g.Go(func() error { return s.poolStats(ctx) })
	return g.Wait()
}

func (s *Sequencer) poolStats(ctx context.Context) error {
	for {
		p, q := s.cfg.Pool.Stats()
		s.metrics.poolPending.Set(float64(p))
		s.metrics.poolQueued.Set(float64(q))
		select {
		case <-ctx.Done():
			return nil
		case <-s.cfg.Clock.After(time.Second):
		}
	}
}

func (s *Sequencer) loop(ctx context.Context) error {
	s.log.Info("sequencer started", "address", s.addr, "block_time", s.cfg.BlockTime, "view_lag", s.cfg.ViewLag,
		"head", s.cfg.Chain.Head().Number, "ahead", s.cfg.Ahead)
	var sl *slot
	defer func() {
		if sl != nil {
			sl.b.Discard()
		}
	}()
	first := s.cfg.StartAtOnce
	for {
		head := s.cfg.Chain.Head()
		due := NextDue(head.Time, s.cfg.BlockTime)
		if first {
			first = false
			if at, ok := startDue(head.Time, due, s.cfg.Clock.Now()); ok {
				s.log.Info("producer starts: first block at once", "number", head.Number.Uint64()+1, "due", due, "early", due.Sub(at))
				due = at
			}
		}
		for wait := due.Sub(s.cfg.Clock.Now()); wait > 0; wait = due.Sub(s.cfg.Clock.Now()) {
			if s.cfg.Ahead > 0 {
				wait = min(wait, s.cfg.Ahead)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-s.cfg.Clock.After(wait):
			}
			if s.cfg.Ahead > 0 && s.cfg.Clock.Now().Before(due) {
				sl = s.prebuild(sl, head)
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		_, err := s.build(sl)
		sl = nil // build finished or discarded it
		switch {
		case err == nil:
			continue
		case errors.Is(err, chain.ErrClosed):
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("sequencer: %w", err)
		case errors.Is(err, chain.ErrViewNotReady):
			s.metrics.notReady.Inc()
			s.log.Debug("waiting for Bitcoin: no acceptable view yet", "err", err)
		default:
			s.metrics.failures.Inc()
			s.log.Warn("block build failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.cfg.Clock.After(s.cfg.Retry):
		}
	}
}

// BuildNext builds one block on the head now: it chooses the view, orders
// the pool's pending transactions, executes, seals and commits. Run calls
// it on schedule (having executed most of the block ahead of the tick);
// tests may call it directly.
func (s *Sequencer) BuildNext() (*chain.Block, error) { return s.build(nil) }

// viewAttempts bounds how many times build starts a block again because
// the Bitcoin view moved while it was being finished.
const viewAttempts = 3

// errViewMoved: the view chosen for a block left the most-work chain
// (a Bitcoin reorg) while the block was being finished and sealed.
var errViewMoved = errors.New("sequencer: the bitcoin view moved while the block was built")

// build is buildOnce, started again from scratch when the Bitcoin view
// moved while the block was being finished (a Bitcoin reorg lands at any
// moment; the block is then built on the view chosen anew).
func (s *Sequencer) build(sl *slot) (*chain.Block, error) {
	for attempt := 1; ; attempt++ {
		b, err := s.buildOnce(sl)
		sl = nil // finished or discarded
		if !errors.Is(err, errViewMoved) || attempt == viewAttempts {
			return b, err
		}
		s.log.Info("bitcoin view moved while the block was built; building it again", "err", err, "attempt", attempt)
	}
}

// viewHolds checks, right before commit, the view chosen for the block
// after head when its building began: it must still be on the connected
// (most-work) chain, or be what ChooseView picks now (the parent's view,
// kept while nothing better is acceptable). A Bitcoin reorg while the
// block was finished (or built ahead) breaks this; the view rules
// themselves are checked again by CommitBuilt.
func (s *Sequencer) viewHolds(head *types.Header, view hvm.Header) error {
	if mc, err := s.cfg.Bitcoin.MainChainAt(view.Height); err == nil && mc.Hash == view.Hash {
		return nil
	}
	now, err := s.chooseView(head)
	if err != nil {
		return err
	}
	if now.Hash != view.Hash {
		return fmt.Errorf("%w: view %s@%d is no longer on the most-work chain; it is now %s@%d", errViewMoved,
			view.Hash, view.Height, now.Hash, now.Height)
	}
	return nil
}

// buildOnce is BuildNext finishing sl, the block built ahead, when it
// still fits: same parent, view and timestamp as the block due now;
// otherwise sl is discarded and the block is built from scratch.
func (s *Sequencer) buildOnce(sl *slot) (*chain.Block, error) {
	start := time.Now()
	c := s.cfg.Chain
	head := c.Head()
	view, err := s.chooseView(head)
	if err != nil {
		if sl != nil {
			sl.b.Discard()
		}
		return nil, err
	}
	ts := Timestamp(head.Time, s.cfg.Clock.Now())
	ahead := 0
	if sl != nil && (sl.parent != head.Hash() || sl.view != view || sl.time != ts) {
		s.log.Debug("block built ahead no longer fits; building it again", "number", head.Number.Uint64()+1,
			"view", view.Height, "ahead_view", sl.view.Height, "time", ts, "ahead_time", sl.time)
		sl.b.Discard()
		sl = nil
	}
	if sl == nil {
		if sl, err = s.openSlot(head, view, ts); err != nil {
			return nil, fmt.Errorf("sequencer: build block %d: %w", head.Number.Uint64()+1, err)
		}
	} else {
		ahead = sl.b.Len()
		sl.extend(s.cfg.Pool)
	}
	built, err := sl.b.Finish()
	if err != nil {
		return nil, fmt.Errorf("sequencer: build block %d: %w", head.Number.Uint64()+1, err)
	}
	if err := block.Seal(built.Block.Header, s.cfg.Key); err != nil {
		return nil, fmt.Errorf("sequencer: seal block %d: %w", head.Number.Uint64()+1, err)
	}
	if err := s.viewHolds(head, view); err != nil {
		return nil, fmt.Errorf("sequencer: commit block %d: %w", head.Number.Uint64()+1, err)
	}
	if err := s.cfg.Committer.Commit(built); err != nil {
		return nil, fmt.Errorf("sequencer: commit block %d: %w", head.Number.Uint64()+1, err)
	}
	b := built.Block
	n := len(b.Body.Txs)
	skipped := uniqueSkipped(built.Skipped, b.Body.Txs)
	s.metrics.blocks.Inc()
	s.metrics.txs.Add(float64(n))
	s.metrics.skipped.Add(float64(len(skipped)))
	s.metrics.buildTime.Observe(time.Since(start).Seconds())
	s.metrics.viewHeight.Set(float64(view.Height))
	s.metrics.headNumber.Set(float64(b.Header.Number.Uint64()))
	for _, sk := range skipped {
		s.log.Debug("transaction left out", "tx", sk.Tx.Hash(), "err", sk.Err)
	}
	s.log.Info("block built", "number", b.Header.Number, "hash", b.Hash(), "txs", n, "ahead", ahead, "steps", sl.steps,
		"system_txs", len(b.Body.SystemTxs), "gas_used", b.Header.GasUsed, "btc_view", view.Height, "skipped", len(skipped),
		"took", time.Since(start).Round(time.Microsecond))
	return b, nil
}

// uniqueSkipped keeps the last reason each transaction left out of the
// block was skipped for (a block built ahead may try one at several
// steps, and include it at a later one), in first-skip order.
func uniqueSkipped(sk []chain.Skipped, included []*types.Transaction) []chain.Skipped {
	last := make(map[common.Hash]int, len(sk))
	in := make(map[common.Hash]bool, len(included))
	if len(sk) > 0 {
		for _, tx := range included {
			in[tx.Hash()] = true
		}
	}
	var out []chain.Skipped
	for _, x := range sk {
		h := x.Tx.Hash()
		if in[h] {
			continue
		}
		if i, ok := last[h]; ok {
			out[i] = x
			continue
		}
		last[h] = len(out)
		out = append(out, x)
	}
	return out
}
