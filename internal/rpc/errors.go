package rpc

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/txpool"
	"github.com/ethereum/go-ethereum/core/txpool/legacypool"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"

	"github.com/hemi-go/hemi/internal/chain/genesis"
)

// JSON-RPC error codes this package answers with (go-ethereum's).
const (
	codeInvalidParams = -32602 // bad parameters
	codeServer        = -32000 // go-ethereum's default for failures and tx rejections
	codeReverted      = 3      // execution reverted (EIP-1474 / go-ethereum)
	codeLimit         = -32005 // limit exceeded (getLogs range, results)
	codeUnsupported   = -32601
)

// Errors of this package, returned wrapped; the JSON-RPC code is chosen
// by the rpcError wrapping them.
var (
	ErrHeaderNotFound   = errors.New("header not found")
	ErrNoPool           = errors.New("this node has no transaction pool")
	ErrSystemTxByUser   = errors.New("transaction type 0x7e (system) is derived from Bitcoin by consensus and cannot be sent")
	ErrBlobTx           = errors.New("blob transactions (type 0x3) are not supported: this chain has no blob data availability")
	ErrWrongChainID     = errors.New("invalid chain id for signer")
	ErrFilterNotFound   = errors.New("filter not found")
	ErrLogsRange        = errors.New("block range too large")
	ErrLogsTooMany      = errors.New("query returned more than the maximum results")
	ErrNoBitcoin        = errors.New("this node has no Bitcoin index attached")
	ErrExecutionTimeout = errors.New("execution aborted (timeout)")
	ErrRequestEnded     = errors.New("execution aborted: the request ended")
	ErrTraceTooLarge    = errors.New("trace too large")
	ErrTooMany          = errors.New("limit reached")
)

// rpcError is an error with a JSON-RPC code and optional data; the
// go-ethereum rpc server reads ErrorCode and ErrorData.
type rpcError struct {
	code int
	msg  string
	data any
	err  error
}

func (e *rpcError) Error() string  { return e.msg }
func (e *rpcError) ErrorCode() int { return e.code }
func (e *rpcError) ErrorData() any { return e.data }
func (e *rpcError) Unwrap() error  { return e.err }

// invalidParams is a -32602 error.
func invalidParams(format string, args ...any) error {
	return &rpcError{code: codeInvalidParams, msg: fmt.Sprintf(format, args...)}
}

// limitErr is a -32005 error wrapping err.
func limitErr(err error) error {
	return &rpcError{code: codeLimit, msg: err.Error(), err: err}
}

// revertError is code 3, "execution reverted[: reason]", data = the
// revert bytes as hex, as go-ethereum answers and tools (cast, ethers,
// viem) decode.
func revertError(ret []byte) error {
	msg := vm.ErrExecutionReverted.Error()
	if reason, err := abi.UnpackRevert(ret); err == nil {
		msg += ": " + reason
	}
	return &rpcError{code: codeReverted, msg: msg, data: hexutil.Encode(ret), err: vm.ErrExecutionReverted}
}

// knownTxErrors are the sentinels whose messages tools match (go-ethereum
// returns the error text with code -32000), most specific first.
var knownTxErrors = []error{
	txpool.ErrReplaceUnderpriced,
	txpool.ErrAlreadyKnown,
	txpool.ErrTxGasPriceTooLow,
	txpool.ErrUnderpriced,
	legacypool.ErrTxPoolOverflow,
	legacypool.ErrFutureReplacePending,
	legacypool.ErrAuthorityReserved,
	legacypool.ErrOutOfOrderTxFromDelegated,
	txpool.ErrOutOfCapacity,
	txpool.ErrInvalidSender,
	txpool.ErrOversizedData,
	txpool.ErrGasLimit,
	txpool.ErrNegativeValue,
	txpool.ErrAccountLimitExceeded,
	txpool.ErrInflightTxLimitReached,
	txpool.ErrAlreadyReserved,
	core.ErrNonceTooLow,
	core.ErrNonceTooHigh,
	core.ErrNonceMax,
	core.ErrInsufficientFundsForTransfer,
	core.ErrInsufficientFunds,
	core.ErrIntrinsicGas,
	core.ErrFloorDataGas,
	core.ErrGasLimitReached,
	core.ErrGasLimitTooHigh,
	core.ErrTipAboveFeeCap,
	core.ErrTipVeryHigh,
	core.ErrFeeCapVeryHigh,
	core.ErrFeeCapTooLow,
	core.ErrSenderNoEOA,
	core.ErrTxTypeNotSupported,
	core.ErrEmptyAuthList,
	core.ErrSetCodeTxCreate,
	vm.ErrMaxInitCodeSizeExceeded,
	types.ErrInvalidSig,
	types.ErrTxTypeNotSupported,
	types.ErrInvalidChainId,
	genesis.ErrTxType,
}

// txError turns a pool or execution rejection into the error go-ethereum
// would send: code -32000 and a message starting with the sentinel's text
// ("nonce too low: next nonce 3, tx nonce 1"), whatever context the pool
// wrapped around it.
func txError(err error) error {
	if err == nil {
		return nil
	}
	for _, k := range knownTxErrors {
		if !errors.Is(err, k) {
			continue
		}
		text := err.Error()
		if i := strings.Index(text, k.Error()); i >= 0 {
			return &rpcError{code: codeServer, msg: text[i:], err: err}
		}
		return &rpcError{code: codeServer, msg: k.Error() + ": " + text, err: err}
	}
	return &rpcError{code: codeServer, msg: err.Error(), err: err}
}
