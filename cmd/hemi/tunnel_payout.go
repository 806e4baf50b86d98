package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/urfave/cli/v3"

	"github.com/hemi-go/hemi/internal/popm"
	"github.com/hemi-go/hemi/internal/signer"
	"github.com/hemi-go/hemi/internal/tbc"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// Flags of `hemi tunnel payout|recover` and `hemi signer`.
const (
	flagOutpoint = "outpoint"
)

// tunnelPayoutCommand is `hemi tunnel payout <batch> --psbt`: the
// unsigned payout of the node's open (or last) batch, derived locally
// from the batch in the node's L2 state, for an external or hardware
// signer.
func tunnelPayoutCommand() *cli.Command {
	return &cli.Command{
		Name:      "payout",
		Usage:     "print the unsigned payout of a batch (the node's open or last one), as a PSBT with --psbt",
		ArgsUsage: "<batch number>",
		Description: "Reads the tunnel's batch from the node's L2 state (--rpc), derives its payout transaction\n" +
			"exactly as every signer does and prints it: with --psbt a base64 BIP-174 PSBT carrying the BIP-371\n" +
			"Taproot fields (committee leaf script, control block, internal key, merkle root) and every input's\n" +
			"witness UTXO, which a hardware or external signer signs; without it the unsigned transaction's hex.\n" +
			"The txid, attempt and fee go to stderr.",
		Flags: []cli.Flag{genesisFlag(), rpcURLFlag(), &cli.BoolFlag{Name: flagPSBT, Usage: "print a PSBT (base64) instead of the raw unsigned transaction"}},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			number, err := strconv.ParseUint(cmd.Args().First(), 10, 64)
			if err != nil || cmd.Args().Len() != 1 {
				return fmt.Errorf("tunnel payout: give one batch number (e.g. `hemi tunnel payout 3 --psbt`)")
			}
			v, _, err := loadVault(cmd.String(flagGenesis))
			if err != nil {
				return err
			}
			c, err := ethclient.DialContext(ctx, cmd.String(flagRPC))
			if err != nil {
				return fmt.Errorf("tunnel payout: dial %s: %w", cmd.String(flagRPC), err)
			}
			defer c.Close()
			b, head, err := signer.ReadBatch(ctx, c, v.Config().TunnelAddress)
			if err != nil {
				return fmt.Errorf("tunnel payout: read the batch from %s: %w", cmd.String(flagRPC), err)
			}
			if b.Number != number {
				if b.Number == 0 {
					return fmt.Errorf("tunnel payout: the node has no batch yet (L2 block %d)", head)
				}
				return fmt.Errorf("tunnel payout: batch %d is not the node's open or last batch (that is %d, as of L2 block %d): only the current batch's payout can be derived", number, b.Number, head)
			}
			return printPayout(cmd.Root().Writer, cmd.Root().ErrWriter, b, v, cmd.Bool(flagPSBT))
		},
	}
}

// printPayout writes batch b's unsigned payout (PSBT or hex) to out and a
// summary to info.
func printPayout(out, info io.Writer, b *tunnel.Batch, v *tunnel.Vault, asPSBT bool) error {
	tx, err := tunnel.BuildPayout(b, v)
	if err != nil {
		return fmt.Errorf("tunnel payout: batch %d: %w", b.Number, err)
	}
	state := "open"
	if !b.Open {
		state = "closed"
	}
	fmt.Fprintf(info, "batch %d attempt %d (%s): txid %s, %d inputs, %d outputs, fee %d sat at %d sat/vB\n",
		b.Number, b.Attempt, state, tx.TxHash(), len(tx.TxIn), len(b.Outputs), b.Fee, b.FeeRate)
	if !asPSBT {
		raw, err := serializeTx(tx)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, hex.EncodeToString(raw))
		return nil
	}
	p, err := tunnel.NewVaultPSBT(tx, tunnel.PayoutPrevouts(b, v), v, v.CommitteeScript())
	if err != nil {
		return err
	}
	s, err := p.Base64()
	if err != nil {
		return err
	}
	fmt.Fprintln(out, s)
	return nil
}

func serializeTx(tx *wire.MsgTx) ([]byte, error) {
	var b bytes.Buffer
	err := tx.Serialize(&b)
	return b.Bytes(), err
}

// tunnelRecoverCommand is `hemi tunnel recover --psbt --to ADDRESS`: the
// recovery set's spend of the vault's outputs (the recovery leaf, valid
// only N blocks after each output was created).
func tunnelRecoverCommand() *cli.Command {
	return &cli.Command{
		Name:  "recover",
		Usage: "print the recovery-leaf spend of vault outputs as a PSBT for the recovery set (--psbt --to ADDRESS)",
		Description: "Lists the vault's unspent outputs through the node's Bitcoin query API (--api), or takes\n" +
			"--outpoint txid:vout (repeatable) among them, and prints a base64 PSBT spending them all to --to\n" +
			"through the recovery leaf: every input's nSequence is the recovery delay N, so Bitcoin accepts the\n" +
			"signed transaction only once each input is N blocks deep; m of the recovery keys sign it.",
		Flags: []cli.Flag{
			genesisFlag(), apiFlag(),
			&cli.BoolFlag{Name: flagPSBT, Usage: "print the PSBT (required: the recovery keys are never on this machine)"},
			&cli.StringFlag{Name: flagTo, Usage: "Bitcoin address receiving the recovered BTC"},
			&cli.Uint64Flag{Name: flagFeeRate, Value: 2, Usage: "fee rate in sat/vB"},
			&cli.StringSliceFlag{Name: flagOutpoint, Usage: "a vault output txid:vout to recover (default: all of them)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if !cmd.Bool(flagPSBT) {
				return fmt.Errorf("tunnel recover: only --psbt is supported: the recovery set signs the PSBT with its own keys")
			}
			v, _, err := loadVault(cmd.String(flagGenesis))
			if err != nil {
				return err
			}
			to, err := address.DecodeAddress(cmd.String(flagTo), v.Net())
			if err != nil || !to.IsForNet(v.Net()) {
				return fmt.Errorf("tunnel recover: --to %q is not a %s address", cmd.String(flagTo), v.Net().Name)
			}
			dest, err := txscript.PayToAddrScript(to)
			if err != nil {
				return err
			}
			api := cmd.String(flagAPI)
			if api == "" {
				api = "127.0.0.1:7340"
			}
			ins, err := vaultOutputs(ctx, tbc.NewClient(api), v, cmd.StringSlice(flagOutpoint))
			if err != nil {
				return err
			}
			p, err := tunnel.RecoveryPSBT(ins, dest, cmd.Uint64(flagFeeRate), v)
			if err != nil {
				return fmt.Errorf("tunnel recover: %w", err)
			}
			s, err := p.Base64()
			if err != nil {
				return err
			}
			var total uint64
			for _, in := range ins {
				total += in.Amount
			}
			fmt.Fprintf(cmd.Root().ErrWriter, "recovery of %d vault outputs (%d sat) to %s, txid %s; valid once every input is %d blocks deep; sign with %d of the recovery keys\n",
				len(ins), total, to.EncodeAddress(), p.Tx.TxHash(), v.Config().RecoveryDelay, v.Config().M)
			fmt.Fprintln(cmd.Root().Writer, s)
			return nil
		},
	}
}

// vaultOutputs lists the vault's unspent outputs (all, or those named).
func vaultOutputs(ctx context.Context, c *tbc.Client, v *tunnel.Vault, only []string) ([]tunnel.RecoveryInput, error) {
	coins, err := popm.AllCoins(ctx, func(p int) ([]popm.Coin, error) {
		us, err := c.UTXOs(ctx, "script:"+hex.EncodeToString(v.PkScript()), "", p, popm.CoinPage)
		if err != nil {
			return nil, err
		}
		out := make([]popm.Coin, len(us.UTXOs))
		for i, u := range us.UTXOs {
			h, err := chainhash.NewHashFromStr(u.Txid)
			if err != nil {
				return nil, fmt.Errorf("utxo txid %q: %w", u.Txid, err)
			}
			out[i] = popm.Coin{OutPoint: wire.OutPoint{Hash: *h, Index: u.Vout}, Value: u.Satoshis}
		}
		return out, nil
	})
	if err != nil {
		return nil, fmt.Errorf("tunnel recover: list vault outputs: %w", err)
	}
	want := map[wire.OutPoint]bool{}
	for _, s := range only {
		op, err := wire.NewOutPointFromString(s)
		if err != nil {
			return nil, fmt.Errorf("tunnel recover: --outpoint %q: want txid:vout", s)
		}
		want[*op] = true
	}
	var ins []tunnel.RecoveryInput
	for _, c := range coins {
		if len(want) > 0 && !want[c.OutPoint] {
			continue
		}
		delete(want, c.OutPoint)
		ins = append(ins, tunnel.RecoveryInput{OutPoint: c.OutPoint, Amount: uint64(c.Value)})
	}
	for op := range want {
		return nil, fmt.Errorf("tunnel recover: %s is not an unspent vault output", op)
	}
	if len(ins) == 0 {
		return nil, fmt.Errorf("tunnel recover: the vault has no unspent outputs")
	}
	return ins, nil
}
