package main

import (
	"context"
	"fmt"
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
					"btc-index ours_tx_s=<n> btcd_tx_s=<n> ratio=<ours/btcd> rss_mb=<ours peak> bytes_per_tx=<ours data dir / txs>\n" +
					"With --scale-txs N it syncs our node alone on the normal chain and on an N-tx chain; the last line is\n" +
					"btc-index-scale txs=<N> tx_s=<n> base_txs=<n> base_tx_s=<n> tx_s_ratio=<large/base> rss_mb=<n> base_rss_mb=<n> bytes_per_tx=<n> base_bytes_per_tx=<n>",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "blocks", Value: bench.DefaultBlocks, Usage: "chain height"},
					&cli.IntFlag{Name: "txs", Value: bench.DefaultTxs, Usage: "non-coinbase transactions"},
					&cli.IntFlag{Name: "runs", Value: 1, Usage: "measured runs of each node; medians are reported"},
					&cli.StringFlag{Name: "cache-dir", Usage: "where generated chains are kept (default .cache/bench)"},
					&cli.BoolFlag{Name: "verify", Usage: "after the timed sync, check every transaction against our index"},
					&cli.StringFlag{Name: "profile-dir", Usage: "write CPU and heap profiles of our node's sync here"},
					&cli.IntFlag{Name: "scale-txs", Usage: "instead: our node alone (no btcd) on the normal chain and on one of this many txs " +
						"(e.g. 5000000; blocks scaled alike), compared"},
					&cli.StringFlag{Name: "work-dir", Usage: "parent of the nodes' temporary data directories (default the system temp dir)"},
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					cfg := bench.BTCIndexConfig{
						Blocks:     int32(cmd.Int("blocks")),
						Txs:        int(cmd.Int("txs")),
						Runs:       int(cmd.Int("runs")),
						CacheDir:   cmd.String("cache-dir"),
						WorkDir:    cmd.String("work-dir"),
						Verify:     cmd.Bool("verify"),
						ProfileDir: cmd.String("profile-dir"),
					}
					if n := cmd.Int("scale-txs"); n != 0 {
						_, err := bench.RunBTCIndexScale(ctx, cfg, int(n), os.Stdout)
						return err
					}
					_, err := bench.RunBTCIndex(ctx, cfg, os.Stdout)
					return err
				},
			},
			benchNetCommand(),
			{
				Name:            "net-sync-follower",
				Hidden:          true,
				Usage:           "the child process of net and net-sync that syncs the follower",
				SkipFlagParsing: true,
				Action: func(ctx context.Context, cmd *cli.Command) error {
					return bench.NetSyncFollowerMain(ctx, cmd.Args().Slice(), os.Stdout)
				},
			},
			{
				Name:  "provenance",
				Usage: "provenance bundle sizes and verification time, native vs WebAssembly under Node.js",
				Description: "Builds a deposit bundle at 6+10 confirmations and a transaction bundle whose keystone is\n" +
					"1,000 L2 blocks later, verifies each natively and with the WebAssembly verifier under Node.js\n" +
					"(the fastest warm calls are compared; medians and a fresh Node.js's first call are reported too).\n" +
					"The WebAssembly verifier is the one embedded in this binary (the explorer's), so it runs from any\n" +
					"directory without a Go toolchain; its size and SHA-256 are printed.\n" +
					"The last line is\n" +
					"provenance deposit_kb= tx_kb= header_kb= verify_ms= wasm_verify_ms= wasm_ratio= wasm_mb= wasm_cold_ms=",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "runs", Value: bench.DefaultProvenanceRuns, Usage: "timed verifications per case"},
					&cli.IntFlag{Name: "accounts", Value: bench.DefaultProvenanceAccounts, Usage: "accounts in the keystone's state"},
					&cli.StringFlag{Name: "work-dir", Usage: "where the files Node.js runs are written (default the system temp dir)"},
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					_, err := bench.RunProvenance(ctx, bench.ProvenanceConfig{Runs: int(cmd.Int("runs")), Accounts: int(cmd.Int("accounts")),
						WorkDir: cmd.String("work-dir")}, os.Stdout)
					return err
				},
			},
			{
				Name:  "net-sync",
				Usage: "catch-up sync over libp2p from 2 peers vs `hemi import` of the same blocks (part of `hemi bench net`)",
				Description: "Builds a chain of --blocks blocks of --txs ETH transfers, exports it, and times a fresh\n" +
					"follower syncing it from two loopback libp2p peers against a fresh chain importing the\n" +
					"export. The follower runs as its own process (its peak RSS is rss_mb); the source chain is\n" +
					"cached under --cache-dir. The last line is\n" +
					"net-sync blocks=<n> sync_blocks_s=<n> import_blocks_s=<n> sync_ratio=<sync/import> rss_mb=<follower peak>",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "blocks", Value: bench.DefaultNetSyncBlocks, Usage: "blocks of the source chain"},
					&cli.IntFlag{Name: "txs", Value: bench.DefaultNetSyncPerBlock, Usage: "transfers per block"},
					&cli.IntFlag{Name: "runs", Value: bench.DefaultNetSyncRuns, Usage: "timed syncs and imports; medians are reported"},
					&cli.StringFlag{Name: "work-dir", Usage: "parent of the temporary databases (default the system temp dir)"},
					&cli.StringFlag{Name: "cache-dir", Usage: "where the source chain is kept (default .cache/bench)"},
					&cli.StringFlag{Name: "profile-dir", Usage: "write the follower process's heap profiles here (each minute of its sync and at its end)"},
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					bin, err := os.Executable()
					if err != nil {
						return err
					}
					cache := cmd.String("cache-dir")
					if cache == "" {
						cache = bench.DefaultCacheDir()
					}
					_, err = bench.RunNetSync(ctx, bench.NetSyncConfig{
						Blocks:      int(cmd.Int("blocks")),
						PerBlock:    int(cmd.Int("txs")),
						Runs:        int(cmd.Int("runs")),
						WorkDir:     cmd.String("work-dir"),
						CacheDir:    cache,
						FollowerBin: bin,
						ProfileDir:  cmd.String("profile-dir"),
					}, os.Stdout)
					return err
				},
			},
			{
				Name:  "l2-import",
				Usage: "import blocks of 5,000 ETH and ERC-20 transfers: our chain vs go-ethereum's core.BlockChain",
				Description: "Builds equivalent blocks (same signed transactions and genesis alloc) for our chain\n" +
					"and for go-ethereum, and times fresh on-disk imports of each. The last line is\n" +
					"l2-import ours_tx_s=<n> geth_tx_s=<n> ratio=<ours/geth> cpu_ratio=<geth CPU time/ours>",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "blocks", Value: bench.DefaultL2Blocks, Usage: "blocks of each kind"},
					&cli.IntFlag{Name: "txs", Value: bench.DefaultL2PerBlock, Usage: "transfers per block"},
					&cli.IntFlag{Name: "runs", Value: bench.DefaultL2Runs, Usage: "measured imports per importer and kind; medians are reported"},
					&cli.StringFlag{Name: "geth-scheme", Value: "hash", Usage: "go-ethereum's state scheme: hash (our chain's) or path"},
					&cli.BoolFlag{Name: "geth-archive", Usage: "run go-ethereum in archive mode (state written every block, as ours)"},
					&cli.StringFlag{Name: "work-dir", Usage: "parent of the temporary databases (default the system temp dir)"},
					&cli.StringFlag{Name: "profile-dir", Usage: "write CPU profiles of the first run's imports here"},
					&cli.BoolFlag{Name: "no-addr-index", Usage: "import without the explorer's address index following the chain"},
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					_, err := bench.RunL2Import(ctx, bench.L2ImportConfig{
						NoAddrIndex: cmd.Bool("no-addr-index"),
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
				Name:  "explorer",
				Usage: "build a chain of 10,000 blocks and 200,000 transactions and time the explorer's pages",
				Description: "Builds the chain on disk with the address index following it (kept under --cache-dir\n" +
					"for the next run), then times the\n" +
					"server-side render of every page type at random blocks, transactions and addresses\n" +
					"(traces excluded: they load on demand) and weighs the pages. No peer is measured\n" +
					"(Otterscan needs an Erigon node). The last line is\n" +
					"explorer p95_ms=<worst page type's p95> worst_page=<type> page_kb=<heaviest page + assets>",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "blocks", Value: bench.DefaultExplorerBlocks, Usage: "blocks of the chain"},
					&cli.IntFlag{Name: "txs", Value: bench.DefaultExplorerPerBlock, Usage: "BenchToken transfers per block"},
					&cli.IntFlag{Name: "samples", Value: bench.DefaultExplorerSamples, Usage: "requests timed per page type"},
					&cli.StringFlag{Name: "cache-dir", Usage: "where the built chain is kept for the next run (default .cache/bench)"},
					&cli.StringFlag{Name: "profile-dir", Usage: "write a CPU profile of each page type's timed requests here"},
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					cache := cmd.String("cache-dir")
					if cache == "" {
						cache = bench.DefaultCacheDir()
					}
					_, err := bench.RunExplorer(ctx, bench.ExplorerConfig{
						Blocks:     int(cmd.Int("blocks")),
						PerBlock:   int(cmd.Int("txs")),
						Samples:    int(cmd.Int("samples")),
						CacheDir:   cache,
						ProfileDir: cmd.String("profile-dir"),
					}, os.Stdout)
					return err
				},
			},
			{
				Name:  "pop",
				Usage: "the devnet's PoP flow: PoP tx size and fee, broadcast latency, Bitcoin blocks to superfinality",
				Description: "Runs regtest Bitcoin, our indexer, the L2 and the PoP miner in process, mines one\n" +
					"Bitcoin block after each PoP transaction sent, and measures each keystone. The last line is\n" +
					"pop vsize_vb=<median> fee_sat=<median> broadcast_ms=<p50> superfinal_btc_blocks=<median>",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "keystones", Value: bench.DefaultPoPKeystones, Usage: "keystones measured"},
					&cli.IntFlag{Name: "keystone-interval", Value: bench.DefaultPoPInterval, Usage: "L2 blocks between keystones"},
					&cli.DurationFlag{Name: "block-time", Value: bench.DefaultPoPBlockTime, Usage: "L2 block time"},
					&cli.IntFlag{Name: "depth", Value: bench.DefaultPoPDepth, Usage: "Bitcoin confirmations of superfinality"},
					&cli.StringFlag{Name: "work-dir", Usage: "parent of the devnet's temporary data dir (default the system temp dir)"},
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					if cmd.Int("keystone-interval") < 1 || cmd.Int("depth") < 1 {
						return fmt.Errorf("bench pop: --keystone-interval and --depth must be at least 1")
					}
					_, err := bench.RunPoP(ctx, bench.PoPConfig{
						Keystones:        int(cmd.Int("keystones")),
						KeystoneInterval: uint64(cmd.Int("keystone-interval")),
						BlockTime:        cmd.Duration("block-time"),
						SuperfinalDepth:  uint32(cmd.Int("depth")),
						WorkDir:          cmd.String("work-dir"),
					}, os.Stdout)
					return err
				},
			},
			{
				Name:  "tunnel",
				Usage: "the tunnel: deposit to mint on the devnet stack; payouts on the devnet's 2-of-3 vault: vsize per withdrawal, batch ratio, a signer's derive-and-verify time",
				Description: "Builds, signs (2 of the dev signers), assembles and submits to the embedded regtest node\n" +
					"payouts of 1, 10 and 25 withdrawals (one vault input each), and times one signer's work on the\n" +
					"payout of 25. Then runs the devnet stack, broadcasts a deposit, mines a Bitcoin block every\n" +
					"--deposit-block-interval and counts Bitcoin blocks and seconds until an L2 block holds its mint.\n" +
					"The last line is\n" +
					"tunnel deposit_to_mint_btc_blocks=<n> deposit_to_mint_s=<s> lone_vb=<n> per_withdrawal_vb_at_10=<n> per_withdrawal_vb_at_25=<n> batch_ratio=<r> sign_verify_ms=<ms>",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "runs", Value: bench.DefaultTunnelRuns, Usage: "timed sign-and-verify runs; the median is reported"},
					&cli.DurationFlag{Name: "deposit-block-interval", Value: bench.DefaultDepositBlockInterval, Usage: "how often the deposit-to-mint run mines a Bitcoin block"},
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					_, err := bench.RunTunnel(ctx, bench.TunnelBenchConfig{Runs: int(cmd.Int("runs")), DepositBlockInterval: cmd.Duration("deposit-block-interval")}, os.Stdout)
					return err
				},
			},
			{
				Name:  "hvm",
				Usage: "hVM 0x40 balance and 0x41 UTXOs: an address with 100,000 past outputs vs one with 10",
				Description: "Builds a regtest chain where a busy address has 100,000 past outputs (the oldest 99% spent)\n" +
					"and a quiet one has 10, indexes it with our index, and times 0x40 and 0x41 (page 0 of 10) on each,\n" +
					"called as the EVM calls them. The last line is\n" +
					"hvm balance_ratio=<busy/quiet> utxos_ratio=<busy/quiet> reads_max=<most index reads of one call>",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "busy-outputs", Value: bench.DefaultHVMBusyOutputs, Usage: "outputs paid to the busy address"},
					&cli.IntFlag{Name: "busy-unspent", Value: bench.DefaultHVMBusyUnspent, Usage: "of which the newest stay unspent"},
					&cli.IntFlag{Name: "quiet-outputs", Value: bench.DefaultHVMQuietOutputs, Usage: "outputs paid to the quiet address"},
					&cli.IntFlag{Name: "runs", Value: bench.DefaultHVMRuns, Usage: "measured runs; ratios are their medians"},
					&cli.DurationFlag{Name: "min-duration", Value: bench.DefaultHVMMinDuration, Usage: "each call is repeated for at least this long per run"},
					&cli.StringFlag{Name: "work-dir", Usage: "parent of the index's temporary directory (default the system temp dir)"},
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					_, err := bench.RunHVM(ctx, bench.HVMConfig{
						BusyOutputs:  int(cmd.Int("busy-outputs")),
						BusyUnspent:  int(cmd.Int("busy-unspent")),
						QuietOutputs: int(cmd.Int("quiet-outputs")),
						Runs:         int(cmd.Int("runs")),
						MinDuration:  cmd.Duration("min-duration"),
						WorkDir:      cmd.String("work-dir"),
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
