package tbc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/p2p"
)

// The index is the chain the P2P client feeds (asserted here, where the
// two are put together, so the index imports nothing of the client).
var _ p2p.Chain = (*index.Index)(nil)

// Config configures a Service. It is read once by New.
type Config struct {
	// Params are the Bitcoin network's parameters. Required.
	Params *chaincfg.Params
	// DataDir is where the index lives (a "tbc" folder is made inside).
	DataDir string
	// Peers are the Bitcoin peers (host:port) to sync from. Required.
	Peers []string
	// MaxPeers caps outbound connections (0: the client's default).
	MaxPeers int
	// BanDuration is how long a misbehaving peer stays banned.
	BanDuration time.Duration
	// API is the listen address of the query API; empty turns it off.
	API string
	// Progress is how often the sync progress line is logged (0: never).
	Progress time.Duration
	// Logger receives the service's logs. Required.
	Logger *slog.Logger
	// Registerer gets the index's and client's metrics; may be nil.
	Registerer prometheus.Registerer

	// Index tunes the index; Dir, Params, Logger and Registerer are set by
	// New from the fields above.
	Index index.Config
}

// Service is a running Bitcoin layer.
type Service struct {
	cfg    Config
	log    *slog.Logger
	ix     *index.Index
	client *p2p.Client
	api    *apiServer
	fees   *index.FeeEstimator
}

// New opens the index and prepares the client; Run starts them.
func New(cfg Config) (*Service, error) {
	if cfg.Params == nil || cfg.Logger == nil {
		return nil, errors.New("tbc: Config.Params and Config.Logger are required")
	}
	if len(cfg.Peers) == 0 {
		return nil, errors.New("tbc: no Bitcoin peers configured: pass --peer host:port (or set btc.peers in the config file)")
	}
	icfg := cfg.Index
	icfg.Dir = filepath.Join(cfg.DataDir, "tbc")
	icfg.Params = cfg.Params
	icfg.Logger = cfg.Logger.With("subsystem", "index")
	icfg.Registerer = cfg.Registerer
	ix, err := index.Open(icfg)
	if err != nil {
		return nil, fmt.Errorf("tbc: open index in %s: %w", icfg.Dir, err)
	}
	client, err := p2p.New(p2p.Config{
		Params:      cfg.Params,
		Peers:       cfg.Peers,
		MaxPeers:    cfg.MaxPeers,
		BanDuration: cfg.BanDuration,
		Logger:      cfg.Logger.With("subsystem", "p2p"),
		Registerer:  cfg.Registerer,
	}, ix)
	if err != nil {
		ix.Close()
		return nil, fmt.Errorf("tbc: %w", err)
	}
	s := &Service{cfg: cfg, log: cfg.Logger.With("subsystem", "tbc"), ix: ix, client: client,
		fees: index.NewFeeEstimator(ix, 0, 0)}
	if cfg.API != "" {
		s.api = newAPIServer(s)
	}
	return s, nil
}

// Index returns the service's index, for in-process consumers.
func (s *Service) Index() *index.Index { return s.ix }

// BlockTip returns the tip of the indexed chain.
func (s *Service) BlockTip() (chainhash.Hash, int32) { return s.ix.BlockTip() }

// Progress returns the client's sync status.
func (s *Service) Progress() p2p.Progress { return s.client.Progress() }

// Broadcast sends tx to the connected peers and reports their verdicts.
func (s *Service) Broadcast(ctx context.Context, tx *wire.MsgTx) (p2p.BroadcastResult, error) {
	return s.client.Broadcast(ctx, tx)
}

// FeeRate estimates the fee rate (sat/vB) for confirmation within target
// blocks from the last blocks of the index (index.FeeEstimator.Estimate),
// and the block tip it is as of.
func (s *Service) FeeRate(target int) (int64, chainhash.Hash, error) { return s.fees.Estimate(target) }

// Run syncs and serves until ctx is done, then closes the index.
func (s *Service) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.client.Run(ctx) })
	if s.api != nil {
		g.Go(func() error { return s.api.run(ctx, s.cfg.API) })
	}
	if s.cfg.Progress > 0 {
		g.Go(func() error { return s.progressLoop(ctx) })
	}
	err := g.Wait()
	if cerr := s.ix.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("tbc: close index: %w", cerr)
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

func (s *Service) progressLoop(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Progress)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.log.Info("bitcoin sync", "progress", s.client.Progress())
		}
	}
}
