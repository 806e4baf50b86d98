package main

import (
	"context"
	"fmt"
	"log/slog"
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
			&cli.DurationFlag{Name: flagBlockInterval, Usage: "mine a Bitcoin block this often (default devnet.block_interval, 5s; 0: only the initial blocks)", Sources: cli.EnvVars("HEMI_DEVNET_BLOCK_INTERVAL")},
			&cli.StringFlag{Name: flagP2P, Usage: "regtest P2P listen address (default 127.0.0.1:18444)", Sources: cli.EnvVars("HEMI_DEVNET_P2P")},
			apiFlag(),
			rpcFlag(),
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			cfg, set, err := loadConfig(cmd, devnetKeys)
			if err != nil {
				return err
			}
			log := newLogger(cfg)
			reg := metrics.NewRegistry()
			dcfg, err := devnetConfig(cfg, set, log)
			if err != nil {
				return err
			}
			dcfg.Registerer, dcfg.Out = reg, cmd.Root().Writer
			g, ctx := errgroup.WithContext(ctx)
			g.Go(func() error { return devnet.Run(ctx, dcfg) })
			if cfg.Metrics.Listen != "" {
				g.Go(func() error { return metrics.Serve(ctx, cfg.Metrics.Listen, reg, log) })
			}
			return g.Wait()
		},
	}
}

// devnetKeys are the config keys `hemi devnet` reads. Of [l2] it honours
// the PoP parameters when the file sets them (its genesis defaults differ:
// superfinal at genesis.DevnetSuperfinalDepth) and refuses the genesis
// anchor and sequencers, which the devnet chooses itself.
var devnetKeys = keyUse{
	uses: []string{"datadir", "log", "metrics", "btc.api", "btc.progress", "devnet",
		"l2.keystone_interval", "l2.superfinal_depth", "l2.pop_reward_delay",
		"sequencer.block_time", "sequencer.strict_tip_order", "txpool", "rpc",
		"popm.max_fee_rate", "popm.bump_blocks"},
	refuses: []string{"l2.genesis_btc_height", "l2.genesis_time", "l2.sequencers"},
	why: "the devnet anchors its L2 genesis at the regtest tip minus the view lag, at start time, " +
		"sealed by the public dev key; these keys configure `hemi node`: remove them or use another config file",
}

// devnetConfig maps the config onto the devnet's; set are the keys the
// config file sets (loadConfig).
func devnetConfig(cfg config.Config, set []string, log *slog.Logger) (devnet.Config, error) {
	d := devnet.Config{
		DataDir:        filepath.Join(cfg.DataDir, "devnet"),
		P2P:            cfg.Devnet.P2P,
		P2PLimits:      peerserve.Limits{HandshakeTimeout: cfg.Devnet.P2PHandshakeTimeout.Duration},
		API:            cfg.BTC.API,
		BlockInterval:  cfg.Devnet.BlockInterval.Duration,
		InitialBlocks:  cfg.Devnet.InitialBlocks,
		Progress:       cfg.BTC.Progress.Duration,
		Logger:         log,
		L2BlockTime:    cfg.Sequencer.BlockTime.Duration,
		StrictTipOrder: cfg.Sequencer.StrictTipOrder,
		Pool:           poolConfig(cfg.TxPool, log),
		RPC:            devnetRPCConfig(cfg.RPC, log),
		PoPM:           devnet.PoPMConfig{MaxFeeRate: cfg.PoPM.MaxFeeRate, BumpBlocks: int32(cfg.PoPM.BumpBlocks)},
	}
	if slices.Contains(set, "l2.keystone_interval") {
		d.KeystoneInterval = cfg.L2.KeystoneInterval
	}
	if slices.Contains(set, "l2.superfinal_depth") {
		d.SuperfinalDepth = cfg.L2.SuperfinalDepth
	}
	if slices.Contains(set, "l2.pop_reward_delay") {
		if cfg.L2.PoPRewardDelay == 0 {
			return d, fmt.Errorf("%w: l2.pop_reward_delay = 0 (no PoP rewards) is not supported by `hemi devnet`, whose PoP miner is rewarded: remove it or set a delay", config.ErrInvalid)
		}
		d.RewardDelay = cfg.L2.PoPRewardDelay
	}
	return d, nil
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
