package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"github.com/urfave/cli/v3"

	"github.com/hemi-go/hemi/internal/signer"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// Flags and environment of `hemi withdraw`.
const (
	flagWithdrawAmount = "amount"
	flagWithdrawTo     = "to"
	flagWithdrawMaxFee = "max-fee"
	flagWithdrawKey    = "key-file"
	flagWithdrawPath   = "key-path"
	flagWithdrawNoWait = "no-follow"
	// withdrawKeyEnv holds the L2 key when no --key-file is given.
	withdrawKeyEnv = "HEMI_L2_KEY"
	// defaultWithdrawMaxFee is the default --max-fee in satoshis: a
	// lone P2WPKH withdrawal's share of a 2-of-3 payout (about 260 vB)
	// at 100 sat/vB, so it pays out through fee spikes.
	defaultWithdrawMaxFee = 30_000
)

func withdrawCommand() *cli.Command {
	return &cli.Command{
		Name:  "withdraw",
		Usage: "burn hBTC on the L2 and have the tunnel pay the BTC to a Bitcoin address",
		Description: "Calls withdraw(script, amountSat, maxFeeSat) on the tunnel predeploy from your L2 account:\n" +
			"the hBTC is burned at once, and the BTC is paid by the next payout batch after the burn's L2 block\n" +
			"is superfinal, less the withdrawal's share of the payout fee (never more than --max-fee).\n" +
			"Then it follows the withdrawal (hemi_getWithdrawal), one line per state, until paid (--no-follow\n" +
			"to stop after the burn). The L2 key comes from --key-file or $" + withdrawKeyEnv + " (64 hex digits or a\n" +
			"BIP-39 mnemonic, derived along --key-path), never from a flag.\n\n" +
			"Example: HEMI_L2_KEY=<key> hemi withdraw --amount 0.5 --to bcrt1q... [--max-fee 20000]",
		Flags: []cli.Flag{
			rpcURLFlag(), genesisFlag(),
			&cli.StringFlag{Name: flagWithdrawAmount, Usage: "BTC to withdraw (up to 8 decimals), burned as hBTC", Required: true},
			&cli.StringFlag{Name: flagWithdrawTo, Usage: "the Bitcoin address paid (P2PKH, P2SH, P2WPKH, P2WSH or P2TR of the genesis' network)", Required: true},
			&cli.Uint64Flag{Name: flagWithdrawMaxFee, Value: defaultWithdrawMaxFee, Usage: "the most satoshis of the payout fee this withdrawal pays"},
			&cli.StringFlag{Name: flagWithdrawKey, Usage: "file holding the L2 account key (64 hex digits or a BIP-39 mnemonic); default $" + withdrawKeyEnv, TakesFile: true},
			&cli.StringFlag{Name: flagWithdrawPath, Usage: "BIP-32 path of the L2 account in a mnemonic (default " + signer.DefaultL2Path + ")"},
			&cli.BoolFlag{Name: flagWithdrawNoWait, Usage: "return after the burn instead of following the withdrawal until paid"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			v, _, err := loadVault(cmd.String(flagGenesis))
			if err != nil {
				return err
			}
			req, err := withdrawRequest(cmd.String(flagWithdrawAmount), cmd.String(flagWithdrawTo), cmd.Uint64(flagWithdrawMaxFee), v.Net())
			if err != nil {
				return err
			}
			key, err := loadWithdrawKey(cmd.String(flagWithdrawKey), cmd.String(flagWithdrawPath))
			if err != nil {
				return err
			}
			req.tunnel = v.Config().TunnelAddress
			return runWithdraw(ctx, cmd.String(flagRPC), key, req, !cmd.Bool(flagWithdrawNoWait), cmd.Root().Writer)
		},
	}
}

// withdrawReq is a checked withdrawal.
type withdrawReq struct {
	script            []byte
	to                string
	amountSat, maxFee uint64
	tunnel            common.Address
}

// parseWithdrawBTC parses a decimal BTC amount (at most 8 decimals) exactly.
func parseWithdrawBTC(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" || strings.ContainsAny(whole+frac, "+-eE ") || len(frac) > 8 {
		return 0, fmt.Errorf("amount %q: want BTC with at most 8 decimals, such as 0.5", s)
	}
	frac += strings.Repeat("0", 8-len(frac))
	n, ok := new(big.Int).SetString(whole+frac, 10)
	if whole == "" {
		n, ok = new(big.Int).SetString(frac, 10)
	}
	if !ok || n.Sign() <= 0 || !n.IsUint64() || n.Uint64() > 21_000_000*100_000_000 {
		return 0, fmt.Errorf("amount %q: want a positive BTC amount up to 21,000,000 with at most 8 decimals", s)
	}
	return n.Uint64(), nil
}

// withdrawRequest checks the amount, the address (of net, a type the
// tunnel pays) and the max fee as the predeploy will, so a mistake is
// an error here rather than a reverted transaction.
func withdrawRequest(amount, to string, maxFee uint64, net *chaincfg.Params) (*withdrawReq, error) {
	sat, err := parseWithdrawBTC(amount)
	if err != nil {
		return nil, err
	}
	a, err := address.DecodeAddress(to, net)
	if err != nil || !a.IsForNet(net) {
		return nil, fmt.Errorf("--to %q is not a %s Bitcoin address", to, net.Name)
	}
	script, err := txscript.PayToAddrScript(a)
	if err != nil || !tunnel.StandardWithdrawalScript(script) {
		return nil, fmt.Errorf("--to %q: the tunnel pays P2PKH, P2SH, P2WPKH, P2WSH and P2TR addresses only", to)
	}
	dust := tunnel.DustLimit(script)
	if maxFee >= sat || sat-maxFee <= dust {
		return nil, fmt.Errorf("--amount %s less --max-fee %d sat must stay above the address type's dust limit (%d sat): withdraw more or lower --max-fee", amount, maxFee, dust)
	}
	return &withdrawReq{script: script, to: to, amountSat: sat, maxFee: maxFee}, nil
}

// loadWithdrawKey reads the L2 key from path, else $HEMI_L2_KEY.
func loadWithdrawKey(path, keyPath string) (*ecdsa.PrivateKey, error) {
	if path != "" {
		return signer.LoadL2Key(path, keyPath)
	}
	text, src := os.Getenv(withdrawKeyEnv), "$"+withdrawKeyEnv
	if text == "" {
		return nil, fmt.Errorf("no L2 key: give --key-file FILE or set %s (64 hex digits or a BIP-39 mnemonic)", withdrawKeyEnv)
	}
	k, err := signer.ParseL2Key(text, keyPath)
	if err != nil {
		return nil, fmt.Errorf("L2 key from %s: %w", src, err)
	}
	return k, nil
}

// runWithdraw sends the withdrawal, waits for its receipt and, with
// follow, prints each state change of hemi_getWithdrawal until paid.
func runWithdraw(ctx context.Context, url string, key *ecdsa.PrivateKey, req *withdrawReq, follow bool, w io.Writer) error {
	rc, err := gethrpc.DialContext(ctx, url)
	if err != nil {
		return fmt.Errorf("dial %s: %w", url, err)
	}
	defer rc.Close()
	c := ethclient.NewClient(rc)
	from := crypto.PubkeyToAddress(key.PublicKey)
	data, err := tunnel.WithdrawCalldata(req.script, req.amountSat, req.maxFee)
	if err != nil {
		return err
	}
	tx, err := signWithdraw(ctx, c, key, req.tunnel, data)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "withdraw %s BTC (%d sat, max fee %d sat) from %s to %s: L2 tx %s\n",
		formatBTC(int64(req.amountSat)), req.amountSat, req.maxFee, from.Hex(), req.to, tx.Hash().Hex())
	r, err := waitReceipt(ctx, c, tx.Hash())
	if err != nil {
		return err
	}
	if r.Status != types.ReceiptStatusSuccessful {
		return fmt.Errorf("L2 tx %s reverted in block %d", tx.Hash().Hex(), r.BlockNumber)
	}
	var id uint64
	found := false
	for _, l := range r.Logs {
		if got, ok := tunnel.WithdrawalQueuedID(l.Topics); ok && l.Address == req.tunnel {
			id, found = got, true
		}
	}
	if !found {
		return fmt.Errorf("L2 tx %s has no WithdrawalQueued event", tx.Hash().Hex())
	}
	fmt.Fprintf(w, "burned in L2 block %d: withdrawal id %d\n", r.BlockNumber, id)
	if !follow {
		return nil
	}
	return followWithdrawal(ctx, rc, id, w)
}

// signWithdraw estimates, signs (EIP-1559, the chain's id) and sends the
// call; a revert is reported with the predeploy's reason.
func signWithdraw(ctx context.Context, c *ethclient.Client, key *ecdsa.PrivateKey, to common.Address, data []byte) (*types.Transaction, error) {
	from := crypto.PubkeyToAddress(key.PublicKey)
	chainID, err := c.ChainID(ctx)
	if err != nil {
		return nil, fmt.Errorf("chain id: %w (is the node running?)", err)
	}
	gas, err := c.EstimateGas(ctx, ethereum.CallMsg{From: from, To: &to, Data: data})
	if err != nil {
		return nil, fmt.Errorf("withdraw would fail: %s", revertReason(err))
	}
	nonce, err := c.PendingNonceAt(ctx, from)
	if err != nil {
		return nil, err
	}
	tip, err := c.SuggestGasTipCap(ctx)
	if err != nil {
		return nil, err
	}
	head, err := c.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, err
	}
	feeCap := new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip)
	tx, err := types.SignNewTx(key, types.LatestSignerForChainID(chainID), &types.DynamicFeeTx{
		ChainID: chainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap, Gas: gas + gas/5, To: &to, Data: data,
	})
	if err != nil {
		return nil, err
	}
	if err := c.SendTransaction(ctx, tx); err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	return tx, nil
}

// revertReason names the predeploy's custom error in an estimation
// failure, or gives the error as it is.
func revertReason(err error) string {
	var de gethrpc.DataError
	if errors.As(err, &de) {
		if s, ok := de.ErrorData().(string); ok {
			if b, derr := hexutil.Decode(s); derr == nil && len(b) >= 4 {
				for name, e := range tunnel.TunnelABI.Errors {
					if [4]byte(e.ID[:4]) == [4]byte(b[:4]) {
						return withdrawErrorHelp(name)
					}
				}
				for name, e := range tunnel.HBTCABI.Errors {
					if [4]byte(e.ID[:4]) == [4]byte(b[:4]) {
						return withdrawErrorHelp(name)
					}
				}
			}
		}
	}
	return err.Error()
}

func withdrawErrorHelp(name string) string {
	switch name {
	case "BadScript":
		return "the tunnel refuses this address type (BadScript)"
	case "AmountAtOrUnderDust":
		return "the amount less the max fee is at or under the address type's dust limit (AmountAtOrUnderDust): withdraw more or lower --max-fee"
	}
	if strings.Contains(strings.ToLower(name), "balance") {
		return "your hBTC balance is below the amount (" + name + ")"
	}
	return "the tunnel reverted with " + name
}

func waitReceipt(ctx context.Context, c *ethclient.Client, h common.Hash) (*types.Receipt, error) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		r, err := c.TransactionReceipt(ctx, h)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, ethereum.NotFound) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// withdrawalView is the part of hemi_getWithdrawal the follower prints.
type withdrawalView struct {
	Status     string `json:"status"`
	Superfinal *bool  `json:"superfinal"`
	Batch      *struct {
		Number     hexutil.Uint64 `json:"number"`
		Attempt    hexutil.Uint64 `json:"attempt"`
		ValueSat   hexutil.Uint64 `json:"valueSat"`
		Signatures hexutil.Uint64 `json:"signatures"`
		K          hexutil.Uint64 `json:"k"`
	} `json:"batch"`
	PayoutTxid    string         `json:"payoutTxid"`
	Confirmations hexutil.Uint64 `json:"confirmations"`
	Paid          bool           `json:"paid"`
}

func (v *withdrawalView) line(id uint64) string {
	switch {
	case v.Paid:
		return fmt.Sprintf("withdrawal %d: paid by %s (%d confirmations)", id, v.PayoutTxid, v.Confirmations)
	case v.Status == "confirmed":
		return fmt.Sprintf("withdrawal %d: payout %s confirmed, %d confirmations", id, v.PayoutTxid, v.Confirmations)
	case v.Batch != nil:
		return fmt.Sprintf("withdrawal %d: in batch %d attempt %d, pays %d sat, signatures %d of %d, payout %s",
			id, v.Batch.Number, v.Batch.Attempt, v.Batch.ValueSat, v.Batch.Signatures, v.Batch.K, v.PayoutTxid)
	case v.Superfinal != nil && *v.Superfinal:
		return fmt.Sprintf("withdrawal %d: burn superfinal, waiting for the next batch", id)
	}
	return fmt.Sprintf("withdrawal %d: burned, waiting for its L2 block to be superfinal", id)
}

// followWithdrawal polls hemi_getWithdrawal and prints each new state
// line until paid or ctx ends.
func followWithdrawal(ctx context.Context, rc *gethrpc.Client, id uint64, w io.Writer) error {
	last := ""
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		var v *withdrawalView
		if err := rc.CallContext(ctx, &v, "hemi_getWithdrawal", hexutil.Uint64(id)); err != nil {
			return fmt.Errorf("hemi_getWithdrawal(%d): %w", id, err)
		}
		if v != nil {
			if l := v.line(id); l != last {
				fmt.Fprintln(w, l)
				last = l
			}
			if v.Paid {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
