package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/urfave/cli/v3"

	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// tunnelCommand is `hemi tunnel`: the BTC tunnel's Bitcoin side
// (DESIGN 6). Its subcommands are offline: they read the genesis file.
func tunnelCommand() *cli.Command {
	return &cli.Command{
		Name:  "tunnel",
		Usage: "the BTC tunnel's vault (DESIGN 6)",
		Commands: []*cli.Command{
			tunnelVaultCommand(),
			tunnelPayoutCommand(),
			tunnelRecoverCommand(),
		},
	}
}

// tunnelVaultCommand is `hemi tunnel vault [--genesis FILE]`.
func tunnelVaultCommand() *cli.Command {
	return &cli.Command{
		Name:  "vault",
		Usage: "print the tunnel vault's address, leaves and output descriptor (watch-only import into Bitcoin Core 26+)",
		Description: "The vault is derived from the genesis file's tunnel keys, thresholds and recovery delay:\n" +
			"a Taproot output with BIP-341's unspendable NUMS internal key and two leaves, the committee\n" +
			"(k of the signers) and the recovery set (m of the recovery keys, N blocks after an output was\n" +
			"created). Without --genesis it prints the devnet's vault (its public dev keys, regtest).",
		Flags: []cli.Flag{genesisFlag()},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			v, source, err := loadVault(cmd.String(flagGenesis))
			if err != nil {
				return err
			}
			printVault(cmd.Root().Writer, v, source)
			return nil
		},
	}
}

// loadVault is the vault of the genesis file at path, or the devnet's
// without one; source says which, for the printout.
func loadVault(path string) (*tunnel.Vault, string, error) {
	if path == "" {
		cfg, err := genesis.DevTunnelConfig()
		if err != nil {
			return nil, "", err
		}
		v, err := tunnel.NewVault(cfg, &chaincfg.RegressionNetParams)
		return v, "the devnet's dev tunnel (public keys; give --genesis FILE for a network's vault)", err
	}
	f, err := genesis.Load(path)
	if err != nil {
		return nil, "", err
	}
	if f.Config.Tunnel == nil {
		return nil, "", fmt.Errorf("%s: the genesis has no tunnel (its \"tunnel\" is null): this network has no vault", path)
	}
	params, err := f.Config.BitcoinParams()
	if err != nil {
		return nil, "", err
	}
	v, err := tunnel.NewVault(f.Config.Tunnel, params)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return v, fmt.Sprintf("%s (genesis hash %s)", path, f.Hash()), nil
}

func printVault(w io.Writer, v *tunnel.Vault, source string) {
	c := v.Config()
	fmt.Fprintf(w, "vault        %s\n", v.Address())
	fmt.Fprintf(w, "network      %s\n", v.Net().Name)
	fmt.Fprintf(w, "from         %s\n", source)
	fmt.Fprintf(w, "pkScript     %s\n\n", hex.EncodeToString(v.PkScript()))
	leaf := func(name string, script []byte) {
		asm, err := txscript.DisasmString(script)
		if err != nil {
			asm = "(" + err.Error() + ")"
		}
		cb, _ := v.ControlBlock(script) // a leaf of v: never fails
		fmt.Fprintf(w, "%s\n  script        %s\n  asm           %s\n  control block %s\n\n", name, hex.EncodeToString(script), asm, hex.EncodeToString(cb))
	}
	leaf(fmt.Sprintf("committee leaf: sortedmulti_a, %d of %d signers (keys sorted)", c.K, len(c.Signers)), v.CommitteeScript())
	leaf(fmt.Sprintf("recovery leaf: and_v(v:older(%d),multi_a(...)), %d of %d keys, %d blocks after an output was created", c.RecoveryDelay, c.M, len(c.Recovery), c.RecoveryDelay), v.RecoveryScript())
	fmt.Fprintf(w, "internal key %s (BIP-341 NUMS: no key path)\n", tunnel.NUMSKeyX)
	fmt.Fprintf(w, "output key   %s\n", hex.EncodeToString(schnorr.SerializePubKey(v.OutputKey())))
	fmt.Fprintf(w, "merkle root  %s\n\n", hex.EncodeToString(v.MerkleRoot()))
	fmt.Fprintf(w, "descriptor   %s\n\n", v.Descriptor())
	fmt.Fprintf(w, "Watch the vault in Bitcoin Core 26+ (a watch-only descriptor wallet; \"timestamp\" 0 rescans\nthe whole chain for past deposits, \"now\" only watches from here on):\n")
	fmt.Fprintf(w, "  bitcoin-cli -named createwallet wallet_name=hemi-vault disable_private_keys=true blank=true\n")
	fmt.Fprintf(w, "  bitcoin-cli -rpcwallet=hemi-vault importdescriptors '[{\"desc\":\"%s\",\"timestamp\":\"now\"}]'\n", v.Descriptor())
}
