package rpc

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/tracers/logger"
	"github.com/ethereum/go-ethereum/params"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"github.com/holiman/uint256"

	"github.com/hemi-go/hemi/internal/hvm"
)

// overrideAccount is one account of a state override set (go-ethereum's
// shape): replace nonce, code, balance, and all storage (state) or some
// slots (stateDiff).
type overrideAccount struct {
	Nonce     *hexutil.Uint64             `json:"nonce"`
	Code      *hexutil.Bytes              `json:"code"`
	Balance   *hexutil.Big                `json:"balance"`
	State     map[common.Hash]common.Hash `json:"state"`
	StateDiff map[common.Hash]common.Hash `json:"stateDiff"`
}

// stateOverride is eth_call's third parameter.
type stateOverride map[common.Address]overrideAccount

// apply writes the overrides into st.
func (o stateOverride) apply(st *state.StateDB) error {
	for addr, acc := range o {
		if acc.Nonce != nil {
			st.SetNonce(addr, uint64(*acc.Nonce), tracing.NonceChangeUnspecified)
		}
		if acc.Code != nil {
			st.SetCode(addr, *acc.Code, tracing.CodeChangeUnspecified)
		}
		if acc.Balance != nil {
			b, overflow := uint256.FromBig(acc.Balance.ToInt())
			if overflow || acc.Balance.ToInt().Sign() < 0 {
				return invalidParams("account %s: balance out of range", addr)
			}
			st.SetBalance(addr, b, tracing.BalanceChangeUnspecified)
		}
		if acc.State != nil && acc.StateDiff != nil {
			return invalidParams("account %s has both 'state' and 'stateDiff'", addr)
		}
		if acc.State != nil {
			st.SetStorage(addr, acc.State)
		}
		for k, v := range acc.StateDiff {
			st.SetState(addr, k, v)
		}
	}
	st.Finalise(params.Rules{})
	return nil
}

// blockOverrides replace fields of the block a call runs in (go-ethereum's
// BlockOverrides, 4th parameter of eth_call and eth_estimateGas).
type blockOverrides struct {
	Number        *hexutil.Big    `json:"number"`
	Time          *hexutil.Uint64 `json:"time"`
	GasLimit      *hexutil.Uint64 `json:"gasLimit"`
	FeeRecipient  *common.Address `json:"feeRecipient"`
	PrevRandao    *common.Hash    `json:"prevRandao"`
	BaseFeePerGas *hexutil.Big    `json:"baseFeePerGas"`
}

// apply writes the overrides into a copy of env's header.
func (o *blockOverrides) apply(env *callEnv) error {
	if o == nil {
		return nil
	}
	h := types.CopyHeader(env.header)
	if o.Number != nil {
		if o.Number.ToInt().Sign() < 0 || !o.Number.ToInt().IsUint64() {
			return invalidParams("block override number out of range")
		}
		h.Number = new(big.Int).Set(o.Number.ToInt())
	}
	if o.Time != nil {
		h.Time = uint64(*o.Time)
	}
	if o.GasLimit != nil {
		h.GasLimit = uint64(*o.GasLimit)
	}
	if o.FeeRecipient != nil {
		h.Coinbase = *o.FeeRecipient
	}
	if o.PrevRandao != nil {
		h.MixDigest = *o.PrevRandao
	}
	if o.BaseFeePerGas != nil {
		if o.BaseFeePerGas.ToInt().Sign() < 0 {
			return invalidParams("block override base fee is negative")
		}
		h.BaseFee = new(big.Int).Set(o.BaseFeePerGas.ToInt())
	}
	env.header = h
	return nil
}

// callEnv is a block's state, view and header for calls on top of it.
type callEnv struct {
	header *types.Header
	state  *state.StateDB
	view   hvm.BitcoinView
}

// callEnvFor validates a call's arguments and builds its environment at
// bnh with the optional state overrides (eth_call, eth_estimateGas,
// eth_createAccessList, debug_traceCall).
func (s *Server) callEnvFor(args callArgs, bnh *gethrpc.BlockNumberOrHash, overrides *stateOverride) (*callEnv, error) {
	if err := args.validate(s.config.ChainID); err != nil {
		return nil, err
	}
	var ov stateOverride
	if overrides != nil {
		ov = *overrides
	}
	return s.callEnvAt(bnh, ov)
}

// callEnvAt opens the post-state of the block bnh names, with overrides.
func (s *Server) callEnvAt(bnh *gethrpc.BlockNumberOrHash, overrides stateOverride) (*callEnv, error) {
	h, err := s.stateHeader(bnh)
	if err != nil {
		return nil, err
	}
	view, err := s.chain.ViewOf(h)
	if err != nil {
		return nil, fmt.Errorf("bitcoin view of block %d: %w", h.Number, err)
	}
	st, err := s.chain.StateAt(h.Root)
	if err != nil {
		return nil, fmt.Errorf("state of block %d: %w", h.Number, err)
	}
	if err := overrides.apply(st); err != nil {
		return nil, err
	}
	if n, ok := bnhNumber(bnh); ok && n == gethrpc.PendingBlockNumber {
		h = s.pendingHeader(h)
	}
	return &callEnv{header: h, state: st, view: view}, nil
}

// bnhNumber is the block number or tag of bnh, if it has one.
func bnhNumber(bnh *gethrpc.BlockNumberOrHash) (gethrpc.BlockNumber, bool) {
	if bnh == nil {
		return 0, false
	}
	return bnh.Number()
}

// pendingHeader is the context of a call on "pending": the block after
// head, on head's state and Bitcoin view (a sequencer's next block has
// the pool's transactions too; a call sees the head's state, as a node
// without a pending block answers), so NUMBER, TIMESTAMP and BASEFEE are
// those a transaction sent now would most likely see.
func (s *Server) pendingHeader(head *types.Header) *types.Header {
	h := types.CopyHeader(head)
	h.ParentHash = head.Hash()
	h.Number = new(big.Int).Add(head.Number, common.Big1)
	h.Time = max(head.Time+1, uint64(time.Now().Unix()))
	h.BaseFee = eip1559.CalcBaseFee(s.config, head)
	h.GasUsed = 0
	return h
}

// toMessage turns call arguments into a message on env, as go-ethereum's
// ToMessage after CallDefaults: gas defaults to (and is capped at) the
// gas cap; the nonce is the state's; the nonce check and EOA check are
// skipped.
func (s *Server) toMessage(a *callArgs, env *callEnv, st *state.StateDB) *core.Message {
	gas := s.cfg.GasCap
	if a.Gas != nil && uint64(*a.Gas) < gas {
		gas = uint64(*a.Gas)
	}
	var gasPrice, feeCap, tipCap *uint256.Int
	if a.GasPrice != nil {
		gasPrice, _ = uint256.FromBig(a.GasPrice.ToInt())
		feeCap, tipCap = gasPrice, gasPrice
	} else {
		feeCap, tipCap = new(uint256.Int), new(uint256.Int)
		if a.MaxFeePerGas != nil {
			feeCap, _ = uint256.FromBig(a.MaxFeePerGas.ToInt())
		}
		if a.MaxPriorityFeePerGas != nil {
			tipCap, _ = uint256.FromBig(a.MaxPriorityFeePerGas.ToInt())
		}
		gasPrice = new(uint256.Int)
		if feeCap.Sign() > 0 || tipCap.Sign() > 0 {
			base := new(uint256.Int)
			if env.header.BaseFee != nil {
				base, _ = uint256.FromBig(env.header.BaseFee)
			}
			gasPrice.Add(tipCap, base)
			if gasPrice.Cmp(feeCap) > 0 {
				gasPrice.Set(feeCap)
			}
		}
	}
	value := new(uint256.Int)
	if a.Value != nil {
		value, _ = uint256.FromBig(a.Value.ToInt())
	}
	nonce := st.GetNonce(a.from())
	if a.Nonce != nil {
		nonce = uint64(*a.Nonce)
	}
	var al types.AccessList
	if a.AccessList != nil {
		al = *a.AccessList
	}
	msg := &core.Message{
		From: a.from(), To: a.To, Value: value, Nonce: nonce, GasLimit: gas,
		GasPrice: gasPrice, GasFeeCap: feeCap, GasTipCap: tipCap,
		Data: a.data(), AccessList: al, SetCodeAuthorizations: a.AuthorizationList,
	}
	return msg.SkipNonceCheck().SkipEOACheck().SkipGasLimitCapCheck()
}

// execute runs msg on st (which it modifies) against env's block, with
// the hVM precompiles, under the EVM timeout. An error is a failure to
// run (invalid message, timeout, failed Bitcoin view); a revert is in the
// result.
func (s *Server) execute(parent context.Context, env *callEnv, st *state.StateDB, msg *core.Message, tracer *tracing.Hooks) (*core.ExecutionResult, error) {
	ctx, cancel := context.WithTimeout(parent, s.cfg.EVMTimeout)
	defer cancel()
	var sdb vm.StateDB = st
	if tracer != nil {
		sdb = state.NewHookedState(st, tracer)
	}
	evm := s.chain.Processor().NewEVM(env.header, s.chain.GetHashFn(env.header), sdb, env.view, vm.Config{Tracer: tracer, NoBaseFee: true})
	defer evm.Release()
	if msg.GasPrice.Sign() == 0 {
		evm.Context.BaseFee = new(big.Int)
	}
	stop := context.AfterFunc(ctx, evm.Cancel)
	defer stop()
	st.SetTxContext(common.Hash{}, 0, 1)
	res, err := core.ApplyMessage(evm, msg, core.NewGasPool(math.MaxUint64))
	if verr := viewErr(env.view); verr != nil {
		return nil, fmt.Errorf("bitcoin view failed during the call: %w", verr)
	}
	if evm.Cancelled() {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && parent.Err() == nil {
			s.metrics.evmTimeouts.Inc()
			return nil, fmt.Errorf("%w after %v", ErrExecutionTimeout, s.cfg.EVMTimeout)
		}
		s.metrics.evmCancelled.Inc() // the request's deadline or its client's departure
		return nil, fmt.Errorf("%w: %w", ErrRequestEnded, context.Cause(parent))
	}
	if err != nil {
		return nil, txError(fmt.Errorf("err: %w (supplied gas %d)", err, msg.GasLimit))
	}
	return res, nil
}

// viewErr is a failed view's error (hvm invariant 3), or nil.
func viewErr(v hvm.BitcoinView) error {
	if e, ok := v.(interface{ Err() error }); ok && v != nil {
		return e.Err()
	}
	return nil
}

// Call is eth_call.
func (api *ethAPI) Call(ctx context.Context, args callArgs, bnh *gethrpc.BlockNumberOrHash, overrides *stateOverride, blockOverrides *blockOverrides) (hexutil.Bytes, error) {
	s := api.s
	env, err := s.callEnvFor(args, bnh, overrides)
	if err != nil {
		return nil, err
	}
	if err := blockOverrides.apply(env); err != nil {
		return nil, err
	}
	res, err := s.execute(ctx, env, env.state, s.toMessage(&args, env, env.state), nil)
	if err != nil {
		return nil, err
	}
	if errors.Is(res.Err, vm.ErrExecutionReverted) {
		return nil, revertError(res.Revert())
	}
	if res.Err != nil {
		return nil, &rpcError{code: codeServer, msg: res.Err.Error(), err: res.Err}
	}
	return res.Return(), nil
}

// estimateErrorRatio is how close the estimate must get to the minimum
// (go-ethereum's gasestimator: 1.5%).
const estimateErrorRatio = 0.015

// EstimateGas is eth_estimateGas: go-ethereum's binary search between the
// gas used and the block gas limit (or the caller's gas, or what the
// sender can pay), each step executed on a fresh copy of the state.
func (api *ethAPI) EstimateGas(ctx context.Context, args callArgs, bnh *gethrpc.BlockNumberOrHash, overrides *stateOverride, blockOverrides *blockOverrides) (hexutil.Uint64, error) {
	s := api.s
	env, err := s.callEnvFor(args, bnh, overrides)
	if err != nil {
		return 0, err
	}
	if err := blockOverrides.apply(env); err != nil {
		return 0, err
	}
	hi := env.header.GasLimit
	if args.Gas != nil && uint64(*args.Gas) >= params.TxGas && uint64(*args.Gas) < hi {
		hi = uint64(*args.Gas)
	}
	if s.config.IsOsaka(env.header.Number, env.header.Time) && hi > params.MaxTxGas {
		hi = params.MaxTxGas
	}
	// Cap by what the sender can pay at the fee cap.
	feeCap := new(big.Int)
	if args.GasPrice != nil {
		feeCap = args.GasPrice.ToInt()
	} else if args.MaxFeePerGas != nil {
		feeCap = args.MaxFeePerGas.ToInt()
	}
	if feeCap.Sign() > 0 {
		bal := env.state.GetBalance(args.from()).ToBig()
		if args.Value != nil {
			if args.Value.ToInt().Cmp(bal) >= 0 {
				return 0, txError(core.ErrInsufficientFundsForTransfer)
			}
			bal.Sub(bal, args.Value.ToInt())
		}
		if allowance := new(big.Int).Div(bal, feeCap); allowance.IsUint64() && allowance.Uint64() < hi {
			hi = allowance.Uint64()
		}
	}
	if hi > s.cfg.GasCap {
		hi = s.cfg.GasCap
	}
	run := func(gas uint64) (*core.ExecutionResult, error) {
		st := env.state.Copy()
		a := args
		g := hexutil.Uint64(gas)
		a.Gas = &g
		res, err := s.execute(ctx, env, st, s.toMessage(&a, env, st), nil)
		if err != nil {
			if errors.Is(err, core.ErrIntrinsicGas) || errors.Is(err, core.ErrFloorDataGas) {
				return nil, nil // too little gas: a failure, not an error
			}
			return nil, err
		}
		return res, nil
	}
	// A plain transfer costs exactly 21000.
	if len(args.data()) == 0 && args.AccessList == nil && len(args.AuthorizationList) == 0 && args.To != nil &&
		len(env.state.GetCode(*args.To)) == 0 {
		if res, err := run(params.TxGas); err == nil && res != nil && !res.Failed() {
			return hexutil.Uint64(params.TxGas), nil
		}
	}
	res, err := run(hi)
	if err != nil {
		return 0, err
	}
	if res == nil {
		return 0, &rpcError{code: codeServer, msg: fmt.Sprintf("gas required exceeds allowance (%d)", hi)}
	}
	if res.Failed() {
		if errors.Is(res.Err, vm.ErrExecutionReverted) {
			return 0, revertError(res.Revert())
		}
		if !errors.Is(res.Err, vm.ErrOutOfGas) {
			return 0, &rpcError{code: codeServer, msg: res.Err.Error(), err: res.Err}
		}
		return 0, &rpcError{code: codeServer, msg: fmt.Sprintf("gas required exceeds allowance (%d)", hi)}
	}
	lo := res.UsedGas - 1
	// The optimistic guess: gas used plus the 63/64 reserve of calls.
	if opt := (res.MaxUsedGas + params.CallStipend) * 64 / 63; opt < hi {
		r, err := run(opt)
		if err != nil {
			return 0, err
		}
		if r != nil && !r.Failed() {
			hi = opt
		} else {
			lo = opt
		}
	}
	for lo+1 < hi {
		if float64(hi-lo)/float64(hi) < estimateErrorRatio {
			break
		}
		mid := lo + (hi-lo)/2
		if mid > lo*2 {
			mid = lo * 2 // the answer is usually close to lo
		}
		r, err := run(mid)
		if err != nil {
			return 0, err
		}
		if r == nil || r.Failed() {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hexutil.Uint64(hi), nil
}

// accessListResult is eth_createAccessList's answer.
type accessListResult struct {
	AccessList *types.AccessList `json:"accessList"`
	Error      string            `json:"error,omitempty"`
	GasUsed    hexutil.Uint64    `json:"gasUsed"`
}

// CreateAccessList is eth_createAccessList: run the call with an
// access-list tracer until the list it records stops changing. The
// sender, the recipient, the precompiles (hVM's included) and valid
// authorities are left out, as go-ethereum does.
func (api *ethAPI) CreateAccessList(ctx context.Context, args callArgs, bnh *gethrpc.BlockNumberOrHash, overrides *stateOverride) (*accessListResult, error) {
	s := api.s
	env, err := s.callEnvFor(args, bnh, overrides)
	if err != nil {
		return nil, err
	}
	to := crypto.CreateAddress(args.from(), env.state.GetNonce(args.from()))
	if args.Nonce != nil && args.To == nil {
		to = crypto.CreateAddress(args.from(), uint64(*args.Nonce))
	}
	if args.To != nil {
		to = *args.To
	}
	exclude := map[common.Address]struct{}{args.from(): {}, to: {}}
	rules := s.config.Rules(env.header.Number, true, env.header.Time)
	for _, a := range vm.ActivePrecompiles(rules) {
		exclude[a] = struct{}{}
	}
	for _, a := range hvm.Addresses() {
		exclude[a] = struct{}{}
	}
	for _, auth := range args.AuthorizationList {
		if a, err := auth.Authority(); err == nil {
			exclude[a] = struct{}{}
		}
	}
	var initial types.AccessList
	if args.AccessList != nil {
		initial = *args.AccessList
	}
	prev := logger.NewAccessListTracer(initial, exclude)
	for range 32 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		al := prev.AccessList()
		a := args
		a.AccessList = &al
		st := env.state.Copy()
		tracer := logger.NewAccessListTracer(al, exclude)
		res, err := s.execute(ctx, env, st, s.toMessage(&a, env, st), tracer.Hooks())
		if err != nil {
			return nil, err
		}
		if tracer.Equal(prev) {
			out := &accessListResult{AccessList: &al, GasUsed: hexutil.Uint64(res.UsedGas)}
			if res.Err != nil {
				out.Error = res.Err.Error()
			}
			return out, nil
		}
		prev = tracer
	}
	return nil, &rpcError{code: codeServer, msg: "access list did not converge"}
}
