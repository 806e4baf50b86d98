package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/urfave/cli/v3"
	"golang.org/x/sync/errgroup"

	"github.com/hemi-go/hemi/internal/metrics"
	"github.com/hemi-go/hemi/internal/popm"
	"github.com/hemi-go/hemi/internal/signer"
	"github.com/hemi-go/hemi/internal/tbc"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// Flags of `hemi signer`.
const (
	flagSignerKeyFile = "key-file"
	flagSignerKeyPath = "key-path"
	flagL2KeyFile     = "l2-key-file"
	flagL2KeyPath     = "l2-key-path"
	flagSubmitRPC     = "submit-rpc"
)

func signerFlags() []cli.Flag {
	return []cli.Flag{
		genesisFlag(), rpcURLFlag(), apiFlag(),
		&cli.StringFlag{Name: flagSignerKeyFile, Usage: "file holding the committee key (WIF, or a BIP-39 mnemonic or xprv/tprv with --key-path); default $" + signer.KeyEnv, TakesFile: true, Sources: cli.EnvVars("HEMI_SIGNER_KEY_FILE")},
		&cli.StringFlag{Name: flagSignerKeyPath, Usage: "BIP-32 path of the committee key in an HD secret (the devnet's signer i: m/86'/1'/0'/0/i)", Sources: cli.EnvVars("HEMI_SIGNER_KEY_PATH")},
		&cli.StringFlag{Name: flagL2KeyFile, Usage: "file holding the funded L2 account that pays for the posts (64 hex digits or a BIP-39 mnemonic); default $" + signer.L2KeyEnv, TakesFile: true, Sources: cli.EnvVars("HEMI_SIGNER_L2_KEY_FILE")},
		&cli.StringFlag{Name: flagL2KeyPath, Usage: "BIP-32 path of the L2 account in a mnemonic (default " + signer.DefaultL2Path + ")", Sources: cli.EnvVars("HEMI_SIGNER_L2_KEY_PATH")},
		&cli.StringFlag{Name: flagSubmitRPC, Usage: "JSON-RPC URL the signature posts are sent to instead of --rpc (default --rpc: a follower forwards them to the sequencer given its rpc.sequencer_urls); only for a follower without it. Everything is still read from --rpc", Sources: cli.EnvVars("HEMI_SIGNER_SUBMIT_RPC")},
	}
}

// signerKeys are the config keys `hemi signer` reads; its --rpc is the
// node's URL, not rpc.listen.
var signerKeys = keyUse{uses: []string{"datadir", "log", "metrics", "genesis", "btc.api"}}

func signerCommand() *cli.Command {
	return &cli.Command{
		Name:  "signer",
		Usage: "run a tunnel committee signer against your own node: check, sign, post, assemble and broadcast payouts",
		Description: "Reads the tunnel's open batch from YOUR node's L2 state (--rpc), derives the payout itself,\n" +
			"checks every output against a superfinal burn or a queued refund on that node (refusing, with\n" +
			"the reason in the log, an output nobody burned for, more than was burned, a burn that is not\n" +
			"superfinal, an id already paid, a fee above its maxFee), signs with the committee key and posts\n" +
			"the signatures in an L2 transaction from its own funded account. It also assembles: once k good\n" +
			"signature sets are posted it broadcasts the payout through the node's Bitcoin API (--api).\n" +
			"Keys come from files or the environment, never from flags: the committee key from --key-file or\n" +
			"$" + signer.KeyEnv + ", the L2 account from --l2-key-file or $" + signer.L2KeyEnv + ". What it signed is kept\n" +
			"in <datadir>/signer/<network> so that a restart never signs a second transaction for a batch.\n" +
			"The posts go to --rpc too: a follower node forwards them to the sequencer (its rpc.sequencer_urls).\n" +
			"Only for a follower without rpc.sequencer_urls, give the sequencer's JSON-RPC as --submit-rpc: the\n" +
			"posts go there and are read back from your own node.\n\n" +
			"Example (the devnet's signer 0):\n" +
			"  HEMI_SIGNER_KEY='" + "test test test test test test test test test test test junk" + "' \\\n" +
			"  HEMI_SIGNER_L2_KEY='<funded L2 key>' hemi signer --key-path \"m/86'/1'/0'/0/0\" --genesis genesis.json",
		Flags: signerFlags(),
		Commands: []*cli.Command{{
			Name:  "keys",
			Usage: "print the committee key and L2 account the signer would use, and whether the key is in the committee",
			Flags: signerFlags(),
			Action: func(ctx context.Context, cmd *cli.Command) error {
				v, _, err := loadVault(cmd.String(flagGenesis))
				if err != nil {
					return err
				}
				key, err := signer.LoadKey(cmd.String(flagSignerKeyFile), cmd.String(flagSignerKeyPath), v.Net())
				if err != nil {
					return err
				}
				l2, err := signer.LoadL2Key(cmd.String(flagL2KeyFile), cmd.String(flagL2KeyPath))
				if err != nil {
					return err
				}
				return printSignerKeys(cmd.Root().Writer, v, key, crypto.PubkeyToAddress(l2.PublicKey).Hex())
			},
		}},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			cfg, _, err := loadConfig(cmd, signerKeys)
			if err != nil {
				return err
			}
			v, source, err := loadVault(cfg.Genesis)
			if err != nil {
				return err
			}
			key, err := signer.LoadKey(cmd.String(flagSignerKeyFile), cmd.String(flagSignerKeyPath), v.Net())
			if err != nil {
				return err
			}
			l2, err := signer.LoadL2Key(cmd.String(flagL2KeyFile), cmd.String(flagL2KeyPath))
			if err != nil {
				return err
			}
			api := cfg.BTC.API
			if api == "" {
				api = "127.0.0.1:7340"
			}
			node, err := signer.DialRPCNode(ctx, cmd.String(flagRPC), popm.APIBitcoin{Client: tbc.NewClient(api)}, v.Config().TunnelAddress, l2)
			if err != nil {
				return err
			}
			defer node.Close()
			if submit := cmd.String(flagSubmitRPC); submit != "" && submit != cmd.String(flagRPC) {
				if err := node.SubmitTo(ctx, submit); err != nil {
					return err
				}
			}
			log := newLogger(cfg)
			reg := metrics.NewRegistry()
			s, err := signer.New(signer.Config{
				Key: key, Vault: v, Node: node,
				DataDir:    filepath.Join(cfg.DataDir, "signer", v.Net().Name),
				Logger:     log,
				Registerer: reg,
			})
			if err != nil {
				return err
			}
			log.Info("tunnel signer running", "vault", v.Address(), "from", source, "l2_account", node.From().Hex(), "rpc", cmd.String(flagRPC),
				"submit_rpc", cmp.Or(cmd.String(flagSubmitRPC), cmd.String(flagRPC)), "btc_api", api)
			g, ctx := errgroup.WithContext(ctx)
			g.Go(func() error { return s.Run(ctx) })
			if cfg.Metrics.Listen != "" {
				g.Go(func() error { return metrics.Serve(ctx, cfg.Metrics.Listen, reg, log) })
			}
			return g.Wait()
		},
	}
}

// printSignerKeys says which committee key and L2 account a signer uses.
func printSignerKeys(w io.Writer, v *tunnel.Vault, key *btcec.PrivateKey, l2 string) error {
	keys, k, err := tunnel.CommitteeKeys(v)
	if err != nil {
		return err
	}
	me := tunnel.XOnly(key.PubKey())
	index := -1
	for i, c := range keys {
		if c == me {
			index = i
		}
	}
	fmt.Fprintf(w, "committee key  %x\n", me)
	if index < 0 {
		fmt.Fprintf(w, "               NOT one of the vault's %d signers: `hemi signer` would refuse to start\n", len(keys))
	} else {
		fmt.Fprintf(w, "signer index   %d of %d (%d sign each payout)\n", index, len(keys), k)
	}
	fmt.Fprintf(w, "L2 account     %s (fund it: each post is an L2 transaction)\n", l2)
	fmt.Fprintf(w, "vault          %s\n", v.Address())
	return nil
}
