package explorer

import (
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// systemCall is a system transaction decoded (DESIGN 3.3, 6): its kind
// in words, a one-line detail, and the tunnel objects it links to.
type systemCall struct {
	Kind   string
	Detail string
	// Deposit is the deposit outpoint ("txid:vout") of a mint, refund
	// or record; Payout the Bitcoin transaction of a paid marker or the
	// spend of a vault-spend flag.
	Deposit string
	Payout  string
}

// tunnelKinds name the tunnel predeploy's system calls.
var tunnelKinds = map[string]string{
	"mint":             "deposit (mint)",
	"refundDeposit":    "deposit refund",
	"recordDeposit":    "deposit recorded",
	"setDepositCursor": "deposit cursor",
	"setFeeRate":       "fee rate",
	"openBatch":        "payout batch",
	"markPaid":         "paid marker",
	"flagVaultSpend":   "vault-spend flag",
	"flagShortfall":    "shortfall flag",
}

// decodeSystem names a system transaction by what it does: the view
// update calls the hVM state predeploy, the tunnel's calls are decoded
// by their ABI (any call data that does not decode is "system"), a PoP
// reward mints to its publisher with no data.
func decodeSystem(stx *block.SystemTx) systemCall {
	switch {
	case stx.To != nil && *stx.To == genesis.HVMStateAddress:
		return systemCall{Kind: "Bitcoin view update"}
	case stx.Mint != nil && stx.Mint.Sign() > 0 && len(stx.Data) == 0:
		return systemCall{Kind: "PoP reward"}
	case len(stx.Data) < 4:
		return systemCall{Kind: "system"}
	}
	m, err := tunnel.TunnelABI.MethodById(stx.Data[:4])
	if err != nil {
		return systemCall{Kind: "system"}
	}
	kind, ok := tunnelKinds[m.Name]
	if !ok {
		return systemCall{Kind: "system"}
	}
	args, err := m.Inputs.Unpack(stx.Data[4:])
	if err != nil {
		return systemCall{Kind: kind}
	}
	c := systemCall{Kind: kind}
	outpoint := func(txid, vout any) string {
		h, ok1 := txid.([32]byte)
		v, ok2 := vout.(uint32)
		if !ok1 || !ok2 {
			return ""
		}
		return wire.OutPoint{Hash: chainhash.Hash(h), Index: v}.String()
	}
	sat := func(v any) string {
		s, _ := v.(uint64)
		return btcAmount(int64(s)) + " BTC"
	}
	switch m.Name {
	case "mint": // txid, vout, to, amountSat
		c.Deposit = outpoint(args[0], args[1])
		to, _ := args[2].(common.Address)
		c.Detail = fmt.Sprintf("%s to %s", sat(args[3]), to.Hex())
	case "refundDeposit": // txid, vout, to, script, amountSat, reason
		c.Deposit = outpoint(args[0], args[1])
		r, _ := args[5].(uint8)
		c.Detail = fmt.Sprintf("%s, %s", sat(args[4]), tunnel.Reason(r))
	case "recordDeposit": // txid, vout, to, amountSat, reason
		c.Deposit = outpoint(args[0], args[1])
		r, _ := args[4].(uint8)
		c.Detail = fmt.Sprintf("%s, %s", sat(args[3]), tunnel.Reason(r))
	case "setDepositCursor":
		c.Detail = fmt.Sprintf("Bitcoin height %v, tx %v, output %v", args[0], args[1], args[2])
	case "setFeeRate":
		c.Detail = fmt.Sprintf("%v sat/vB as of Bitcoin height %v", args[0], args[1])
	case "openBatch": // number, attempt, feeRate, btcHeight, ...
		c.Detail = fmt.Sprintf("batch %v attempt %v at %v sat/vB", args[0], args[1], args[2])
	case "markPaid": // number, attempt, txid
		if h, ok := args[2].([32]byte); ok {
			c.Payout = chainhash.Hash(h).String()
		}
		c.Detail = fmt.Sprintf("batch %v attempt %v paid", args[0], args[1])
	case "flagVaultSpend": // spendTxid, txid, vout, amountSat, cancel
		if h, ok := args[0].([32]byte); ok {
			c.Payout = chainhash.Hash(h).String()
		}
		c.Detail = fmt.Sprintf("vault output %s (%s) spent outside a batch", outpoint(args[1], args[2]), sat(args[3]))
	case "flagShortfall": // vaultSat, owedSat
		c.Detail = fmt.Sprintf("vault holds %s, owes %s", sat(args[0]), sat(args[1]))
	}
	return c
}
