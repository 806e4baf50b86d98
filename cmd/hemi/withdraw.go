package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/urfave/cli/v3"

	"github.com/hemi-go/hemi/internal/signer"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// Flags of `hemi withdraw`.
const (
	flagMaxFee = "max-fee"
	flagL2Path = "key-path"
	flagWdWait = "timeout"
)

// WithdrawKeyEnv holds the withdrawer's L2 account key when --key-file is
// not given (64 hex digits or a BIP-39 mnemonic; never a flag).
const WithdrawKeyEnv = "HEMI_WITHDRAW_KEY"

// defaultMaxFeeSat is --max-fee's default: 0.0001 BTC, a payout share at
// about 50 sat/vB.
const defaultMaxFeeSat = 10_000

func withdrawCommand() *cli.Command {
	return &cli.Command{
		Name:  "withdraw",
		Usage: "burn hBTC on the L2 and queue its payout to a Bitcoin address",
		Description: "Calls withdraw(script, amountSat, maxFeeSat) on the network's tunnel predeploy (--genesis) from the\n" +
			"L2 account whose key is in --key-file or $" + WithdrawKeyEnv + " (64 hex digits or a BIP-39 mnemonic;\n" +
			"never a flag value), through the node's JSON-RPC (--rpc). The burn is final once its L2 block is\n" +
			"superfinal; the committee then pays --to the amount less its share of the payout fee, at most\n" +
			"--max-fee (a withdrawal whose share would exceed it waits for lower fees). Prints the withdrawal\n" +
			"id; follow it with hemi_getWithdrawal.\n\n" +
			"Example: HEMI_WITHDRAW_KEY=<key> hemi withdraw --genesis genesis.json --amount 0.5 --to bcrt1q...",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: flagAmount, Usage: "BTC to withdraw, e.g. 0.5 (at most 8 decimals)", Required: true},
			&cli.StringFlag{Name: flagTo, Usage: "the Bitcoin address paid (P2PKH, P2SH, P2WPKH, P2WSH or P2TR)", Required: true},
			&cli.StringFlag{Name: flagMaxFee, Value: formatBTC(defaultMaxFeeSat), Usage: "the most BTC of the amount the payout fee may take"},
			genesisFlag(),
			rpcURLFlag(),
			&cli.StringFlag{Name: flagKeyFile, Usage: "file holding the L2 account key (default $" + WithdrawKeyEnv + ")", TakesFile: true},
			&cli.StringFlag{Name: flagL2Path, Usage: "BIP-32 path of the account in a mnemonic (default " + signer.DefaultL2Path + ")"},
			&cli.DurationFlag{Name: flagWdWait, Value: 2 * time.Minute, Usage: "how long to wait for the L2 transaction's receipt"},
		},
		Action: runWithdraw,
	}
}

func runWithdraw(ctx context.Context, cmd *cli.Command) error {
	out := cmd.Root().Writer
	genesisPath := cmd.String(flagGenesis)
	if genesisPath == "" {
		return errors.New("withdraw: give the network's genesis file with --genesis FILE (or $HEMI_GENESIS): it names the tunnel predeploy")
	}
	v, _, err := loadVault(genesisPath)
	if err != nil {
		return fmt.Errorf("withdraw: %w", err)
	}
	amount, err := parseBTC(cmd.String(flagAmount))
	if err != nil {
		return fmt.Errorf("withdraw: --%s: %w", flagAmount, err)
	}
	maxFee, err := parseBTC(cmd.String(flagMaxFee))
	if err != nil {
		return fmt.Errorf("withdraw: --%s: %w", flagMaxFee, err)
	}
	script, err := withdrawScript(cmd.String(flagTo), v)
	if err != nil {
		return fmt.Errorf("withdraw: --%s: %w", flagTo, err)
	}
	// The predeploy refuses the same (DESIGN 6); saying it here costs no gas.
	if dust := tunnel.DustLimit(script); amount-maxFee <= int64(dust) {
		return fmt.Errorf("withdraw: %s BTC less the --%s of %s BTC is not above the %d sat dust limit of that address type", formatBTC(amount), flagMaxFee, formatBTC(maxFee), dust)
	}
	key, err := loadWithdrawKey(cmd.String(flagKeyFile), cmd.String(flagL2Path))
	if err != nil {
		return fmt.Errorf("withdraw: %w", err)
	}
	c, err := ethclient.DialContext(ctx, cmd.String(flagRPC))
	if err != nil {
		return fmt.Errorf("withdraw: dial %s: %w", cmd.String(flagRPC), err)
	}
	defer c.Close()
	id, txh, err := sendWithdraw(ctx, c, key, v.Config().TunnelAddress, script, uint64(amount), uint64(maxFee), cmd.Duration(flagWdWait))
	if err != nil {
		return fmt.Errorf("withdraw: %w", err)
	}
	fmt.Fprintf(out, "withdrawal %d: burned %s hBTC from %s in L2 transaction %s\n", id, formatBTC(amount), crypto.PubkeyToAddress(key.PublicKey), txh)
	fmt.Fprintf(out, "paid to %s once its L2 block is superfinal, less its fee share (at most %s BTC)\n", cmd.String(flagTo), formatBTC(maxFee))
	return nil
}

// withdrawScript is the output script of a Bitcoin address of the vault's
// network, refused unless it is a standard type the tunnel pays.
func withdrawScript(s string, v *tunnel.Vault) ([]byte, error) {
	a, err := address.DecodeAddress(strings.TrimSpace(s), v.Net())
	if err != nil || !a.IsForNet(v.Net()) {
		return nil, fmt.Errorf("%q is not an address of %s", s, v.Net().Name)
	}
	script, err := txscript.PayToAddrScript(a)
	if err != nil {
		return nil, err
	}
	if !tunnel.StandardWithdrawalScript(script) {
		return nil, fmt.Errorf("%s: the tunnel pays only P2PKH, P2SH, P2WPKH, P2WSH and P2TR addresses", s)
	}
	return script, nil
}

// loadWithdrawKey reads the L2 account key from path, else $HEMI_WITHDRAW_KEY.
func loadWithdrawKey(path, l2Path string) (*ecdsa.PrivateKey, error) {
	text, src := os.Getenv(WithdrawKeyEnv), "$"+WithdrawKeyEnv
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("L2 key: %w", err)
		}
		text, src = string(b), path
	}
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("no L2 account key: put it in a file given with --%s or in $%s (never on the command line)", flagKeyFile, WithdrawKeyEnv)
	}
	k, err := signer.ParseL2Key(text, l2Path)
	if err != nil {
		return nil, fmt.Errorf("L2 key from %s: %w", src, err)
	}
	return k, nil
}

// sendWithdraw sends withdraw(script, amount, maxFee) from key's account
// and waits for its receipt; it returns the withdrawal id of its
// WithdrawalQueued event. The gas estimate runs the call first, so a
// refused withdrawal (balance, script, dust) fails before anything is
// sent, with the predeploy's reason.
func sendWithdraw(ctx context.Context, c *ethclient.Client, key *ecdsa.PrivateKey, tun common.Address, script []byte, amount, maxFee uint64, wait time.Duration) (uint64, common.Hash, error) {
	data, err := tunnel.WithdrawCalldata(script, amount, maxFee)
	if err != nil {
		return 0, common.Hash{}, err
	}
	from := crypto.PubkeyToAddress(key.PublicKey)
	chainID, err := c.ChainID(ctx)
	if err != nil {
		return 0, common.Hash{}, err
	}
	nonce, err := c.PendingNonceAt(ctx, from)
	if err != nil {
		return 0, common.Hash{}, err
	}
	gas, err := c.EstimateGas(ctx, ethereum.CallMsg{From: from, To: &tun, Data: data})
	if err != nil {
		return 0, common.Hash{}, fmt.Errorf("the tunnel refuses the withdrawal (hBTC balance, address type or amount; account %s funded?): %w", from, err)
	}
	tip, err := c.SuggestGasTipCap(ctx)
	if err != nil {
		return 0, common.Hash{}, err
	}
	head, err := c.HeaderByNumber(ctx, nil)
	if err != nil {
		return 0, common.Hash{}, err
	}
	feeCap := new(big.Int).Add(tip, new(big.Int).Mul(head.BaseFee, big.NewInt(2)))
	tx, err := types.SignNewTx(key, types.LatestSignerForChainID(chainID), &types.DynamicFeeTx{
		ChainID: chainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap, Gas: gas + gas/4, To: &tun, Data: data,
	})
	if err != nil {
		return 0, common.Hash{}, err
	}
	if err := c.SendTransaction(ctx, tx); err != nil {
		return 0, common.Hash{}, err
	}
	r, err := waitReceipt(ctx, c, tx.Hash(), wait)
	if err != nil {
		return 0, tx.Hash(), err
	}
	if r.Status != types.ReceiptStatusSuccessful {
		return 0, tx.Hash(), fmt.Errorf("L2 transaction %s reverted", tx.Hash())
	}
	for _, l := range r.Logs {
		if l.Address == tun {
			if id, ok := tunnel.WithdrawalQueuedID(l.Topics); ok {
				return id, tx.Hash(), nil
			}
		}
	}
	return 0, tx.Hash(), fmt.Errorf("L2 transaction %s has no WithdrawalQueued event", tx.Hash())
}

// waitReceipt polls for txh's receipt until it is mined or wait passes.
func waitReceipt(ctx context.Context, c *ethclient.Client, txh common.Hash, wait time.Duration) (*types.Receipt, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		r, err := c.TransactionReceipt(ctx, txh)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, ethereum.NotFound) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("L2 transaction %s not mined: %w", txh, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}
