package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/eth/tracers"
	"github.com/ethereum/go-ethereum/eth/tracers/logger"
	_ "github.com/ethereum/go-ethereum/eth/tracers/native" // callTracer, prestateTracer, 4byteTracer, ...
	"github.com/ethereum/go-ethereum/params"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/hvm"
)

// debugAPI is the debug namespace (tracing).
type debugAPI struct{ s *Server }

// traceConfig is go-ethereum's TraceConfig: the struct logger's options
// inline, or a named native tracer (callTracer, prestateTracer, ...)
// with its own config.
type traceConfig struct {
	*logger.Config
	Tracer       *string
	Timeout      *string
	TracerConfig json.RawMessage
	// native, set in process only (the ots namespace), builds the
	// tracer instead of Tracer.
	native func() *tracers.Tracer
}

// traceCallConfig is debug_traceCall's config.
type traceCallConfig struct {
	traceConfig
	StateOverrides *stateOverride
}

// txTraceResult is one transaction's trace in a block trace.
type txTraceResult struct {
	TxHash common.Hash     `json:"txHash"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// newTracer builds the tracer cfg names (the struct logger by default),
// its hooks charged to budget, and its timeout: the caller's, but never
// more than Config.TraceTimeout (also the default).
func (s *Server) newTracer(cfg *traceConfig, tctx *tracers.Context, budget *traceBudget) (*tracers.Tracer, time.Duration, error) {
	timeout := s.cfg.TraceTimeout
	if cfg == nil {
		cfg = &traceConfig{}
	}
	if cfg.Timeout != nil {
		d, err := time.ParseDuration(*cfg.Timeout)
		if err != nil {
			return nil, 0, invalidParams("invalid timeout %q: %v", *cfg.Timeout, err)
		}
		if d <= 0 {
			return nil, 0, invalidParams("invalid timeout %q: must be positive", *cfg.Timeout)
		}
		timeout = min(d, s.cfg.TraceTimeout)
	}
	if cfg.native != nil {
		return budget.limitTracer(cfg.native(), false, nil), timeout, nil
	}
	if cfg.Tracer == nil || *cfg.Tracer == "" {
		var lc logger.Config
		if cfg.Config != nil {
			lc = *cfg.Config
		}
		// The logger stops recording past the budget (it truncates
		// silently; the budget turns that into an error).
		if lc.Limit <= 0 || lc.Limit > budget.max {
			lc.Limit = budget.max
		}
		l := logger.NewStructLogger(&lc)
		t := &tracers.Tracer{Hooks: l.Hooks(), GetResult: l.GetResult, Stop: l.Stop}
		return budget.limitTracer(t, true, &lc), timeout, nil
	}
	t, err := newNamedTracer(*cfg.Tracer, tctx, cfg.TracerConfig, s.config)
	if err != nil {
		return nil, 0, invalidParams("tracer %q: %v", *cfg.Tracer, err)
	}
	return budget.limitTracer(t, false, nil), timeout, nil
}

// watch stops tracer and evm when tctx is done (the trace's timeout or
// the request's end) or when budget is spent; the returned func undoes
// it.
func (s *Server) watch(tctx context.Context, tracer *tracers.Tracer, evm *vm.EVM, budget *traceBudget) func() {
	budget.arm(func() {
		s.metrics.traceLimits.Inc()
		tracer.Stop(ErrTraceTooLarge)
		evm.Cancel()
	})
	stop := context.AfterFunc(tctx, func() {
		if errors.Is(tctx.Err(), context.DeadlineExceeded) {
			tracer.Stop(errors.New("execution timeout"))
		}
		evm.Cancel()
	})
	return func() {
		stop()
		budget.arm(nil)
	}
}

// newNamedTracer is tracers.DefaultDirectory.New for a name. The
// directory treats an unknown name as JavaScript and calls its JS
// evaluator, which is nil unless eth/tracers/js is linked (it is not:
// JavaScript tracers are not offered), so that call is caught here.
func newNamedTracer(name string, tctx *tracers.Context, cfg json.RawMessage, config *params.ChainConfig) (t *tracers.Tracer, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("unknown tracer (JavaScript tracers are not supported)")
		}
	}()
	return tracers.DefaultDirectory.New(name, tctx, cfg, config)
}

// replay re-executes block b on its parent's state exactly as the block
// processor does (pre-execution system calls, system transactions, then
// user transactions), tracing the transactions for which trace(i)
// returns a config. It stops after transaction index last.
type replay struct {
	s      *Server
	budget *traceBudget // shared by the transactions traced
	b      *chain.Block
	parent *types.Header
	st     *state.StateDB
	view   hvm.BitcoinView
	get    chain.GetHashFunc
}

func (s *Server) newReplay(b *chain.Block) (*replay, error) {
	if b.NumberU64() == 0 {
		return nil, invalidParams("genesis is not traceable")
	}
	parent, err := s.chain.HeaderByHash(b.Header.ParentHash)
	if err != nil {
		return nil, err
	}
	st, err := s.chain.StateAt(parent.Root)
	if err != nil {
		return nil, err
	}
	view, err := s.chain.ViewOf(b.Header)
	if err != nil {
		return nil, err
	}
	r := &replay{s: s, b: b, parent: parent, st: st, view: view, get: s.chain.GetHashFn(parent),
		budget: newTraceBudget(s.cfg.TraceMaxBytes)}
	evm := s.chain.Processor().NewEVM(b.Header, r.get, st, view, vm.Config{})
	core.PreExecution(context.Background(), b.Header.ParentBeaconRoot, parent, s.config, evm, b.Header.Number, b.Header.Time)
	evm.Release()
	return r, nil
}

// run executes transactions 0..last, tracing those trace selects.
func (r *replay) run(ctx context.Context, last int, trace func(i int) *traceConfig) ([]txTraceResult, error) {
	var out []txTraceResult
	nsys := len(r.b.Body.SystemTxs)
	signer := types.MakeSigner(r.s.config, r.b.Header.Number, r.b.Header.Time)
	hashes := r.b.Body.TxHashes()
	for i := 0; i <= last && i < len(hashes); i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res, err := r.step(ctx, i, hashes[i], nsys, signer, trace(i))
		if err != nil {
			return nil, err
		}
		if res != nil {
			out = append(out, *res)
		}
	}
	return out, nil
}

// step executes transaction i, traced under cfg if not nil; it returns
// the trace, or nil untraced.
func (r *replay) step(ctx context.Context, i int, hash common.Hash, nsys int, signer types.Signer, cfg *traceConfig) (*txTraceResult, error) {
	var (
		tracer  *tracers.Tracer
		timeout time.Duration
		err     error
	)
	vmCfg := vm.Config{}
	var sdb vm.StateDB = r.st
	if cfg != nil {
		tracer, timeout, err = r.s.newTracer(cfg, &tracers.Context{BlockHash: r.b.Hash(), BlockNumber: r.b.Header.Number, TxIndex: i, TxHash: hash}, r.budget)
		if err != nil {
			return nil, err
		}
		vmCfg = vm.Config{Tracer: tracer.Hooks}
		sdb = state.NewHookedState(r.st, tracer.Hooks)
	}
	evm := r.s.chain.Processor().NewEVM(r.b.Header, r.get, sdb, r.view, vmCfg)
	defer evm.Release()
	if tracer != nil {
		tctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		defer r.s.watch(tctx, tracer, evm, r.budget)()
	}
	r.st.SetTxContext(hash, i, uint32(i+1))
	var execErr error
	if i < nsys {
		r.systemTx(evm, r.b.Body.SystemTxs[i], hash)
	} else {
		tx := r.b.Body.Txs[i-nsys]
		msg, err := core.TransactionToMessage(tx, signer, r.b.Header.BaseFee)
		if err != nil {
			execErr = err
		} else {
			_, _, execErr = core.ApplyTransactionWithEVM(ctx, msg, core.NewGasPool(math.MaxUint64), r.st, r.b.Header.Number, r.b.Hash(), r.b.Header.Time, tx, evm)
		}
	}
	if verr := viewErr(r.view); verr != nil {
		return nil, fmt.Errorf("bitcoin view failed during the replay: %w", verr)
	}
	if tracer == nil {
		if execErr != nil {
			return nil, fmt.Errorf("replaying tx %d of block %d: %w", i, r.b.NumberU64(), execErr)
		}
		return nil, nil
	}
	if r.budget.isExceeded() {
		return nil, r.budget.err()
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRequestEnded, err)
	}
	res := &txTraceResult{TxHash: hash}
	if execErr != nil {
		res.Error = fmt.Sprintf("tracing failed: %v", execErr)
	} else if raw, err := tracer.GetResult(); err != nil {
		res.Error = err.Error()
	} else if err := r.budget.checkResult(raw); err != nil {
		return nil, err
	} else {
		res.Result = raw
	}
	return res, nil
}

// systemTx executes a system transaction as the block processor does
// (chain package doc, "System transactions": mint, nonce, call or create
// at gas price zero, no refund), reporting it to the EVM's tracer as a
// transaction with a legacy stand-in carrying its gas, recipient, value
// and data (tracers need a *types.Transaction; a system transaction is
// not one).
func (r *replay) systemTx(evm *vm.EVM, stx *block.SystemTx, hash common.Hash) {
	sdb := evm.StateDB
	rules := r.s.config.Rules(r.b.Header.Number, true, r.b.Header.Time)
	hooks := evm.Config.Tracer
	if hooks != nil && hooks.OnTxStart != nil {
		standIn := types.NewTx(&types.LegacyTx{Nonce: sdb.GetNonce(stx.From), To: stx.To, Value: stx.Value, Gas: stx.Gas, Data: stx.Data})
		hooks.OnTxStart(evm.GetVMContext(), standIn, stx.From)
	}
	used, contract, err := chain.ApplySystemTx(evm, rules, r.b.Header.Coinbase, stx)
	r.st.Finalise(rules)
	if hooks != nil && hooks.OnTxEnd != nil {
		rc := &types.Receipt{Type: block.SystemTxType, Status: types.ReceiptStatusSuccessful, TxHash: hash,
			GasUsed: used, BlockNumber: r.b.Header.Number, BlockHash: r.b.Hash()}
		if err != nil {
			rc.Status = types.ReceiptStatusFailed
		} else if stx.To == nil {
			rc.ContractAddress = contract
		}
		hooks.OnTxEnd(rc, nil)
	}
}

// TraceTransaction is debug_traceTransaction.
func (api *debugAPI) TraceTransaction(ctx context.Context, hash common.Hash, cfg *traceConfig) (json.RawMessage, error) {
	s := api.s
	loc, err := s.chain.TxLookup(hash)
	if err != nil {
		if errors.Is(err, chain.ErrNotFound) {
			return nil, &rpcError{code: codeServer, msg: "transaction not found", err: err}
		}
		return nil, err
	}
	b, err := s.blockByHash(loc.BlockHash)
	if err != nil {
		return nil, err
	}
	r, err := s.newReplay(b)
	if err != nil {
		return nil, err
	}
	target := int(loc.Index)
	res, err := r.run(ctx, target, func(i int) *traceConfig {
		if i != target {
			return nil
		}
		if cfg == nil {
			return &traceConfig{}
		}
		return cfg
	})
	if err != nil {
		return nil, err
	}
	if len(res) != 1 {
		return nil, fmt.Errorf("transaction %s: index %d not in block: %w", hash, target, chain.ErrCorrupt)
	}
	if res[0].Error != "" {
		return nil, &rpcError{code: codeServer, msg: res[0].Error}
	}
	return res[0].Result, nil
}

// TraceBlockByNumber is debug_traceBlockByNumber: every transaction of
// the block, system transactions first.
func (api *debugAPI) TraceBlockByNumber(ctx context.Context, n gethrpc.BlockNumber, cfg *traceConfig) ([]txTraceResult, error) {
	return api.traceBlock(ctx, gethrpc.BlockNumberOrHashWithNumber(n), cfg)
}

// TraceBlockByHash is debug_traceBlockByHash.
func (api *debugAPI) TraceBlockByHash(ctx context.Context, hash common.Hash, cfg *traceConfig) ([]txTraceResult, error) {
	return api.traceBlock(ctx, gethrpc.BlockNumberOrHashWithHash(hash, false), cfg)
}

func (api *debugAPI) traceBlock(ctx context.Context, bnh gethrpc.BlockNumberOrHash, cfg *traceConfig) ([]txTraceResult, error) {
	s := api.s
	b, err := s.blockByNumberOrHash(bnh)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, &rpcError{code: codeServer, msg: "block not found"}
	}
	r, err := s.newReplay(b)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		cfg = &traceConfig{}
	}
	res, err := r.run(ctx, b.Body.Len()-1, func(int) *traceConfig { return cfg })
	if err != nil {
		return nil, err
	}
	if res == nil {
		res = []txTraceResult{}
	}
	return res, nil
}

// TraceCall is debug_traceCall: eth_call under a tracer, on the state
// after the named block, with optional state overrides.
func (api *debugAPI) TraceCall(ctx context.Context, args callArgs, bnh gethrpc.BlockNumberOrHash, cfg *traceCallConfig) (json.RawMessage, error) {
	s := api.s
	if cfg == nil {
		cfg = &traceCallConfig{}
	}
	env, err := s.callEnvFor(args, &bnh, cfg.StateOverrides)
	if err != nil {
		return nil, err
	}
	budget := newTraceBudget(s.cfg.TraceMaxBytes)
	tracer, timeout, err := s.newTracer(&cfg.traceConfig, &tracers.Context{BlockNumber: env.header.Number}, budget)
	if err != nil {
		return nil, err
	}
	msg := s.toMessage(&args, env, env.state)
	tx := types.NewTx(&types.LegacyTx{Nonce: msg.Nonce, GasPrice: msg.GasPrice.ToBig(), Gas: msg.GasLimit, To: msg.To, Value: msg.Value.ToBig(), Data: msg.Data})
	evm := s.chain.Processor().NewEVM(env.header, s.chain.GetHashFn(env.header), state.NewHookedState(env.state, tracer.Hooks), env.view,
		vm.Config{Tracer: tracer.Hooks, NoBaseFee: true})
	defer evm.Release()
	if msg.GasPrice.Sign() == 0 {
		evm.Context.BaseFee.SetUint64(0)
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	defer s.watch(tctx, tracer, evm, budget)()
	env.state.SetTxContext(tx.Hash(), 0, 1)
	_, _, execErr := core.ApplyTransactionWithEVM(ctx, msg, core.NewGasPool(math.MaxUint64), env.state, env.header.Number, env.header.Hash(), env.header.Time, tx, evm)
	if budget.isExceeded() {
		return nil, budget.err()
	}
	if err := ctx.Err(); err != nil {
		s.metrics.evmCancelled.Inc()
		return nil, fmt.Errorf("%w: %w", ErrRequestEnded, err)
	}
	if execErr != nil {
		return nil, txError(fmt.Errorf("tracing failed: %w", execErr))
	}
	if verr := viewErr(env.view); verr != nil {
		return nil, fmt.Errorf("bitcoin view failed during the call: %w", verr)
	}
	raw, err := tracer.GetResult()
	if err != nil {
		return nil, err
	}
	if err := budget.checkResult(raw); err != nil {
		return nil, err
	}
	return raw, nil
}
