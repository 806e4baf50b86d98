package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/urfave/cli/v3"
	"golang.org/x/sync/errgroup"

	"github.com/hemi-go/hemi/internal/btc/peerserve"
	"github.com/hemi-go/hemi/internal/config"
	"github.com/hemi-go/hemi/internal/devnet"
	"github.com/hemi-go/hemi/internal/metrics"
	"github.com/hemi-go/hemi/internal/rpc"
)

func devnetCommand() *cli.Command {
	return &cli.Command{
		Name:  "devnet",
		Usage: "run a development network in one process (embedded regtest Bitcoin + indexer + L2 sequencer + PoP miner)",
		Description: "Starts the embedded regtest Bitcoin node, mines to the dev key (a block every\n" +
			"devnet.block_interval, 5s), runs the node's Bitcoin indexer syncing from it over P2P, and\n" +
			"an L2 chain whose sequencer builds a block every sequencer.block_time (2s) with anvil's ten\n" +
			"funded dev accounts. A PoP miner with a public dev wallet publishes every keystone (every\n" +
			"25th block) to Bitcoin, and the finality service moves the safe and finalized tags as\n" +
			"the publications gain confirmations (superfinal at 6). Data lives in <datadir>/devnet and\n" +
			"is wiped at every start.",
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "block-interval", Usage: "mine a Bitcoin block this often (default devnet.block_interval, 5s; 0: only the initial blocks)", Sources: cli.EnvVars("HEMI_DEVNET_BLOCK_INTERVAL")},
			&cli.StringFlag{Name: "p2p", Usage: "regtest P2P listen address (default 127.0.0.1:18444)", Sources: cli.EnvVars("HEMI_DEVNET_P2P")},
			apiFlag(),
			rpcFlag(),
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			if cmd.IsSet("block-interval") {
				cfg.Devnet.BlockInterval.Duration = cmd.Duration("block-interval")
			}
			if cmd.IsSet("p2p") {
				cfg.Devnet.P2P = cmd.String("p2p")
			}
			if cmd.IsSet(flagRPC) {
				cfg.RPC.Listen = cmd.String(flagRPC)
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			log := newLogger(cfg)
			reg := metrics.NewRegistry()
			g, ctx := errgroup.WithContext(ctx)
			g.Go(func() error {
				return devnet.Run(ctx, devnet.Config{
					DataDir:        filepath.Join(cfg.DataDir, "devnet"),
					P2P:            cfg.Devnet.P2P,
					P2PLimits:      peerserve.Limits{HandshakeTimeout: cfg.Devnet.P2PHandshakeTimeout.Duration},
					API:            cfg.BTC.API,
					BlockInterval:  cfg.Devnet.BlockInterval.Duration,
					InitialBlocks:  cfg.Devnet.InitialBlocks,
					Progress:       cfg.BTC.Progress.Duration,
					Logger:         log,
					Registerer:     reg,
					Out:            os.Stdout,
					L2BlockTime:    cfg.Sequencer.BlockTime.Duration,
					StrictTipOrder: cfg.Sequencer.StrictTipOrder,
					Pool:           poolConfig(cfg.TxPool, "", log),
					RPC:            devnetRPCConfig(cfg.RPC, log),
					PoPM:           devnet.PoPMConfig{MaxFeeRate: cfg.PoPM.MaxFeeRate, BumpBlocks: int32(cfg.PoPM.BumpBlocks)},
				})
			})
			if cfg.Metrics.Listen != "" {
				g.Go(func() error { return metrics.Serve(ctx, cfg.Metrics.Listen, reg, log) })
			}
			return g.Wait()
		},
	}
}

// devnetRPCConfig is the devnet's JSON-RPC configuration: rpc.* of the
// config, with any browser origin allowed when none is configured and
// the debug namespace served when no namespaces are listed (as anvil
// does both), so MetaMask, local dapps and `cast run` work.
func devnetRPCConfig(c config.RPC, log *slog.Logger) rpc.Config {
	r := rpcConfig(c, log)
	if len(r.CORSOrigins) == 0 {
		r.CORSOrigins = []string{"*"}
	}
	if len(r.APIs) == 0 {
		r.APIs = append(slices.Clone(rpc.DefaultAPIs), "debug")
	}
	return r
}
