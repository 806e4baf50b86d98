package main

import (
	"context"
	"os"

	"github.com/urfave/cli/v3"

	"github.com/hemi-go/hemi/internal/bench"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "benchmarks that measure us against a peer in the same run",
		Commands: []*cli.Command{
			{
				Name:  "btc-index",
				Usage: "sync+index a generated regtest chain: ours vs btcd --txindex --addrindex",
				Description: "Generates (or reuses from .cache/bench) a regtest chain, serves it from a loopback\n" +
					"P2P peer, and times our node and btcd syncing it. The last line is\n" +
					"btc-index ours_tx_s=<n> btcd_tx_s=<n> ratio=<ours/btcd> rss_mb=<ours peak>",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "blocks", Value: bench.DefaultBlocks, Usage: "chain height"},
					&cli.IntFlag{Name: "txs", Value: bench.DefaultTxs, Usage: "non-coinbase transactions"},
					&cli.IntFlag{Name: "runs", Value: 1, Usage: "measured runs of each node; medians are reported"},
					&cli.StringFlag{Name: "cache-dir", Usage: "where generated chains are kept (default .cache/bench)"},
					&cli.BoolFlag{Name: "verify", Usage: "after the timed sync, check every transaction against our index"},
					&cli.StringFlag{Name: "profile-dir", Usage: "write CPU and heap profiles of our node's sync here"},
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					_, err := bench.RunBTCIndex(ctx, bench.BTCIndexConfig{
						Blocks:     int32(cmd.Int("blocks")),
						Txs:        int(cmd.Int("txs")),
						Runs:       int(cmd.Int("runs")),
						CacheDir:   cmd.String("cache-dir"),
						Verify:     cmd.Bool("verify"),
						ProfileDir: cmd.String("profile-dir"),
					}, os.Stdout)
					return err
				},
			},
			{
				Name:            "btc-index-ours",
				Hidden:          true,
				Usage:           "the child process of btc-index that runs our node",
				SkipFlagParsing: true,
				Action: func(ctx context.Context, cmd *cli.Command) error {
					return bench.OursChildMain(ctx, cmd.Args().Slice(), os.Stdout)
				},
			},
		},
	}
}
