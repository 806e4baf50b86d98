package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/urfave/cli/v3"

	"github.com/hemi-go/hemi/internal/tbc"
)

const (
	flagAsOf = "asof"
	flagPage = "page"
	flagSize = "size"
)

// btcCommand queries a running node's Bitcoin index and prints JSON.
func btcCommand() *cli.Command {
	asOf := &cli.StringFlag{Name: flagAsOf, Usage: "answer as of this Bitcoin block hash (default: the indexed tip)"}
	query := func(name, usage, args string, nargs int, flags []cli.Flag, run func(ctx context.Context, c *tbc.Client, cmd *cli.Command) (any, error)) *cli.Command {
		return &cli.Command{
			Name: name, Usage: usage, ArgsUsage: args, Flags: flags,
			Action: func(ctx context.Context, cmd *cli.Command) error {
				if cmd.Args().Len() != nargs {
					return fmt.Errorf("%s takes %d argument(s): hemi btc %s %s", name, nargs, name, args)
				}
				cfg, _, err := loadConfig(cmd, keyUse{uses: []string{"log", "btc.api"}})
				if err != nil {
					return err
				}
				v, err := run(ctx, tbc.NewClient(cfg.BTC.API), cmd)
				if err != nil {
					return err
				}
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			},
		}
	}
	withAsOf := []cli.Flag{asOf}
	return &cli.Command{
		Name:  "btc",
		Usage: "query a running node's Bitcoin index (hemi tbc or hemi devnet)",
		Flags: []cli.Flag{apiFlag()},
		Commands: []*cli.Command{
			query("tip", "sync status and the indexed tip", "", 0, nil,
				func(ctx context.Context, c *tbc.Client, _ *cli.Command) (any, error) { return c.Status(ctx) }),
			query("tx", "a confirmed transaction: block, position, confirmations, hex", "<txid>", 1, withAsOf,
				func(ctx context.Context, c *tbc.Client, cmd *cli.Command) (any, error) {
					return c.Tx(ctx, cmd.Args().First(), cmd.String(flagAsOf))
				}),
			query("balance", "satoshis unspent to an address (or script:<hex>)", "<address>", 1, withAsOf,
				func(ctx context.Context, c *tbc.Client, cmd *cli.Command) (any, error) {
					return c.Balance(ctx, cmd.Args().First(), cmd.String(flagAsOf))
				}),
			query("utxos", "unspent outputs of an address (or script:<hex>)", "<address>", 1,
				[]cli.Flag{asOf, &cli.IntFlag{Name: flagPage, Usage: "page number, from 0"}, &cli.IntFlag{Name: flagSize, Value: 100, Usage: "outputs per page (1-1000)"}},
				func(ctx context.Context, c *tbc.Client, cmd *cli.Command) (any, error) {
					return c.UTXOs(ctx, cmd.Args().First(), cmd.String(flagAsOf), int(cmd.Int(flagPage)), int(cmd.Int(flagSize)))
				}),
			query("header", "a block header by height or hash", "<height|hash>", 1, withAsOf,
				func(ctx context.Context, c *tbc.Client, cmd *cli.Command) (any, error) {
					return c.Header(ctx, cmd.Args().First(), cmd.String(flagAsOf))
				}),
			query("spend", "the input that spends an output", "<txid> <vout>", 2, withAsOf,
				func(ctx context.Context, c *tbc.Client, cmd *cli.Command) (any, error) {
					vout, err := strconv.ParseUint(cmd.Args().Get(1), 10, 32)
					if err != nil {
						return nil, fmt.Errorf("vout %q is not a whole number", cmd.Args().Get(1))
					}
					return c.Spend(ctx, cmd.Args().First(), uint32(vout), cmd.String(flagAsOf))
				}),
			query("publications", "Bitcoin outputs that publish a PoP keystone", "<keystone id>", 1, withAsOf,
				func(ctx context.Context, c *tbc.Client, cmd *cli.Command) (any, error) {
					return c.Publications(ctx, cmd.Args().First(), cmd.String(flagAsOf))
				}),
			query("broadcast", "send a raw transaction (hex) to the node's Bitcoin peers", "<hex>", 1, nil,
				func(ctx context.Context, c *tbc.Client, cmd *cli.Command) (any, error) {
					return c.Broadcast(ctx, cmd.Args().First())
				}),
		},
	}
}
