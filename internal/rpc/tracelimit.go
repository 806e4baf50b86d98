package rpc

import (
	"fmt"
	"math/big"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/eth/tracers"
	"github.com/ethereum/go-ethereum/eth/tracers/logger"
)

// traceBudget bounds the output of one debug_trace* request's tracers
// (Config.TraceMaxBytes), every tracer kind alike; a block trace shares
// one budget among its transactions.
//
// A tracer keeps its output in memory until the end, and go-ethereum's
// struct logger records an entry per opcode (a 4-byte loop makes 12
// million of them under the gas cap), its native tracers an entry per
// call frame with its input and output (a loop of calls with a large
// input makes gigabytes), so the bound must hold while the EVM runs,
// not only on the result: the hooks that make a tracer record are
// wrapped to count a lower bound of the bytes each adds to its output,
// and past the budget the tracer and the EVM are stopped. The result is
// then checked exactly (the lower bound may miss a little), and the
// struct logger's own Limit keeps it from recording past the budget
// meanwhile.
type traceBudget struct {
	mu       sync.Mutex
	max      int
	used     int // lower bound of the output so far, while tracing
	results  int // exact size of the finished traces
	exceeded bool
	stop     func() // stops the running tracer and its EVM
}

func newTraceBudget(max int) *traceBudget { return &traceBudget{max: max} }

// err is the request's error once the budget is spent.
func (b *traceBudget) err() error {
	return &rpcError{code: codeResponseTooLarge, err: ErrTraceTooLarge,
		msg: fmt.Sprintf("%v: more than %d bytes of tracer output (rpc.trace_max_bytes); trace less (a call instead of a block, "+
			"disableStack, no enableMemory) or use a native tracer such as callTracer", ErrTraceTooLarge, b.max)}
}

// spend adds n bytes; past the budget it stops the running tracer once.
func (b *traceBudget) spend(n int) {
	b.mu.Lock()
	b.used += n
	over := b.used > b.max && !b.exceeded
	if over {
		b.exceeded = true
	}
	stop := b.stop
	b.mu.Unlock()
	if over && stop != nil {
		stop()
	}
}

// isExceeded reports whether the budget was spent.
func (b *traceBudget) isExceeded() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.exceeded
}

// arm sets what stops the tracer now running (nil: none runs).
func (b *traceBudget) arm(stop func()) {
	b.mu.Lock()
	b.stop = stop
	b.mu.Unlock()
}

// checkResult charges a finished trace's exact size (the running
// counts are lower bounds): the request's results together must fit.
func (b *traceBudget) checkResult(raw []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.results += len(raw)
	if b.exceeded || b.results > b.max {
		b.exceeded = true
		return b.err()
	}
	return nil
}

// Lower bounds of what a tracer writes per event, in bytes of JSON.
const (
	// minStructLog is the shortest struct logger entry,
	// {"pc":0,"op":"LT","gas":0,"gasCost":0,"depth":1}, less a margin.
	minStructLog = 40
	// minStackItem is "0x0" with its quotes and comma.
	minStackItem = 6
	// memWord is one memory word: "0x" + 64 hex digits, quotes, comma.
	memWord = 69
	// minFrame is a call frame's or a log's fixed fields (type, from,
	// to, gas...), well under what callTracer writes.
	minFrame = 64
)

// limitStructLogger wraps a struct logger built with cfg so that its
// entries are charged to b.
func (b *traceBudget) limitStructLogger(h *tracing.Hooks, cfg *logger.Config) *tracing.Hooks {
	var c logger.Config
	if cfg != nil {
		c = *cfg
	}
	inner := h.OnOpcode
	if inner == nil {
		return h
	}
	out := *h
	out.OnOpcode = func(pc uint64, op byte, gas, cost uint64, scope tracing.OpContext, rData []byte, depth int, err error) {
		inner(pc, op, gas, cost, scope, rData, depth, err)
		n := minStructLog
		if !c.DisableStack {
			n += minStackItem * len(scope.StackData())
		}
		if c.EnableMemory {
			n += memWord * ((len(scope.MemoryData()) + 31) / 32)
		}
		if c.EnableReturnData {
			n += 2 * len(rData)
		}
		b.spend(n)
	}
	return &out
}

// limitNative wraps a native tracer's hooks so that the call frames and
// logs it may record are charged to b: their input, output and data as
// hex, and their fixed fields.
func (b *traceBudget) limitNative(h *tracing.Hooks) *tracing.Hooks {
	out := *h
	if inner := h.OnEnter; inner != nil {
		out.OnEnter = func(depth int, typ byte, from, to common.Address, input []byte, gas uint64, value *big.Int) {
			inner(depth, typ, from, to, input, gas, value)
			b.spend(minFrame + 2*len(input))
		}
	}
	if inner := h.OnExit; inner != nil {
		out.OnExit = func(depth int, output []byte, gasUsed uint64, err error, reverted bool) {
			inner(depth, output, gasUsed, err, reverted)
			b.spend(2 * len(output))
		}
	}
	if inner := h.OnLog; inner != nil {
		out.OnLog = func(l *types.Log) {
			inner(l)
			b.spend(minFrame + 2*len(l.Data) + 66*len(l.Topics))
		}
	}
	return &out
}

// limitTracer returns t with its hooks wrapped for b (cfg: the struct
// logger's config when t is one).
func (b *traceBudget) limitTracer(t *tracers.Tracer, structLogger bool, cfg *logger.Config) *tracers.Tracer {
	out := *t
	if structLogger {
		out.Hooks = b.limitStructLogger(t.Hooks, cfg)
	} else {
		out.Hooks = b.limitNative(t.Hooks)
	}
	return &out
}
