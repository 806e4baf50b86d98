package chain

import (
	"errors"

	"github.com/hemi-go/hemi/internal/chain/rules"
)

// Errors returned by the chain. Every error InsertBlock returns for a block
// that is wrong wraps ErrInvalidBlock and one of the kinds below, so a
// caller tells "reject this block (and its sender)" from "try again later"
// (ErrViewNotReady) and from a failure of this node (anything else: I/O,
// a closed chain, a failing Bitcoin index).
var (
	// ErrInvalidBlock: the block breaks a consensus rule; it will never be
	// valid. Every kind below except ErrViewNotReady wraps it.
	ErrInvalidBlock = rules.ErrInvalidBlock

	// ErrViewNotReady: the block's Bitcoin view is not indexed by this
	// node yet, or is fewer than Config.ViewLag blocks below this node's
	// Bitcoin tip. Not a verdict: retry once the Bitcoin index advanced.
	ErrViewNotReady = rules.ErrViewNotReady

	// ErrClosed: the chain was closed.
	ErrClosed = errors.New("chain: closed")

	// ErrNotFound: the block, receipt or transaction asked for is unknown.
	ErrNotFound = errors.New("chain: not found")

	// ErrCorrupt: stored data could not be decoded or is inconsistent.
	ErrCorrupt = errors.New("chain: corrupt database")

	// ErrGenesisMismatch: the database holds another chain's genesis.
	ErrGenesisMismatch = errors.New("chain: database holds a different genesis")
)

// Kinds of invalid block. Each wraps ErrInvalidBlock. The header and seal
// kinds are package rules' (the same values).
var (
	ErrKnownBlock    = invalid("block already known")
	ErrUnknownParent = rules.ErrUnknownParent
	ErrNotHead       = invalid("built block's parent is no longer the head") // CommitBuilt only
	ErrBadNumber     = rules.ErrBadNumber
	ErrBadTimestamp  = rules.ErrBadTimestamp
	ErrFutureBlock   = rules.ErrFutureBlock
	ErrBadGasLimit   = rules.ErrBadGasLimit
	ErrBadBaseFee    = rules.ErrBadBaseFee
	ErrBadHeader     = rules.ErrBadHeader
	ErrBadExtra      = rules.ErrBadExtra
	ErrBadSeal       = rules.ErrBadSeal
	ErrBadView       = rules.ErrBadView
	ErrBadSystemTxs  = invalid("system transactions differ from those derived")
	ErrBadTxRoot     = invalid("transactions root mismatch")
	ErrBadTx         = invalid("invalid transaction")
	ErrGasUsed       = rules.ErrGasUsed
	ErrReceiptRoot   = invalid("receipts root mismatch")
	ErrBloom         = invalid("logs bloom mismatch")
	ErrStateRoot     = invalid("state root mismatch")
	ErrViewFailed    = errors.New("chain: bitcoin view failed during execution") // not a verdict: the index failed
)

// invalid makes one of chain's own kinds of invalid block.
func invalid(msg string) error { return rules.Invalid(msg) }
