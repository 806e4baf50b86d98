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
	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
)

// Config configures a Sequencer. It is not modified after New.
type Config struct {
	// Chain is the chain the sequencer extends; it must list Key's
	// address among its sequencers.
	Chain *chain.Chain
	// Pool supplies the user transactions. Its Run is the caller's.
	Pool *Pool
	// Bitcoin answers the view choice (NewIndexBitcoin over the index
	// the chain uses).
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
	// Clock defaults to SystemClock.
	Clock Clock
	// Logger defaults to slog.Default() with subsystem=sequencer.
	Logger     *slog.Logger
	Registerer prometheus.Registerer
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
	if cfg.Chain == nil || cfg.Pool == nil || cfg.Bitcoin == nil || cfg.Key == nil {
		return nil, errors.New("sequencer: Config needs Chain, Pool, Bitcoin and Key")
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
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
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
		"head", s.cfg.Chain.Head().Number)
	for {
		head := s.cfg.Chain.Head()
		wait := NextDue(head.Time, s.cfg.BlockTime).Sub(s.cfg.Clock.Now())
		if wait > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-s.cfg.Clock.After(wait):
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		_, err := s.BuildNext()
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
// it on schedule; tests may call it directly.
func (s *Sequencer) BuildNext() (*chain.Block, error) {
	start := time.Now()
	c := s.cfg.Chain
	head := c.Head()
	var parent *block.Extra
	if e, err := block.DecodeExtra(head.Extra); err == nil {
		parent = &e
	} else if head.Number.Sign() != 0 {
		return nil, fmt.Errorf("sequencer: head %d extra: %w", head.Number, err)
	}
	view, err := ChooseView(c.Rules(), s.cfg.Bitcoin, parent, s.cfg.ViewLag)
	if err != nil {
		return nil, fmt.Errorf("sequencer: choose view for block %d: %w", head.Number.Uint64()+1, err)
	}
	baseFee := eip1559.CalcBaseFee(c.Config().ChainConfig, head)
	txs := Order(s.cfg.Pool.Pending(baseFee), baseFee)
	built, err := c.BuildBlock(chain.BuildParams{
		Parent:   head,
		Time:     Timestamp(head.Time, s.cfg.Clock.Now()),
		View:     view,
		Coinbase: s.cfg.Coinbase,
		Txs:      txs,
	})
	if err != nil {
		return nil, fmt.Errorf("sequencer: build block %d: %w", head.Number.Uint64()+1, err)
	}
	if err := block.Seal(built.Block.Header, s.cfg.Key); err != nil {
		return nil, fmt.Errorf("sequencer: seal block %d: %w", head.Number.Uint64()+1, err)
	}
	if err := c.CommitBuilt(built); err != nil {
		return nil, fmt.Errorf("sequencer: commit block %d: %w", head.Number.Uint64()+1, err)
	}
	b := built.Block
	n := len(b.Body.Txs)
	s.metrics.blocks.Inc()
	s.metrics.txs.Add(float64(n))
	s.metrics.skipped.Add(float64(len(built.Skipped)))
	s.metrics.buildTime.Observe(time.Since(start).Seconds())
	s.metrics.viewHeight.Set(float64(view.Height))
	s.metrics.headNumber.Set(float64(b.Header.Number.Uint64()))
	for _, sk := range built.Skipped {
		s.log.Debug("transaction left out", "tx", sk.Tx.Hash(), "err", sk.Err)
	}
	s.log.Info("block built", "number", b.Header.Number, "hash", b.Hash(), "txs", n, "system_txs", len(b.Body.SystemTxs),
		"gas_used", b.Header.GasUsed, "btc_view", view.Height, "skipped", len(built.Skipped), "took", time.Since(start).Round(time.Microsecond))
	return b, nil
}
