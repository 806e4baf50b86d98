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
	Height   int32  // the block holding it
	TxPos    uint32 // its transaction's position in that block
	Spent    bool
	// SpendTxid and SpendHeight are the spending transaction and its
	// block's height (valid when Spent).
	SpendTxid   chainhash.Hash
	SpendHeight int32
}

// WithdrawalBitcoin is what the tunnel's withdrawal derivers read of
// Bitcoin, as of the block's view. Each read is bounded by what it
// returns, not by the script's history (internal/tunnel's vault watch
// reads the vault's unspent head, its balance and the spends of the
// blocks new since the parent's view):
//
//   - ScriptUnspent returns the first max unspent outputs paying script,
//     in Bitcoin order (height, position in block, output index).
//   - ScriptBalance returns the sum of the unspent outputs paying script.
//   - ScriptSpends returns the spends, in blocks fromHeight to toHeight,
//     of outputs paying script: each the spent output (Spent true, with
//     its spend), in the order of the spending blocks.
//   - HeaderHashAt returns the hash of the block at height in the chain
//     as of asOf (found false above asOf).
//
// An asOf that is not indexed is an error wrapping ErrViewNotReady.
type WithdrawalBitcoin interface {
	ScriptUnspent(script []byte, max int, asOf chainhash.Hash) ([]ScriptOutput, error)
	ScriptBalance(script []byte, asOf chainhash.Hash) (int64, error)
	ScriptSpends(script []byte, fromHeight, toHeight int32, asOf chainhash.Hash) ([]ScriptOutput, error)
	HeaderHashAt(height int32, asOf chainhash.Hash) (hash chainhash.Hash, found bool, err error)
}
