package tunnel

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// The JSON answers of hemi_getDeposit(s) and hemi_getWithdrawal: the
// server (internal/rpc) writes them, the explorer and tests read them back,
// so there is one definition of their fields.

// DepositJSON is hemi_getDeposit's answer, a deposit's JSON: outpoint
// as "txid:vout" (txid in display order, as Bitcoin tools print it),
// amounts in satoshis.
type DepositJSON struct {
	Outpoint      string          `json:"outpoint"`
	State         string          `json:"state"`
	AmountSat     hexutil.Uint64  `json:"amountSat"`
	Recipient     *common.Address `json:"recipient"`
	BitcoinHeight *hexutil.Uint64 `json:"bitcoinHeight,omitempty"`
	Confirmations hexutil.Uint64  `json:"confirmations"`
	Required      hexutil.Uint64  `json:"requiredConfirmations"`
	BlockNumber   *hexutil.Uint64 `json:"blockNumber,omitempty"`
	TxHash        *common.Hash    `json:"transactionHash,omitempty"`
	RefundID      *hexutil.Uint64 `json:"refundId,omitempty"`
	Reason        *string         `json:"reason,omitempty"`
	ReasonCode    *hexutil.Uint64 `json:"reasonCode,omitempty"`
}

// WithdrawalJSON is hemi_getWithdrawal's answer. States, in order: queued
// (burned, or a refund queued), superfinal (a withdrawal's L2 block is;
// refunds need not be), in a batch (with the signatures posted, i of k,
// and the payout txid the signers broadcast), confirmed (the payout in
// Bitcoin's best chain, with its confirmations), paid (marked paid by
// consensus at the withdrawal confirmations).
type WithdrawalJSON struct {
	ID          hexutil.Uint64  `json:"id"`
	Kind        string          `json:"kind"` // withdrawal | refund
	Status      string          `json:"status"`
	From        *common.Address `json:"from,omitempty"`
	Script      hexutil.Bytes   `json:"script"`
	Address     string          `json:"address,omitempty"`
	AmountSat   hexutil.Uint64  `json:"amountSat"`
	MaxFeeSat   hexutil.Uint64  `json:"maxFeeSat"`
	L2Block     hexutil.Uint64  `json:"l2Block"`
	Burned      bool            `json:"burned"`
	Superfinal  *bool           `json:"superfinal"`
	DepositTxid string          `json:"depositTxid,omitempty"`
	DepositVout *hexutil.Uint64 `json:"depositVout,omitempty"`
	Batch       *BatchJSON      `json:"batch"`
	Paid        bool            `json:"paid"`
	PayoutTxid  string          `json:"payoutTxid,omitempty"`
	// Confirmations of the payout in Bitcoin's best chain (0: not there).
	Confirmations hexutil.Uint64 `json:"confirmations"`
}

// BatchJSON is a withdrawal's batch in WithdrawalJSON: the batch number,
// its attempt, fee rate and value, and the signatures posted of k.
type BatchJSON struct {
	Number     hexutil.Uint64 `json:"number"`
	Attempt    hexutil.Uint64 `json:"attempt"`
	FeeRate    hexutil.Uint64 `json:"feeRate"`
	ValueSat   hexutil.Uint64 `json:"valueSat"`
	Signatures hexutil.Uint64 `json:"signatures"`
	K          hexutil.Uint64 `json:"k"`
}
