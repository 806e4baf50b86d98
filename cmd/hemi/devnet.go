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
			"an L2 chain whose sequencer builds a block every 2s with anvil's ten\n" +
			"funded dev accounts. A PoP miner with a public dev wallet publishes every keystone (every\n" +
			"25th block) to Bitcoin, and the finality service moves the safe and finalized tags as\n" +
			"the publications gain confirmations (superfinal at 6). Data lives in <datadir>/devnet and\n" +
			"is wiped at every start; the L2's genesis file is <datadir>/devnet/genesis.json (the banner\n" +
			"prints its path and the `hemi node --genesis` command that runs the same network).\n\n" +
			"With --sequencers N [--followers M] it runs a network of separate processes instead\n" +
			"(internal/devnet/cluster): the embedded regtest Bitcoin in this process and N `hemi node\n" +
			"--sequencer` processes forming one raft group (seal keys: the dev mnemonic's accounts after\n" +
			"the ten funded ones, each in a 0600 file in its node's directory) plus M followers, on free\n" +
			"loopback ports it prints with the genesis path; Ctrl-C stops all of them (and they die with\n" +
			"this process). No PoP miner runs in that mode.",
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: flagBlockInterval, Usage: "mine a Bitcoin block this often (default devnet.block_interval, 5s; 0: only the initial blocks)", Sources: cli.EnvVars("HEMI_DEVNET_BLOCK_INTERVAL")},
			&cli.StringFlag{Name: flagP2P, Usage: "regtest P2P listen address (default 127.0.0.1:18444)", Sources: cli.EnvVars("HEMI_DEVNET_P2P")},
			apiFlag(),
			rpcFlag(),
			&cli.IntFlag{Name: flagSequencers, Usage: "run a network of separate node processes: this many raft sequencers (3 or 5; 0: the one-process devnet)"},
			&cli.IntFlag{Name: flagFollowers, Usage: "with --sequencers: this many follower nodes"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			cfg, _, err := loadConfig(cmd, devnetKeys)
			if err != nil {
				return err
			}
			if cmd.IsSet(flagSequencers) || cmd.IsSet(flagFollowers) {
				seqs, fols := cmd.Int(flagSequencers), cmd.Int(flagFollowers)
				if seqs < 1 || seqs > maxClusterNodes || fols < 0 || fols > maxClusterNodes {
					return fmt.Errorf("--sequencers %d --followers %d: a network of separate processes needs 1..%d sequencers "+
						"(3 or 5 for a raft group that survives a failure) and 0..%d followers", seqs, fols, maxClusterNodes, maxClusterNodes)
				}
				return runDevnetCluster(ctx, cfg, int(seqs), int(fols), cmd.Root().Writer)
			}
			log := newLogger(cfg)
			reg := metrics.NewRegistry()
			dcfg := devnetConfig(cfg, log)
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

// devnetKeys are the config keys `hemi devnet` reads. It refuses a
// genesis file: the devnet writes its own (anchored at the regtest tip it
// mines, at start time) and prints its path.
var devnetKeys = keyUse{
	uses: []string{"datadir", "log", "metrics", "btc.api", "btc.progress", "devnet",
		"sequencer.strict_tip_order", "txpool", "rpc", "popm.max_fee_rate", "popm.bump_blocks"},
	refuses: []string{"genesis"},
	why: "the devnet writes its own genesis file (anchored at the regtest tip it mines, sealed by the public dev key) " +
		"into its datadir and prints its path; genesis configures `hemi node`: remove it or use another config file",
}

// devnetConfig maps the config onto the devnet's. The L2 genesis is the
// devnet's own (genesis.DevnetFile), written to its datadir.
func devnetConfig(cfg config.Config, log *slog.Logger) devnet.Config {
	return devnet.Config{
		DataDir:        filepath.Join(cfg.DataDir, "devnet"),
		P2P:            cfg.Devnet.P2P,
		P2PLimits:      peerserve.Limits{HandshakeTimeout: cfg.Devnet.P2PHandshakeTimeout.Duration},
		API:            cfg.BTC.API,
		BlockInterval:  cfg.Devnet.BlockInterval.Duration,
		InitialBlocks:  cfg.Devnet.InitialBlocks,
		Progress:       cfg.BTC.Progress.Duration,
		Logger:         log,
		StrictTipOrder: cfg.Sequencer.StrictTipOrder,
		Pool:           poolConfig(cfg.TxPool, log),
		RPC:            devnetRPCConfig(cfg.RPC, log),
		PoPM:           devnet.PoPMConfig{MaxFeeRate: cfg.PoPM.MaxFeeRate, BumpBlocks: int32(cfg.PoPM.BumpBlocks)},
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
