package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v3"
	"golang.org/x/sync/errgroup"

	"github.com/hemi-go/hemi/internal/btc/network"
	"github.com/hemi-go/hemi/internal/config"
	"github.com/hemi-go/hemi/internal/metrics"
	"github.com/hemi-go/hemi/internal/popm"
	"github.com/hemi-go/hemi/internal/tbc"
)

const (
	flagKeyFile    = "key-file"
	flagWallet     = "wallet"
	flagL2URL      = "l2-url"
	flagFeeTarget  = "fee-target"
	flagMaxFeeRate = "max-fee-rate"
	flagBumpBlocks = "bump-blocks"
)

func popmFlags() []cli.Flag {
	def := config.Default().PoPM
	return []cli.Flag{
		&cli.StringFlag{Name: flagNetwork, Usage: "mainnet, testnet3, testnet4, signet or regtest", Sources: cli.EnvVars("HEMI_BTC_NETWORK")},
		apiFlag(),
		&cli.StringFlag{Name: flagKeyFile, Usage: "file holding the wallet secret (BIP-39 mnemonic, xprv/tprv or WIF); default $" + popm.KeyEnv, TakesFile: true, Sources: cli.EnvVars("HEMI_POPM_KEY_FILE")},
		&cli.StringFlag{Name: flagWallet, Usage: "p2wpkh (BIP-84) or p2tr (BIP-86)", Sources: cli.EnvVars("HEMI_POPM_WALLET")},
		&cli.StringFlag{Name: flagL2URL, Usage: "the L2 node's JSON-RPC WebSocket (default ws://127.0.0.1:8545)", Sources: cli.EnvVars("HEMI_POPM_L2_URL")},
		&cli.IntFlag{Name: flagFeeTarget, Value: def.FeeTarget, Usage: "confirmation target of the fee estimate, in Bitcoin blocks", Sources: cli.EnvVars("HEMI_POPM_FEE_TARGET")},
		&cli.Int64Flag{Name: flagMaxFeeRate, Value: def.MaxFeeRate, Usage: "fee-rate cap in sat/vB (bumps included); above it keystones wait", Sources: cli.EnvVars("HEMI_POPM_MAX_FEE_RATE")},
		&cli.IntFlag{Name: flagBumpBlocks, Value: def.BumpBlocks, Usage: "replace an unconfirmed PoP transaction at a higher fee after this many Bitcoin blocks", Sources: cli.EnvVars("HEMI_POPM_BUMP_BLOCKS")},
	}
}

// loadPopmConfig is loadConfig for the PoP miner (its flags are mapped
// with the others, in configFlags).
func loadPopmConfig(cmd *cli.Command) (config.Config, error) {
	cfg, _, err := loadConfig(cmd, keyUse{uses: []string{"datadir", "log", "metrics", "btc.network", "btc.api", "popm"}})
	return cfg, err
}

func loadPopmWallet(cfg config.Config) (*popm.Wallet, error) {
	params, err := network.Params(cfg.BTC.Network)
	if err != nil {
		return nil, err
	}
	kind, err := popm.ParseKind(cfg.PoPM.Wallet)
	if err != nil {
		return nil, err
	}
	return popm.LoadWallet(cfg.PoPM.KeyFile, kind, params)
}

func printWallet(out io.Writer, w *popm.Wallet) {
	src, path := w.Source()
	if path != "" {
		path = " at " + path
	}
	fmt.Fprintf(out, "PoP miner wallet (%s%s, %s)\n  fund this address   %s\n  L2 reward address   %s\n",
		src, path, w.Kind(), w.Address().EncodeAddress(), w.RewardAddress().Hex())
}

// loadPopm loads the configuration of `hemi popm` and its subcommands
// and the wallet it names.
func loadPopm(cmd *cli.Command) (config.Config, *popm.Wallet, error) {
	cfg, err := loadPopmConfig(cmd)
	if err != nil {
		return config.Config{}, nil, err
	}
	w, err := loadPopmWallet(cfg)
	if err != nil {
		return config.Config{}, nil, err
	}
	return cfg, w, nil
}

func popmCommand() *cli.Command {
	return &cli.Command{
		Name:  "popm",
		Usage: "run the PoP miner: publish the keystones of an L2 node in Bitcoin transactions",
		Description: "Follows the keystones of the L2 node at --l2-url (JSON-RPC WebSocket) and publishes each\n" +
			"new one in a Bitcoin transaction through the node's Bitcoin query API (--api), paying\n" +
			"from its own wallet: a BIP-39 mnemonic, xprv/tprv or WIF read from --key-file or\n" +
			"$" + popm.KeyEnv + " (never a flag value). State lives in <datadir>/popm/<network>.\n\n" +
			"Example: HEMI_POPM_KEY='<mnemonic>' hemi popm --network regtest --api 127.0.0.1:7340 --l2-url ws://127.0.0.1:8545",
		Flags: popmFlags(),
		Commands: []*cli.Command{{
			Name:  "address",
			Usage: "print the wallet's Bitcoin address to fund and its L2 reward address",
			Flags: popmFlags(),
			Action: func(ctx context.Context, cmd *cli.Command) error {
				_, w, err := loadPopm(cmd)
				if err != nil {
					return err
				}
				printWallet(os.Stdout, w)
				return nil
			},
		}},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			cfg, w, err := loadPopm(cmd)
			if err != nil {
				return err
			}
			if cfg.BTC.API == "" {
				return fmt.Errorf("popm: btc.api is empty: point --api at the node's Bitcoin query API")
			}
			log := newLogger(cfg)
			reg := metrics.NewRegistry()
			printWallet(os.Stdout, w)
			m, err := popm.New(popm.Config{
				Wallet:     w,
				Keystones:  popm.RPCKeystones{URL: cfg.PoPM.L2URL},
				Bitcoin:    popm.APIBitcoin{Client: tbc.NewClient(cfg.BTC.API)},
				DataDir:    filepath.Join(cfg.DataDir, "popm", cfg.BTC.Network),
				FeeTarget:  cfg.PoPM.FeeTarget,
				MaxFeeRate: cfg.PoPM.MaxFeeRate,
				BumpBlocks: int32(cfg.PoPM.BumpBlocks),
				Logger:     log,
				Registerer: reg,
			})
			if err != nil {
				return err
			}
			g, ctx := errgroup.WithContext(ctx)
			g.Go(func() error { return m.Run(ctx) })
			if cfg.Metrics.Listen != "" {
				g.Go(func() error { return metrics.Serve(ctx, cfg.Metrics.Listen, reg, log) })
			}
			return g.Wait()
		},
	}
}
