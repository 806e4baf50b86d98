package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v3"

	"github.com/hemi-go/hemi/internal/bench"
)

// benchNetCommand is `hemi bench net` (issue 10's benchmark).
func benchNetCommand() *cli.Command {
	return &cli.Command{
		Name:  "net",
		Usage: "the L2 network on loopback: propagation, catch-up sync, failover, restart",
		Description: "Runs a raft group of 3 sequencers and 5 followers as node processes (1 s blocks, --txs transfers\n" +
			"sent to the leader every block in --sends batches), kills the leader --kills times, then times a fresh follower process\n" +
			"syncing --sync-blocks blocks of --sync-txs transfers from 2 peers against `hemi import` of the same\n" +
			"blocks, and the restart of a long node against a short one (built chains cached under --cache-dir).\n" +
			"Figures come from the nodes' own JSON logs. The last line is\n" +
			"net propagation_p50_ms= propagation_p99_ms= sync_blocks_s= sync_ratio= failover_p50_ms= failover_max_ms= reorged= equivocations= rss_mb= restart_ratio=",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "sequencers", Value: bench.DefaultNetSequencers, Usage: "raft group size"},
			&cli.IntFlag{Name: "followers", Value: bench.DefaultNetFollowers, Usage: "follower nodes"},
			&cli.IntFlag{Name: "txs", Value: bench.DefaultNetTxsPerBlock, Usage: "transfers sent to the leader every block"},
			&cli.IntFlag{Name: "sends", Value: bench.DefaultNetSends, Usage: "batches each block's transfers are sent in, evenly spaced over the block time (1: all at once)"},
			&cli.DurationFlag{Name: "steady", Value: bench.DefaultNetSteady, Usage: "propagation is measured under load this long, before the kills"},
			&cli.IntFlag{Name: "kills", Value: bench.DefaultNetKills, Usage: "kills of the leader (0: none)"},
			&cli.IntFlag{Name: "sync-blocks", Value: bench.DefaultNetSyncBlocks, Usage: "blocks of the sync source (0: skip the sync part)"},
			&cli.IntFlag{Name: "sync-txs", Value: bench.DefaultNetSyncPerBlock, Usage: "transfers per block of the sync source"},
			&cli.IntFlag{Name: "sync-runs", Value: bench.DefaultNetSyncRuns, Usage: "timed syncs and imports; medians are reported"},
			&cli.IntFlag{Name: "restart-l2", Value: bench.DefaultRestartSizes[1].L2, Usage: "L2 blocks of the long restart node (0: skip the restart part)"},
			&cli.IntFlag{Name: "restart-btc", Value: bench.DefaultRestartSizes[1].BTC, Usage: "Bitcoin blocks of the long restart node"},
			&cli.StringFlag{Name: "cache-dir", Usage: "where built chains are kept (default .cache/bench)"},
			&cli.DurationFlag{Name: "ha-heartbeat", Usage: "raft heartbeat timeout of the nodes (default: the config's)"},
			&cli.DurationFlag{Name: "ha-election", Usage: "raft election timeout of the nodes (default: the config's)"},
			&cli.DurationFlag{Name: "ha-leader-lease", Usage: "raft leader lease of the nodes (default: the config's)"},
			&cli.BoolFlag{Name: "keep-logs", Usage: "keep the network's directory with every node's log, and print it"},
			&cli.BoolFlag{Name: "prepare", Usage: "only build the cached sync source and restart nodes (those not skipped) into --cache-dir; measure nothing"},
			&cli.StringFlag{Name: "bin", Usage: "the hemi binary the network's nodes run (default: this one): another build measured by this run's harness, for a before/after comparison"},
			&cli.StringFlag{Name: "work-dir", Usage: "parent of the temporary data directories (default the system temp dir)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			bin, err := os.Executable()
			if err != nil {
				return fmt.Errorf("bench net: the hemi binary: %w", err)
			}
			if b := cmd.String("bin"); b != "" {
				if bin, err = filepath.Abs(b); err != nil {
					return fmt.Errorf("bench net: --bin: %w", err)
				}
				if _, err := os.Stat(bin); err != nil {
					return fmt.Errorf("bench net: --bin: %w", err)
				}
			}
			kills := int(cmd.Int("kills"))
			if kills == 0 {
				kills = -1
			}
			cfg := bench.NetConfig{
				Bin: bin, Sequencers: int(cmd.Int("sequencers")), Followers: int(cmd.Int("followers")),
				TxsPerBlock: int(cmd.Int("txs")), Sends: int(cmd.Int("sends")), Steady: cmd.Duration("steady"), Kills: kills,
				Sync:     bench.NetSyncConfig{Blocks: int(cmd.Int("sync-blocks")), PerBlock: int(cmd.Int("sync-txs")), Runs: int(cmd.Int("sync-runs"))},
				SkipSync: cmd.Int("sync-blocks") == 0,
				RestartSizes: []bench.RestartSize{bench.DefaultRestartSizes[0],
					{L2: int(cmd.Int("restart-l2")), BTC: int(cmd.Int("restart-btc"))}},
				SkipRestart: cmd.Int("restart-l2") == 0,
				CacheDir:    cmd.String("cache-dir"), WorkDir: cmd.String("work-dir"), KeepLogs: cmd.Bool("keep-logs"), Prepare: cmd.Bool("prepare"),
				Heartbeat: cmd.Duration("ha-heartbeat"), Election: cmd.Duration("ha-election"), LeaderLease: cmd.Duration("ha-leader-lease"),
			}
			_, err = bench.RunNet(ctx, cfg, os.Stdout)
			return err
		},
	}
}
