package main

import (
	"context"
	"log/slog"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/urfave/cli/v3"
	"golang.org/x/sync/errgroup"

	"github.com/hemi-go/hemi/internal/btc/network"
	"github.com/hemi-go/hemi/internal/config"
	"github.com/hemi-go/hemi/internal/metrics"
	"github.com/hemi-go/hemi/internal/tbc"
)

func tbcCommand() *cli.Command {
	return &cli.Command{
		Name:  "tbc",
		Usage: "run the Bitcoin node and indexer against Bitcoin peers",
		Description: "Syncs headers and blocks over the Bitcoin P2P protocol from --peer, indexes them,\n" +
			"logs progress, and serves the query API that `hemi btc` uses.\n\n" +
			"Example: hemi tbc --network regtest --peer 127.0.0.1:18444",
		Flags: btcFlags(),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			cfg, _, err := loadConfig(cmd, keyUse{uses: []string{"datadir", "log", "metrics", "btc"}})
			if err != nil {
				return err
			}
			return runTBC(ctx, cfg)
		},
	}
}

// tbcConfig maps the node configuration onto the service's.
func tbcConfig(cfg config.Config) (tbc.Config, error) {
	params, err := network.Params(cfg.BTC.Network)
	if err != nil {
		return tbc.Config{}, err
	}
	return tbc.Config{
		Params:      params,
		DataDir:     filepath.Join(cfg.DataDir, cfg.BTC.Network),
		Peers:       cfg.BTC.Peers,
		MaxPeers:    cfg.BTC.MaxPeers,
		BanDuration: cfg.BTC.BanDuration.Duration,
		API:         cfg.BTC.API,
		Progress:    cfg.BTC.Progress.Duration,
	}, nil
}

func runTBC(ctx context.Context, cfg config.Config) error {
	return runWithTBC(ctx, cfg, nil)
}

// onTBC is more work a command runs beside the Bitcoin layer, in the same
// errgroup, with the process logger and metrics registry.
type onTBC func(ctx context.Context, svc *tbc.Service, log *slog.Logger, reg *prometheus.Registry) error

// runWithTBC runs the Bitcoin layer, the metrics endpoint if configured
// and then (if not nil) in one errgroup, until one fails or ctx is done.
func runWithTBC(ctx context.Context, cfg config.Config, then onTBC) error {
	log := newLogger(cfg)
	reg := metrics.NewRegistry()
	tcfg, err := tbcConfig(cfg)
	if err != nil {
		return err
	}
	tcfg.Logger, tcfg.Registerer = log, reg
	svc, err := tbc.New(tcfg)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return svc.Run(ctx) })
	if cfg.Metrics.Listen != "" {
		g.Go(func() error { return metrics.Serve(ctx, cfg.Metrics.Listen, reg, log) })
	}
	if then != nil {
		g.Go(func() error { return then(ctx, svc, log, reg) })
	}
	return g.Wait()
}
