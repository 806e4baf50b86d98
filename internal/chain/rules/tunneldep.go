package rules

import (
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// DepositOutput is an output paying a script with its place in Bitcoin
// order: block height, position of its transaction in the block, output
// index (OutPoint.Index).
type DepositOutput struct {
	OutPoint wire.OutPoint
	Value    int64
	Height   int32
	TxPos    uint32
	// Spent: spent as of the view (the vault watch counts unspent
	// deposits not yet processed; the deposit deriver ignores it).
	Spent bool
}

// DepositBitcoin is what the tunnel's deposit and fee-rate derivers read
// of Bitcoin, as of the block's view (internal/tunnel's Deposits and
// FeeRate). An asOf that is not indexed is an error wrapping
// ErrViewNotReady.
type DepositBitcoin interface {
	// OutputsFrom returns up to max outputs paying script in the chain as
	// of asOf, in Bitcoin order, from the output at (height, txPos, vout)
	// included, in blocks at or below toHeight.
	OutputsFrom(script []byte, height int32, txPos, vout uint32, toHeight int32, max int, asOf chainhash.Hash) ([]DepositOutput, error)
	// ConfirmedTx returns transaction txid confirmed in the chain as of
	// asOf; found is false when it is not there.
	ConfirmedTx(txid, asOf chainhash.Hash) (tx *wire.MsgTx, found bool, err error)
	// BlockFeeRates returns the per-block fee statistic of asOf and its
	// ancestors, newest first, n blocks (fewer at the chain's start; the
	// genesis has none): the vsize-weighted median fee rate in sat/vB of
	// a deterministic sample of the block's transactions, PoP
	// publications excluded, 0 for a block without any
	// (index.BlockFees.Median). Consensus once the tunnel is on.
	BlockFeeRates(asOf chainhash.Hash, n int) ([]int64, error)
}
