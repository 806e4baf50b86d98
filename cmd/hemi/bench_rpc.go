package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/urfave/cli/v3"

	"github.com/hemi-go/hemi/internal/bench"
)

// benchRPCCommand is `hemi bench rpc`.
func benchRPCCommand() *cli.Command {
	return &cli.Command{
		Name:  "rpc",
		Usage: "pre-signed transfers over JSON-RPC until all are in blocks: our devnet vs anvil",
		Description: "Starts our devnet stack in this process and anvil (--prune-history, same gas limit,\n" +
			"interval mining at our block time), funds the senders from the dev accounts (not\n" +
			"timed), then sends the same pre-signed transfers to each in batches from concurrent\n" +
			"clients until all are in blocks. The last line is\n" +
			"rpc ours_tx_s=<n> anvil_tx_s=<n> ratio=<ours/anvil> p50_inclusion_ms=<n>",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "txs", Value: bench.DefaultRPCTxs, Usage: "timed transfers"},
			&cli.IntFlag{Name: "senders", Value: bench.DefaultRPCSenders, Usage: "funded sender accounts"},
			&cli.IntFlag{Name: "clients", Value: bench.DefaultRPCClients, Usage: "concurrent JSON-RPC clients"},
			&cli.IntFlag{Name: "batch", Value: bench.DefaultRPCBatch, Usage: "transactions per JSON-RPC batch"},
			&cli.IntFlag{Name: "runs", Value: 1, Usage: "measured runs against each target; medians are reported"},
			&cli.DurationFlag{Name: "block-time", Value: bench.DefaultRPCBlockTime, Usage: "block time of our chain and of anvil (whole seconds)"},
			&cli.Uint64Flag{Name: "gas-limit", Value: bench.DefaultRPCGasLimit, Usage: "block gas limit of our chain and of anvil"},
			&cli.StringFlag{Name: "anvil-mining", Value: "interval", Usage: "anvil's mining: interval (a block every --block-time) or auto (automine; stalls under this load)"},
			&cli.StringFlag{Name: "work-dir", Usage: "parent of the temporary data dirs (default the system temp dir)"},
			&cli.StringFlag{Name: "profile-dir", Usage: "write CPU profiles of the timed runs against ours here"},
			&cli.BoolFlag{Name: "log-blocks", Usage: "print our sequencer's block-built lines (build times) to stderr"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			var seqLog *slog.Logger
			if cmd.Bool("log-blocks") {
				seqLog = slog.New(slog.NewTextHandler(os.Stderr, nil))
			}
			_, err := bench.RunRPC(ctx, bench.RPCConfig{
				Txs:             int(cmd.Int("txs")),
				Senders:         int(cmd.Int("senders")),
				Clients:         int(cmd.Int("clients")),
				Batch:           int(cmd.Int("batch")),
				Runs:            int(cmd.Int("runs")),
				BlockTime:       cmd.Duration("block-time"),
				GasLimit:        cmd.Uint64("gas-limit"),
				AnvilMining:     cmd.String("anvil-mining"),
				WorkDir:         cmd.String("work-dir"),
				ProfileDir:      cmd.String("profile-dir"),
				SequencerLogger: seqLog,
			}, os.Stdout)
			return err
		},
	}
}
