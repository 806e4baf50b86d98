package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"github.com/urfave/cli/v3"

	"github.com/hemi-go/hemi/internal/btc/network"
	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/config"
	"github.com/hemi-go/hemi/internal/popm"
	"github.com/hemi-go/hemi/internal/tbc"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// Flags of `hemi deposit`.
const (
	flagAmount   = "amount"
	flagPSBT     = "psbt"
	flagFeeRate  = "fee-rate"
	flagNoFollow = "no-follow"
	flagPoll     = "poll"
)

// DepositKeyEnv holds the depositor's wallet secret when --key-file is
// not given (a BIP-39 mnemonic, an xprv/tprv or a WIF, as the PoP miner
// takes them; never a flag).
const DepositKeyEnv = "HEMI_DEPOSIT_KEY"

// maxDepositInputs bounds the coins one deposit spends, far below the
// 100,000-vB standard transaction size.
const maxDepositInputs = 500

func depositCommand() *cli.Command {
	return &cli.Command{
		Name:  "deposit",
		Usage: "lock BTC in the tunnel vault and follow it until hBTC is minted on the L2",
		Description: "Builds a Bitcoin transaction paying --amount BTC to the vault of the network's genesis (--genesis)\n" +
			"with an OP_RETURN naming the L2 recipient (--to, 20 raw bytes), change back to the wallet;\n" +
			"signs it with the wallet secret from --key-file or $" + DepositKeyEnv + " (a BIP-39 mnemonic, xprv/tprv\n" +
			"or WIF, as `hemi popm` takes it; never a flag value) and broadcasts it through the node's Bitcoin\n" +
			"query API (--api). Then it follows the deposit with hemi_getDeposit on the L2 node (--rpc), one line\n" +
			"per change, until it is minted (or refunded or recorded).\n\n" +
			"With --psbt it signs nothing: it prints an unsigned PSBT (BIP-174, base64) spending the coins of\n" +
			"--from ADDRESS (or of the wallet secret's address) for an external wallet to sign and broadcast.\n\n" +
			"Example: HEMI_DEPOSIT_KEY='<wif>' hemi deposit --genesis genesis.json --amount 1.5 --to 0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: flagAmount, Usage: "BTC to deposit, e.g. 1.5 (at most 8 decimals)", Required: true},
			&cli.StringFlag{Name: flagTo, Usage: "the L2 address credited with hBTC, 0x and 40 hex digits", Required: true},
			genesisFlag(),
			apiFlag(),
			rpcURLFlag(),
			&cli.StringFlag{Name: flagKeyFile, Usage: "file holding the wallet secret (default $" + DepositKeyEnv + ")", TakesFile: true},
			&cli.StringFlag{Name: flagWallet, Value: "p2wpkh", Usage: "the secret's address type: p2wpkh (BIP-84) or p2tr (BIP-86)"},
			&cli.Int64Flag{Name: flagFeeRate, Usage: "fee rate in sat/vB (default: the node's 6-block estimate)"},
			&cli.BoolFlag{Name: flagPSBT, Usage: "print an unsigned PSBT instead of signing and broadcasting"},
			&cli.StringFlag{Name: flagFrom, Usage: "with --psbt: the address whose coins the PSBT spends (P2WPKH or P2TR)"},
			&cli.BoolFlag{Name: flagNoFollow, Usage: "exit after the broadcast"},
			&cli.DurationFlag{Name: flagPoll, Value: 2 * time.Second, Usage: "how often the deposit's state is asked for"},
		},
		Action: runDeposit,
	}
}

// depositSource is the wallet the deposit spends from: its script and
// input kind, and the wallet itself when its secret is at hand.
type depositSource struct {
	script []byte
	kind   txgen.Kind
	wallet *popm.Wallet // nil in --psbt mode with --from
	// internalKey is a P2TR wallet's BIP-86 internal key (PSBT field).
	internalKey []byte
	// addr is the wallet's address, for messages.
	addr string
}

func runDeposit(ctx context.Context, cmd *cli.Command) error {
	out, errOut := cmd.Root().Writer, cmd.Root().ErrWriter
	genesisPath := cmd.String(flagGenesis)
	if genesisPath == "" {
		return fmt.Errorf("deposit: give the network's genesis file with --genesis FILE (or $HEMI_GENESIS): it defines the vault (`hemi devnet` prints its path)")
	}
	v, _, err := loadVault(genesisPath)
	if err != nil {
		return fmt.Errorf("deposit: %w", err)
	}
	amount, err := parseBTC(cmd.String(flagAmount))
	if err != nil {
		return fmt.Errorf("deposit: --%s: %w", flagAmount, err)
	}
	to, err := parseRecipient(cmd.String(flagTo))
	if err != nil {
		return fmt.Errorf("deposit: --%s: %w", flagTo, err)
	}
	if min := v.Config().MinDepositSat; uint64(amount) < min {
		return fmt.Errorf("deposit: %s BTC is below the network's minimum deposit of %s BTC: it would be refunded less its fee, not minted", formatBTC(amount), formatBTC(int64(min)))
	}
	src, err := depositWallet(cmd, v)
	if err != nil {
		return fmt.Errorf("deposit: %w", err)
	}
	api := config.Default().BTC.API
	if cmd.IsSet(flagAPI) {
		api = cmd.String(flagAPI)
	}
	client := tbc.NewClient(api)
	st, err := client.Status(ctx)
	if err != nil {
		return fmt.Errorf("deposit: the node's Bitcoin API at %s: %w (point --api at `hemi node` or `hemi devnet`)", api, err)
	}
	if p, err := network.Params(st.Network); err != nil || p.Net != v.Net().Net {
		return fmt.Errorf("deposit: the node at %s follows Bitcoin %s, the genesis's vault is on %s", api, st.Network, v.Net().Name)
	}
	feeRate := cmd.Int64(flagFeeRate)
	if feeRate <= 0 {
		f, err := client.FeeRate(ctx, 6)
		if err != nil {
			return fmt.Errorf("deposit: fee estimate: %w (or give --%s)", err, flagFeeRate)
		}
		feeRate = max(f.SatPerVB, 1)
	}
	coins, err := spendableCoins(ctx, client, src.script, st, v.Net().CoinbaseMaturity)
	if err != nil {
		return fmt.Errorf("deposit: %w", err)
	}
	tx, used, fee, err := buildDeposit(coins, src, v.PkScript(), to, amount, feeRate)
	if err != nil {
		return fmt.Errorf("deposit: %w", err)
	}
	txid := tx.TxHash()
	fmt.Fprintf(errOut, "deposit %s BTC from %s for %s\n  vault %s\n  fee   %d sat (%d sat/vB), %d input(s)\n  txid  %s, deposit outpoint %s:0\n",
		formatBTC(amount), src.addr, to.Hex(), v.Address(), fee, feeRate, len(used), txid, txid)
	if cmd.Bool(flagPSBT) {
		p, err := depositPSBT(ctx, client, tx, used, src)
		if err != nil {
			return fmt.Errorf("deposit: %w", err)
		}
		fmt.Fprintln(errOut, "unsigned PSBT (sign and broadcast it with your wallet, e.g. bitcoin-cli walletprocesspsbt, then finalizepsbt and sendrawtransaction):")
		fmt.Fprintln(out, p)
		return nil
	}
	prevs := make([]txgen.UTXO, len(used))
	for i, c := range used {
		prevs[i] = src.wallet.UTXO(c)
	}
	if err := txgen.Sign(tx, prevs); err != nil {
		return fmt.Errorf("deposit: sign: %w", err)
	}
	if err := txgen.Verify(tx, prevs); err != nil {
		return fmt.Errorf("deposit: %w", err)
	}
	verdict, why, err := popm.APIBitcoin{Client: client}.Broadcast(ctx, tx)
	if err != nil {
		return fmt.Errorf("deposit: broadcast %s: %w", txid, err)
	}
	if verdict == popm.VerdictRejected {
		return fmt.Errorf("deposit: the network refused %s: %s", txid, why)
	}
	fmt.Fprintf(out, "broadcast %s (%s)\n", txid, why)
	if cmd.Bool(flagNoFollow) {
		return nil
	}
	return followDeposit(ctx, cmd.String(flagRPC), fmt.Sprintf("%s:0", txid), cmd.Duration(flagPoll), out)
}

// depositWallet is the wallet the flags name: the secret (key file or
// environment) or, with --psbt, --from.
func depositWallet(cmd *cli.Command, v *tunnel.Vault) (*depositSource, error) {
	kind, err := popm.ParseKind(cmd.String(flagWallet))
	if err != nil {
		return nil, err
	}
	if from := cmd.String(flagFrom); from != "" {
		if !cmd.Bool(flagPSBT) {
			return nil, fmt.Errorf("--%s is for --%s (an external wallet signs); to sign here give the secret in --%s or $%s", flagFrom, flagPSBT, flagKeyFile, DepositKeyEnv)
		}
		a, err := address.DecodeAddress(from, v.Net())
		if err != nil || !a.IsForNet(v.Net()) {
			return nil, fmt.Errorf("--%s %q: not an address of %s", flagFrom, from, v.Net().Name)
		}
		script, err := txscript.PayToAddrScript(a)
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", flagFrom, err)
		}
		switch txscript.GetScriptClass(script) {
		case txscript.WitnessV0PubKeyHashTy:
			return &depositSource{script: script, kind: txgen.P2WPKH, addr: from}, nil
		case txscript.WitnessV1TaprootTy:
			return &depositSource{script: script, kind: txgen.P2TR, addr: from}, nil
		}
		return nil, fmt.Errorf("--%s %s: only P2WPKH and P2TR addresses are supported", flagFrom, from)
	}
	w, err := popm.LoadWalletEnv(cmd.String(flagKeyFile), DepositKeyEnv, "--"+flagKeyFile, kind, v.Net())
	if err != nil {
		return nil, err
	}
	src := &depositSource{script: w.Script(), kind: w.UTXO(popm.Coin{}).Kind, wallet: w, addr: w.Address().EncodeAddress()}
	if src.kind == txgen.P2TR {
		src.internalKey = schnorr.SerializePubKey(w.UTXO(popm.Coin{}).Key.Pub)
	}
	return src, nil
}

// spendableCoins are the outputs paying script as of the node's tip,
// without coinbases younger than maturity (the network refuses their
// spends).
func spendableCoins(ctx context.Context, c *tbc.Client, script []byte, st tbc.Status, maturity uint16) ([]popm.Coin, error) {
	var out []popm.Coin
	for page := 0; ; page++ {
		us, err := c.UTXOs(ctx, "script:"+hex.EncodeToString(script), st.BlockHash, page, popm.CoinPage)
		if err != nil {
			return nil, fmt.Errorf("the wallet's coins: %w", err)
		}
		for _, u := range us.UTXOs {
			if u.Position == 0 && st.BlockHeight+1-u.Height < int32(maturity) {
				continue // an immature coinbase
			}
			h, err := chainhash.NewHashFromStr(u.Txid)
			if err != nil {
				return nil, fmt.Errorf("utxo txid %q: %w", u.Txid, err)
			}
			out = append(out, popm.Coin{OutPoint: wire.OutPoint{Hash: *h, Index: u.Vout}, Value: u.Satoshis})
		}
		if len(us.UTXOs) < popm.CoinPage {
			return out, nil
		}
	}
}

// errFunds: the wallet's coins cannot pay the deposit and its fee.
var errFunds = errors.New("not enough BTC")

// buildDeposit is the unsigned deposit transaction: output 0 pays amount
// to the vault, output 1 is the OP_RETURN naming to (20 raw bytes),
// output 2 returns the change to the wallet (left out when it would be
// dust: it goes to the fee). Coins are spent largest first, until they
// cover the amount and the fee at feeRate; every input signals BIP-125
// replaceability, so a stuck deposit can be bumped. It returns the coins
// spent, in input order, and the fee.
func buildDeposit(coins []popm.Coin, src *depositSource, vault []byte, to common.Address, amount, feeRate int64) (*wire.MsgTx, []popm.Coin, int64, error) {
	if dust := int64(tunnel.DustLimit(vault)); amount <= dust {
		return nil, nil, 0, fmt.Errorf("%d sat is dust for the vault's output (at most %d)", amount, dust)
	}
	sorted := slices.Clone(coins)
	slices.SortFunc(sorted, func(a, b popm.Coin) int {
		if c := cmp.Compare(b.Value, a.Value); c != 0 {
			return c
		}
		if c := bytes.Compare(a.OutPoint.Hash[:], b.OutPoint.Hash[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.OutPoint.Index, b.OutPoint.Index)
	})
	recipient := tunnel.RecipientScript(to)
	scripts := [][]byte{vault, recipient, src.script}
	var in int64
	for n := 1; n <= min(len(sorted), maxDepositInputs); n++ {
		in += sorted[n-1].Value
		kinds := slices.Repeat([]txgen.Kind{src.kind}, n)
		vsize, err := txgen.EstimateVSize(kinds, scripts)
		if err != nil {
			return nil, nil, 0, err
		}
		fee := vsize * feeRate
		if in < amount+fee {
			continue
		}
		tx := wire.NewMsgTx(2)
		for _, c := range sorted[:n] {
			op := c.OutPoint
			txIn := wire.NewTxIn(&op, nil, nil)
			txIn.Sequence = wire.MaxTxInSequenceNum - 2 // BIP-125
			tx.AddTxIn(txIn)
		}
		tx.AddTxOut(wire.NewTxOut(amount, vault))
		tx.AddTxOut(wire.NewTxOut(0, recipient))
		if change := in - amount - fee; change >= txgen.DustLimit(src.script) {
			tx.AddTxOut(wire.NewTxOut(change, src.script))
		} else {
			fee = in - amount // the dust change goes to the fee
		}
		return tx, slices.Clone(sorted[:n]), fee, nil
	}
	var total int64
	for _, c := range coins {
		total += c.Value
	}
	return nil, nil, 0, fmt.Errorf("%w: the wallet has %s BTC in %d spendable coin(s), the deposit needs %s BTC plus the fee at %d sat/vB (fund %s, or wait for coinbases to mature)",
		errFunds, formatBTC(total), len(coins), formatBTC(amount), feeRate, src.addr)
}

// parseBTC reads a BTC amount as a decimal of at most 8 places, exactly
// (no floating point): "1.5" is 150,000,000 sat.
func parseBTC(s string) (int64, error) {
	whole, frac, _ := strings.Cut(strings.TrimSpace(s), ".")
	if whole == "" && frac == "" || len(frac) > 8 || strings.ContainsAny(whole+frac, "+-") {
		return 0, fmt.Errorf("%q: want BTC as a decimal with at most 8 places, e.g. 1.5", s)
	}
	n, ok := new(big.Int).SetString(cmp.Or(whole, "0")+frac+strings.Repeat("0", 8-len(frac)), 10)
	if !ok || n.Sign() <= 0 || n.Cmp(big.NewInt(21_000_000*100_000_000)) > 0 {
		return 0, fmt.Errorf("%q: want a positive BTC amount of at most 21,000,000 with at most 8 decimals, e.g. 1.5", s)
	}
	return n.Int64(), nil
}

// formatBTC writes sat as BTC with 8 decimals, trailing zeros dropped.
func formatBTC(sat int64) string {
	s := fmt.Sprintf("%d.%08d", sat/100_000_000, sat%100_000_000)
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}

// parseRecipient reads an L2 address (0x and 40 hex digits, either
// case); the zero address is refused (the tunnel would refund it).
func parseRecipient(s string) (common.Address, error) {
	if !strings.HasPrefix(s, "0x") || !common.IsHexAddress(s) {
		return common.Address{}, fmt.Errorf("%q: want an L2 address, 0x and 40 hex digits", s)
	}
	a := common.HexToAddress(s)
	if a == (common.Address{}) {
		return common.Address{}, fmt.Errorf("the zero address has no key: nobody could use the hBTC (the tunnel refunds such deposits)")
	}
	return a, nil
}

// depositPSBT is the unsigned deposit as a BIP-174 PSBT, base64: each
// input carries its witness UTXO, a P2WPKH input also its whole previous
// transaction (hardware wallets check the amount against it), a P2TR
// input of a known wallet its BIP-371 internal key.
//
// The tunnel's PSBT codec (internal/tunnel psbt.go, vault-spend fields)
// can replace this minimal writer once both are on one branch.
func depositPSBT(ctx context.Context, c *tbc.Client, tx *wire.MsgTx, used []popm.Coin, src *depositSource) (string, error) {
	var b bytes.Buffer
	b.Write([]byte{0x70, 0x73, 0x62, 0x74, 0xff})
	var unsigned bytes.Buffer
	if err := tx.SerializeNoWitness(&unsigned); err != nil {
		return "", err
	}
	psbtPair(&b, []byte{0x00}, unsigned.Bytes()) // PSBT_GLOBAL_UNSIGNED_TX
	b.WriteByte(0)
	for _, coin := range used {
		if src.kind == txgen.P2WPKH {
			prev, err := c.Tx(ctx, coin.OutPoint.Hash.String(), "")
			if err != nil {
				return "", fmt.Errorf("previous transaction %s: %w", coin.OutPoint.Hash, err)
			}
			raw, err := hex.DecodeString(prev.Hex)
			if err != nil {
				return "", fmt.Errorf("previous transaction %s: %w", coin.OutPoint.Hash, err)
			}
			psbtPair(&b, []byte{0x00}, raw) // PSBT_IN_NON_WITNESS_UTXO
		}
		var wu bytes.Buffer
		if err := wire.WriteTxOut(&wu, 0, 0, wire.NewTxOut(coin.Value, src.script)); err != nil {
			return "", err
		}
		psbtPair(&b, []byte{0x01}, wu.Bytes()) // PSBT_IN_WITNESS_UTXO
		if len(src.internalKey) == 32 {
			psbtPair(&b, []byte{0x17}, src.internalKey) // PSBT_IN_TAP_INTERNAL_KEY
		}
		b.WriteByte(0)
	}
	for range tx.TxOut {
		b.WriteByte(0)
	}
	return base64.StdEncoding.EncodeToString(b.Bytes()), nil
}

func psbtPair(b *bytes.Buffer, key, value []byte) {
	_ = wire.WriteVarBytes(b, 0, key)
	_ = wire.WriteVarBytes(b, 0, value)
}

// depositState is hemi_getDeposit's reply (internal/rpc rpcDeposit) as
// far as the follower reads it: State is one of tunnel.DepositState's
// ("confirming", "confirmed", "minted", "refundQueued", "refunded",
// "recorded", "notDeposit"); quantities are JSON-RPC hex.
type depositState struct {
	State         string          `json:"state"`
	Confirmations *hexutil.Uint64 `json:"confirmations,omitempty"`
	Required      *hexutil.Uint64 `json:"requiredConfirmations,omitempty"`
	BlockNumber   *hexutil.Uint64 `json:"blockNumber,omitempty"`
	TxHash        *common.Hash    `json:"transactionHash,omitempty"`
	Reason        *string         `json:"reason,omitempty"`
}

// line is the state as one line of text.
func (s *depositState) line() string {
	switch tunnel.DepositState(s.State) {
	case tunnel.StateConfirming:
		if s.Confirmations != nil && s.Required != nil {
			return fmt.Sprintf("confirming %d of %d", uint64(*s.Confirmations), uint64(*s.Required))
		}
	case tunnel.StateConfirmed:
		return "confirmed: minted in a coming L2 block"
	case tunnel.StateMinted:
		if s.BlockNumber != nil && s.TxHash != nil {
			return fmt.Sprintf("minted in L2 block %d, transaction %s", uint64(*s.BlockNumber), s.TxHash.Hex())
		}
	case tunnel.StateRecorded, tunnel.StateRefundQueued, tunnel.StateRefunded:
		if s.Reason != nil && *s.Reason != "" {
			return fmt.Sprintf("%s (%s)", s.State, *s.Reason)
		}
	case tunnel.StateNotDeposit:
		return "not a deposit: the output belongs to a vault spend (a payout's change or a recovery)"
	}
	return s.State
}

// final reports whether the deposit's state can no longer change.
func (s *depositState) final() bool {
	switch tunnel.DepositState(s.State) {
	case tunnel.StateMinted, tunnel.StateRefunded, tunnel.StateRecorded, tunnel.StateNotDeposit:
		return true
	}
	return false
}

// followDeposit polls hemi_getDeposit(outpoint) on the L2 node at url
// every poll and prints a line whenever the state changes, until it is
// final or ctx ends.
func followDeposit(ctx context.Context, url, outpoint string, poll time.Duration, out io.Writer) error {
	c, err := gethrpc.DialContext(ctx, url)
	if err != nil {
		return fmt.Errorf("deposit: follow: dial %s: %w", url, err)
	}
	defer c.Close()
	last := ""
	t := time.NewTicker(max(poll, 10*time.Millisecond))
	defer t.Stop()
	for {
		var raw json.RawMessage
		err := c.CallContext(ctx, &raw, "hemi_getDeposit", outpoint)
		var line string
		var st depositState
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && strings.Contains(strings.ToLower(err.Error()), "not found"):
			line = "waiting for the deposit's Bitcoin block to reach the node's view"
		case err != nil:
			return fmt.Errorf("deposit: follow %s: hemi_getDeposit: %w (the deposit is broadcast; follow it later with --no-follow omitted, or on an explorer)", outpoint, err)
		case len(raw) == 0 || string(raw) == "null":
			line = "waiting for the deposit's Bitcoin block to reach the node's view"
		default:
			if err := json.Unmarshal(raw, &st); err != nil || st.State == "" {
				return fmt.Errorf("deposit: follow %s: hemi_getDeposit replied %s, which has no state", outpoint, raw)
			}
			line = st.line()
		}
		if line != last {
			fmt.Fprintln(out, line)
			last = line
		}
		if st.final() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
