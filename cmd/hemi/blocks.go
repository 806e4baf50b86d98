package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v3"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/network"
	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/config"
	"github.com/hemi-go/hemi/internal/netp2p/rangesync"
	"github.com/hemi-go/hemi/internal/node"
)

const (
	flagFrom = "from"
	flagTo   = "to"
)

// blockFileUses are the config keys export and import read: where the
// datadir is and what the chain's genesis is.
var blockFileUses = keyUse{uses: []string{"datadir", "genesis", "log", "btc"}}

// exportCommand is `hemi export FILE [--from N --to M]`.
func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write canonical L2 blocks of the node's data directory to a file (node stopped)",
		ArgsUsage: "FILE",
		Description: "Writes blocks --from..--to (default 1..head) as an RLP stream of [header, body], as\n" +
			"go-ethereum's export does, gzip-compressed when FILE ends in .gz. The file appears only\n" +
			"once complete. Run it with the node stopped: it opens the node's databases.\n\n" +
			"Example: hemi --datadir ~/.hemi export --network regtest blocks.rlp.gz",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: flagNetwork, Usage: "Bitcoin network of the data directory", Sources: cli.EnvVars("HEMI_BTC_NETWORK")},
			genesisFlag(),
			&cli.Uint64Flag{Name: flagFrom, Usage: "first block", Value: 1},
			&cli.Uint64Flag{Name: flagTo, Usage: "last block (default the head)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			path, err := oneFileArg(cmd)
			if err != nil {
				return err
			}
			cfg, _, err := loadConfig(cmd, blockFileUses)
			if err != nil {
				return err
			}
			log := newLogger(cfg)
			if _, err := os.Stat(filepath.Join(cfg.DataDir, cfg.BTC.Network, "l2")); err != nil {
				return fmt.Errorf("no L2 chain to export in %s: %w", cfg.DataDir, err)
			}
			return withOfflineChain(cfg, log, func(c *chain.Chain) error {
				to := cmd.Uint64(flagTo)
				if to == 0 {
					to = c.Head().Number.Uint64()
				}
				n, err := rangesync.ExportFile(ctx, c, path, cmd.Uint64(flagFrom), to)
				if err != nil {
					return err
				}
				log.Info("exported blocks", "file", path, "from", cmd.Uint64(flagFrom), "to", to, "blocks", n)
				return nil
			})
		},
	}
}

// importCommand is `hemi import FILE`.
func importCommand() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "insert the L2 blocks of a file (hemi export's) into the node's data directory (node stopped)",
		ArgsUsage: "FILE",
		Description: "Reads an RLP stream of blocks (gunzipped when FILE ends in .gz) and inserts them with\n" +
			"the chain's full validation, in batches. Blocks already stored are skipped, so an\n" +
			"interrupted import resumes when run again. Each block's Bitcoin view must be indexed:\n" +
			"sync Bitcoin first (hemi tbc or hemi node) if it stops asking for it.\n\n" +
			"Example: hemi --datadir ~/.hemi import --network regtest blocks.rlp.gz",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: flagNetwork, Usage: "Bitcoin network of the data directory", Sources: cli.EnvVars("HEMI_BTC_NETWORK")},
			genesisFlag(),
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			path, err := oneFileArg(cmd)
			if err != nil {
				return err
			}
			cfg, _, err := loadConfig(cmd, blockFileUses)
			if err != nil {
				return err
			}
			log := newLogger(cfg)
			return withOfflineChain(cfg, log, func(c *chain.Chain) error {
				st, err := rangesync.ImportFile(ctx, c, path, 0, log.With("subsystem", "import"))
				log.Info("import", "file", path, "read", st.Read, "inserted", st.Inserted, "skipped", st.Skipped,
					"head", c.Head().Number, "took", st.Took)
				if errors.Is(err, chain.ErrViewNotReady) {
					return fmt.Errorf("%w\nthe Bitcoin index of this data directory does not hold that block's view yet: sync Bitcoin (hemi tbc) and import again", err)
				}
				return err
			})
		},
	}
}

func oneFileArg(cmd *cli.Command) (string, error) {
	if cmd.Args().Len() != 1 {
		return "", fmt.Errorf("`hemi %s` takes one FILE argument, got %d", cmd.Name, cmd.Args().Len())
	}
	return cmd.Args().First(), nil
}

// withOfflineChain opens the data directory's Bitcoin index (no peers)
// and L2 chain, as `hemi node` would, runs f, and closes both.
func withOfflineChain(cfg config.Config, log *slog.Logger, run func(*chain.Chain) error) error {
	params, err := network.Params(cfg.BTC.Network)
	if err != nil {
		return err
	}
	base := filepath.Join(cfg.DataDir, cfg.BTC.Network)
	ix, err := index.Open(index.Config{Dir: filepath.Join(base, "tbc"), Params: params, Logger: log.With("subsystem", "index")})
	if err != nil {
		return fmt.Errorf("open the Bitcoin index in %s (is the node stopped?): %w", base, err)
	}
	defer ix.Close()
	btc := node.NewBitcoin(ix)
	// The genesis: --genesis (checked against the copy the node keeps
	// with its L2 data), else that copy.
	dir := l2Dir(cfg)
	var f *genesis.File
	if cfg.Genesis != "" {
		if f, err = loadGenesis(cfg, nil); err != nil {
			return err
		}
		if err := pinGenesis(dir, cfg.Genesis, f, true); err != nil {
			return err
		}
	} else if f, err = genesis.Load(filepath.Join(dir, pinnedGenesis)); err != nil {
		return fmt.Errorf("%w: no genesis file kept in %s: name the network's with --genesis (%v)", config.ErrInvalid, dir, err)
	}
	spec, err := node.GenesisSpec(f, btc)
	if err != nil {
		return err
	}
	c, err := node.OpenChain(spec, btc, node.ChainOptions{Dir: dir, Logger: log.With("subsystem", "chain")})
	if err != nil {
		return err
	}
	defer c.Close()
	return run(c)
}
