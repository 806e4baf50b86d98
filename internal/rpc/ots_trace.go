package rpc

import (
	"encoding/json"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/eth/tracers"
)

// The tracers of Otterscan's ots_traceTransaction,
// ots_getInternalOperations and ots_getTransactionError, as Erigon's
// ots namespace computes them (turbo/jsonrpc/otterscan_*): native
// go-ethereum hooks, run by the replay under the trace limits of
// debug_trace* (timeout, output budget).

// otsTraceEntry is one call frame of ots_traceTransaction, in the order
// frames start. The transaction's own frame is a CALL at depth 0 (as
// Erigon shows it, a creation too); calls to precompiles are left out.
type otsTraceEntry struct {
	Type   string         `json:"type"`
	Depth  int            `json:"depth"`
	From   common.Address `json:"from"`
	To     common.Address `json:"to"`
	Value  *hexutil.Big   `json:"value"`
	Input  hexutil.Bytes  `json:"input"`
	Output hexutil.Bytes  `json:"output"`
}

// otsTracer records otsTraceEntry frames.
type otsTracer struct {
	precompiles map[common.Address]bool
	out         []*otsTraceEntry
	stack       []int // index in out of each open frame, -1 for one left out
}

func newOTSTracer(precompiles []common.Address) *tracers.Tracer {
	t := &otsTracer{precompiles: map[common.Address]bool{}, out: []*otsTraceEntry{}}
	for _, a := range precompiles {
		t.precompiles[a] = true
	}
	return &tracers.Tracer{
		Hooks: &tracing.Hooks{OnEnter: t.onEnter, OnExit: t.onExit},
		GetResult: func() (json.RawMessage, error) {
			return json.Marshal(t.out)
		},
		Stop: func(error) {},
	}
}

func (t *otsTracer) onEnter(depth int, typ byte, from, to common.Address, input []byte, _ uint64, value *big.Int) {
	op := vm.OpCode(typ)
	if t.precompiles[to] && op != vm.CREATE && op != vm.CREATE2 && op != vm.SELFDESTRUCT {
		t.stack = append(t.stack, -1)
		return
	}
	e := &otsTraceEntry{Type: op.String(), Depth: depth, From: from, To: to, Input: common.CopyBytes(input)}
	if depth == 0 {
		e.Type = "CALL"
	}
	switch op {
	case vm.STATICCALL, vm.DELEGATECALL:
	default:
		v := new(big.Int)
		if value != nil {
			v.Set(value)
		}
		e.Value = (*hexutil.Big)(v)
	}
	if op == vm.SELFDESTRUCT {
		e.Input = nil
	}
	t.stack = append(t.stack, len(t.out))
	t.out = append(t.out, e)
}

func (t *otsTracer) onExit(_ int, output []byte, _ uint64, _ error, _ bool) {
	if len(t.stack) == 0 {
		return
	}
	i := t.stack[len(t.stack)-1]
	t.stack = t.stack[:len(t.stack)-1]
	if i >= 0 && t.out[i].Type != "SELFDESTRUCT" {
		t.out[i].Output = common.CopyBytes(output)
	}
}

// Operation types of ots_getInternalOperations.
const (
	otsOpTransfer     = 0
	otsOpSelfDestruct = 1
	otsOpCreate       = 2
	otsOpCreate2      = 3
)

// otsOperation is one internal operation: a value transfer by a call
// inside the transaction, a creation, or a self-destruct.
type otsOperation struct {
	Type  int            `json:"type"`
	From  common.Address `json:"from"`
	To    common.Address `json:"to"`
	Value *hexutil.Big   `json:"value"`
}

func newOTSOperationsTracer() *tracers.Tracer {
	out := []otsOperation{}
	onEnter := func(depth int, typ byte, from, to common.Address, _ []byte, _ uint64, value *big.Int) {
		if depth == 0 {
			return // the transaction itself is not internal
		}
		v := new(big.Int)
		if value != nil {
			v.Set(value)
		}
		op := otsOperation{From: from, To: to, Value: (*hexutil.Big)(v)}
		switch vm.OpCode(typ) {
		case vm.CALL:
			if v.Sign() == 0 {
				return
			}
			op.Type = otsOpTransfer
		case vm.CREATE:
			op.Type = otsOpCreate
		case vm.CREATE2:
			op.Type = otsOpCreate2
		case vm.SELFDESTRUCT:
			op.Type = otsOpSelfDestruct
		default:
			return
		}
		out = append(out, op)
	}
	return &tracers.Tracer{
		Hooks:     &tracing.Hooks{OnEnter: onEnter},
		GetResult: func() (json.RawMessage, error) { return json.Marshal(out) },
		Stop:      func(error) {},
	}
}

// newOTSErrorTracer records the transaction's revert output: its
// top frame's output when it failed, empty when it succeeded.
func newOTSErrorTracer() *tracers.Tracer {
	out := hexutil.Bytes{}
	onExit := func(depth int, output []byte, _ uint64, err error, reverted bool) {
		if depth != 0 {
			return
		}
		if err != nil || reverted {
			out = common.CopyBytes(output)
		} else {
			out = hexutil.Bytes{}
		}
	}
	return &tracers.Tracer{
		Hooks:     &tracing.Hooks{OnExit: onExit},
		GetResult: func() (json.RawMessage, error) { return json.Marshal(out) },
		Stop:      func(error) {},
	}
}
