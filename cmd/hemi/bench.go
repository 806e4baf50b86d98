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
				Name:  "l2-import",
				Usage: "import blocks of 5,000 ETH and ERC-20 transfers: our chain vs go-ethereum's core.BlockChain",
				Description: "Builds equivalent blocks (same signed transactions and genesis alloc) for our chain\n" +
					"and for go-ethereum, and times fresh on-disk imports of each. The last line is\n" +
					"l2-import ours_tx_s=<n> geth_tx_s=<n> ratio=<ours/geth>",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "blocks", Value: bench.DefaultL2Blocks, Usage: "blocks of each kind"},
					&cli.IntFlag{Name: "txs", Value: bench.DefaultL2PerBlock, Usage: "transfers per block"},
					&cli.IntFlag{Name: "runs", Value: bench.DefaultL2Runs, Usage: "measured imports per importer and kind; medians are reported"},
					&cli.StringFlag{Name: "geth-scheme", Value: "hash", Usage: "go-ethereum's state scheme: hash (our chain's) or path"},
					&cli.BoolFlag{Name: "geth-archive", Usage: "run go-ethereum in archive mode (state written every block, as ours)"},
					&cli.StringFlag{Name: "work-dir", Usage: "parent of the temporary databases (default the system temp dir)"},
					&cli.StringFlag{Name: "profile-dir", Usage: "write CPU profiles of the first run's imports here"},
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					_, err := bench.RunL2Import(ctx, bench.L2ImportConfig{
						Blocks:      int(cmd.Int("blocks")),
						PerBlock:    int(cmd.Int("txs")),
						Runs:        int(cmd.Int("runs")),
						GethScheme:  cmd.String("geth-scheme"),
						GethArchive: cmd.Bool("geth-archive"),
						WorkDir:     cmd.String("work-dir"),
						ProfileDir:  cmd.String("profile-dir"),
					}, os.Stdout)
					return err
				},
			},
			benchRPCCommand(),
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
