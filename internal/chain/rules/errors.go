package rules

import "errors"

// ErrInvalidBlock: the block breaks a consensus rule; it will never be
// valid. Every kind below wraps it. Package chain re-exports these values
// (chain.ErrInvalidBlock is this error), so errors.Is works on either name.
var ErrInvalidBlock = errors.New("chain: invalid block")

// ErrViewNotReady: the block's Bitcoin view is not indexed by this node
// (yet), or not far enough below its Bitcoin tip: not a verdict, try
// again later. It does not wrap ErrInvalidBlock.
var ErrViewNotReady = errors.New("chain: bitcoin view not ready")

// Kinds of invalid header. Each wraps ErrInvalidBlock.
var (
	ErrUnknownParent = Invalid("unknown parent")
	ErrBadNumber     = Invalid("bad block number")
	ErrBadTimestamp  = Invalid("bad timestamp")
	ErrFutureBlock   = Invalid("timestamp too far in the future")
	ErrBadGasLimit   = Invalid("bad gas limit")
	ErrBadBaseFee    = Invalid("bad base fee")
	ErrBadHeader     = Invalid("malformed header")
	ErrBadExtra      = Invalid("bad header extra (bitcoin view record)")
	ErrBadSeal       = Invalid("bad seal")
	ErrGasUsed       = Invalid("gas used mismatch")
	ErrBadView       = Invalid("bad bitcoin view")
)

// Invalid returns a new kind of invalid block: errors.Is matches the kind
// itself and ErrInvalidBlock. Package chain makes its other kinds with it.
func Invalid(msg string) error { return &kindError{msg: "chain: " + msg} }

// kindError is an invalid-block kind.
type kindError struct{ msg string }

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == ErrInvalidBlock }
