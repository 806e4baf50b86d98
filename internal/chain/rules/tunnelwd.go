package rules

import (
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// ScriptOutput is an output paying a script, spent or not, as of a
// Bitcoin block, with its spend when spent (the tunnel's view of its
// vault: internal/tunnel's withdrawal derivers).
type ScriptOutput struct {
	OutPoint wire.OutPoint
	Value    int64
	Height   int32 // the block holding it
	Spent    bool
	// SpendTxid and SpendHeight are the spending transaction and its
	// block's height (valid when Spent).
	SpendTxid   chainhash.Hash
	SpendHeight int32
}

// WithdrawalBitcoin is what the tunnel's withdrawal derivers read of
// Bitcoin, as of the block's view: every output paying the vault, spent
// or not, with its spend. From it they take the vault's spendable outputs,
// the payout's confirmations (the spend of a batch input) and the vault
// spends that match no batch.
type WithdrawalBitcoin interface {
	// ScriptOutputs returns every output paying script in the chain as of
	// asOf (asOf and its ancestors only), in Bitcoin order (height,
	// position in block, output index), each with its spend as of asOf.
	// An asOf that is not indexed is an error wrapping ErrViewNotReady.
	ScriptOutputs(script []byte, asOf chainhash.Hash) ([]ScriptOutput, error)
}
