package chain

import (
	"context"
	"fmt"
	"math/big"
	"runtime"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/hvm"
)

// Result is what executing a block produced.
type Result struct {
	Receipts types.Receipts // system transactions' first, then user transactions'
	Logs     []*types.Log
	GasUsed  uint64
	Bloom    types.Bloom
	// ReceiptRoot is the receipts trie root over Receipts, each in its
	// EIP-2718 encoding (0x7E || RLP for system transactions).
	ReceiptRoot common.Hash
	// Root is the state root after the block (IntermediateRoot).
	Root common.Hash
	// RequestsHash is the EIP-7685 requests hash (Prague; nil before).
	RequestsHash *common.Hash
}

// Processor executes blocks. It does no I/O other than through the
// StateDB and the BitcoinView it is given, and holds no state: safe for
// concurrent use.
type Processor struct {
	config    *params.ChainConfig
	btcParams *chaincfg.Params
}

// NewProcessor returns a processor for an L2 chain with config whose
// Bitcoin network is btcParams.
func NewProcessor(config *params.ChainConfig, btcParams *chaincfg.Params) *Processor {
	return &Processor{config: config, btcParams: btcParams}
}

// GetHashFunc returns the hash of the ancestor of the block being executed
// at a number (BLOCKHASH); the zero hash when unknown.
type GetHashFunc = vm.GetHashFunc

// Process executes a block: the pre-execution system calls of the active
// forks (EIP-4788 with the zero beacon root, EIP-2935), the system
// transactions, then the user transactions, then the post-execution
// system calls (EIP-7002, EIP-7251), on statedb
// (the parent's state, modified in place). view answers the hVM
// precompiles; a view whose Err() is set after execution fails the block
// with ErrViewFailed (not a verdict on the block). blockHash is stamped
// into receipts and logs (the zero hash while building). Any user
// transaction that cannot be applied fails the block with ErrBadTx.
func (p *Processor) Process(parent, header *types.Header, blockHash common.Hash, statedb *state.StateDB, stxs []*block.SystemTx, txs []*types.Transaction, view hvm.BitcoinView, getHash GetHashFunc) (*Result, error) {
	if len(txs) > 0 {
		RecoverSenders(types.MakeSigner(p.config, header.Number, header.Time), txs)
	}
	ex, err := p.newExecutor(parent, header, blockHash, statedb, view, getHash)
	if err != nil {
		return nil, err
	}
	defer ex.evm.Release()
	if err := ex.systemTxs(stxs); err != nil {
		return nil, err
	}
	for i, tx := range txs {
		if _, err := ex.userTx(tx); err != nil {
			return nil, fmt.Errorf("%w: tx %d (%s): %w", ErrBadTx, i, tx.Hash(), err)
		}
	}
	return ex.finish()
}

// ProcessBlock is Process for a whole block, stamping its hash.
func (p *Processor) ProcessBlock(parent *types.Header, statedb *state.StateDB, b *Block, view hvm.BitcoinView, getHash GetHashFunc) (*Result, error) {
	return p.Process(parent, b.Header, b.Hash(), statedb, b.Body.SystemTxs, b.Body.Txs, view, getHash)
}

// executor is one block's execution in progress: one EVM, one gas pool.
type executor struct {
	p         *Processor
	header    *types.Header
	blockHash common.Hash
	statedb   *state.StateDB
	evm       *vm.EVM
	rules     params.Rules
	signer    types.Signer
	view      hvm.BitcoinView
	gp        *core.GasPool
	sysGas    uint64 // gas used by system transactions
	receipts  types.Receipts
	logs      []*types.Log
}

// NewEVM builds an EVM for executing against header: a block being
// executed, or the block an eth_call, gas estimation or trace runs on
// (give it a header whose number, time and base fee are that block's).
// It has the block context of header (coinbase, base fee, PREVRANDAO =
// MixDigest, time, number, gas limit, getHash), the hVM precompiles
// answering as of view installed with SetPrecompiles, and statedb
// wrapped in hvm.WarmingStateDB. Every EVM the node builds must come from
// here, or its gas and answers differ from the blocks'. After running,
// check the view's Err() (hvm invariant 3).
func (p *Processor) NewEVM(header *types.Header, getHash GetHashFunc, statedb vm.StateDB, view hvm.BitcoinView, cfg vm.Config) *vm.EVM {
	if getHash == nil {
		getHash = func(uint64) common.Hash { return common.Hash{} }
	}
	rules := p.config.Rules(header.Number, true, header.Time)
	evm := vm.NewEVM(p.blockContext(header, getHash), hvm.NewWarmingStateDB(statedb), p.config, cfg)
	evm.SetPrecompiles(hvm.Merge(rules, hvm.Precompiles(view, p.btcParams)))
	return evm
}

// ChainConfig is the go-ethereum chain configuration the processor runs.
func (p *Processor) ChainConfig() *params.ChainConfig { return p.config }

// blockContext is the EVM's view of header.
func (p *Processor) blockContext(header *types.Header, getHash GetHashFunc) vm.BlockContext {
	ctx := vm.BlockContext{
		CanTransfer: core.CanTransfer,
		Transfer:    core.Transfer,
		GetHash:     getHash,
		Coinbase:    header.Coinbase,
		GasLimit:    header.GasLimit,
		BlockNumber: new(big.Int).Set(header.Number),
		Time:        header.Time,
		Difficulty:  new(big.Int),
		BaseFee:     new(big.Int),
		BlobBaseFee: big.NewInt(params.BlobTxMinBlobGasprice),
	}
	if header.BaseFee != nil {
		ctx.BaseFee.Set(header.BaseFee)
	}
	random := header.MixDigest
	ctx.Random = &random
	return ctx
}

func (p *Processor) newExecutor(parent, header *types.Header, blockHash common.Hash, statedb *state.StateDB, view hvm.BitcoinView, getHash GetHashFunc) (*executor, error) {
	if header.Number == nil || header.Number.Sign() <= 0 {
		return nil, fmt.Errorf("%w: number %v", ErrBadNumber, header.Number)
	}
	if getHash == nil {
		getHash = func(uint64) common.Hash { return common.Hash{} }
	}
	rules := p.config.Rules(header.Number, true, header.Time)
	if rules.IsAmsterdam {
		// EIP-8037's two-dimensional gas and block access lists change
		// gas accounting and the header; not supported yet.
		return nil, fmt.Errorf("chain: the Amsterdam fork is not supported by the block processor")
	}
	ex := &executor{
		p:         p,
		header:    header,
		blockHash: blockHash,
		statedb:   statedb,
		rules:     rules,
		signer:    types.MakeSigner(p.config, header.Number, header.Time),
		view:      view,
		gp:        core.NewGasPool(header.GasLimit),
	}
	ex.evm = p.NewEVM(header, getHash, statedb, view, vm.Config{})
	// EIP-4788 (the header's beacon root, zero: Hemi has no beacon chain)
	// and EIP-2935 (the parent hash), as on Ethereum.
	core.PreExecution(context.Background(), header.ParentBeaconRoot, parent, p.config, ex.evm, header.Number, header.Time)
	return ex, nil
}

// systemTxs executes the block's system transactions. Their gas comes out
// of the block gas limit: the sum of their Gas must fit in it, and user
// transactions get what is left of the limit after the gas the system
// transactions actually used.
func (ex *executor) systemTxs(stxs []*block.SystemTx) error {
	var sum uint64
	for i, stx := range stxs {
		if err := stx.Validate(); err != nil {
			return fmt.Errorf("%w: system tx %d: %w", ErrBadSystemTxs, i, err)
		}
		sum += stx.Gas
		if sum > ex.header.GasLimit || sum < stx.Gas {
			return fmt.Errorf("%w: system transactions' gas exceeds the block gas limit %d", ErrBadSystemTxs, ex.header.GasLimit)
		}
	}
	for i, stx := range stxs {
		ex.systemTx(i, stx)
	}
	ex.gp = core.NewGasPool(ex.header.GasLimit - ex.sysGas)
	return nil
}

// systemTx executes one system transaction with ApplySystemTx and records
// its receipt and logs.
func (ex *executor) systemTx(i int, stx *block.SystemTx) {
	hash := stx.Hash()
	ex.statedb.SetTxContext(hash, len(ex.receipts), uint32(len(ex.receipts)+1))
	used, contract, err := ApplySystemTx(ex.evm, ex.rules, ex.header.Coinbase, stx)
	ex.statedb.Finalise(ex.rules)
	ex.sysGas += used
	r := &types.Receipt{
		Type:              block.SystemTxType,
		Status:            types.ReceiptStatusSuccessful,
		CumulativeGasUsed: ex.sysGas,
		TxHash:            hash,
		GasUsed:           used,
		EffectiveGasPrice: new(big.Int),
		BlockHash:         ex.blockHash,
		BlockNumber:       new(big.Int).Set(ex.header.Number),
		TransactionIndex:  uint(len(ex.receipts)),
	}
	if err != nil {
		r.Status = types.ReceiptStatusFailed
	}
	if stx.To == nil && err == nil {
		r.ContractAddress = contract
	}
	r.Logs = ex.statedb.GetLogs(hash, ex.header.Number.Uint64(), ex.blockHash, ex.header.Time)
	r.Bloom = types.CreateBloom(r)
	ex.receipts = append(ex.receipts, r)
	ex.logs = append(ex.logs, r.Logs...)
}

// ApplySystemTx executes one system transaction on evm (DESIGN 3.3): Mint
// is credited to From, From's nonce is used (CREATE) or incremented
// (call), then From calls To with Value and Data under Gas, at gas price
// zero, without intrinsic gas, signature, nonce, balance-for-fee or EOA
// checks and without refunds. A failing call (revert, out of gas, value
// From cannot pay) returns its error; the mint and the nonce stay. used is
// what the execution consumed, contract the created address. The block
// processor and tracing replays (internal/rpc) both execute system
// transactions through it; the caller sets the StateDB's transaction
// context before and finalises the state after.
func ApplySystemTx(evm *vm.EVM, rules params.Rules, coinbase common.Address, stx *block.SystemTx) (used uint64, contract common.Address, err error) {
	sdb := evm.StateDB
	value := new(uint256.Int)
	if stx.Value != nil {
		value.SetFromBig(stx.Value) // Validate bounded it to 256 bits
	}
	msg := &core.Message{
		From: stx.From, To: stx.To, Value: value, GasLimit: stx.Gas, Data: stx.Data,
		GasPrice: new(uint256.Int), GasFeeCap: new(uint256.Int), GasTipCap: new(uint256.Int),
	}
	evm.SetTxContext(core.NewEVMTxContext(msg))
	sdb.Prepare(rules, stx.From, coinbase, stx.To, vm.ActivePrecompiles(rules), nil)
	if stx.Mint != nil && stx.Mint.Sign() > 0 {
		mint, _ := uint256.FromBig(stx.Mint)
		sdb.AddBalance(stx.From, mint, tracing.BalanceChangeUnspecified)
	}
	budget := vm.NewGasBudget(stx.Gas, 0)
	var left vm.GasBudget
	if stx.To == nil {
		_, contract, left, err = evm.Create(stx.From, stx.Data, budget, value)
	} else {
		sdb.SetNonce(stx.From, sdb.GetNonce(stx.From)+1, tracing.NonceChangeEoACall)
		_, left, err = evm.Call(stx.From, *stx.To, stx.Data, budget, value)
	}
	return left.Used(budget), contract, err
}

// userTx applies one signed transaction. An error means the transaction
// cannot be in this block (nonce, funds, fee cap, gas limit reached...);
// the state and gas pool are then as before the call.
func (ex *executor) userTx(tx *types.Transaction) (*types.Receipt, error) {
	if err := genesis.CheckUserTxType(tx.Type()); err != nil {
		return nil, err
	}
	msg, err := core.TransactionToMessage(tx, ex.signer, ex.header.BaseFee)
	if err != nil {
		return nil, err
	}
	snap := ex.statedb.Snapshot()
	gp := *ex.gp
	ex.statedb.SetTxContext(tx.Hash(), len(ex.receipts), uint32(len(ex.receipts)+1))
	r, _, err := core.ApplyTransactionWithEVM(context.Background(), msg, ex.gp, ex.statedb, ex.header.Number, ex.blockHash, ex.header.Time, tx, ex.evm)
	if err != nil {
		ex.statedb.RevertToSnapshot(snap)
		*ex.gp = gp
		return nil, err
	}
	// The gas pool counts user transactions only; receipts count the
	// system transactions' gas too.
	r.CumulativeGasUsed += ex.sysGas
	if r.EffectiveGasPrice == nil {
		r.EffectiveGasPrice = msg.GasPrice.ToBig()
	}
	ex.receipts = append(ex.receipts, r)
	ex.logs = append(ex.logs, r.Logs...)
	return r, nil
}

// gasLeft is what a further user transaction may reserve.
func (ex *executor) gasLeft() uint64 { return ex.gp.Available(false) }

// finish checks the view and computes the roots.
func (ex *executor) finish() (*Result, error) {
	if ve, ok := ex.view.(viewErr); ok && ve != nil {
		if err := ve.Err(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrViewFailed, err)
		}
	}
	// EIP-7002 and EIP-7251 queues (Prague), as on Ethereum; withdrawals
	// are always empty.
	requests, _, err := core.PostExecution(context.Background(), ex.p.config, ex.header.Number, ex.header.Time, ex.logs, nil, ex.evm, uint32(len(ex.receipts)+1))
	if err != nil {
		return nil, fmt.Errorf("chain: post-execution system calls: %w", err)
	}
	var reqHash *common.Hash
	if requests != nil {
		h := types.CalcRequestsHash(requests)
		reqHash = &h
	}
	return &Result{
		RequestsHash: reqHash,
		Receipts:     ex.receipts,
		Logs:         ex.logs,
		GasUsed:      ex.sysGas + ex.gp.CumulativeUsed(),
		Bloom:        types.MergeBloom(ex.receipts),
		ReceiptRoot:  block.ReceiptRoot(ex.receipts),
		Root:         ex.statedb.IntermediateRoot(ex.rules),
	}, nil
}

// RecoverSenders recovers the senders of txs in parallel; types.Sender
// caches them in each transaction, so the execution that follows does
// not recover them again. Invalid signatures are left for the execution
// to report.
func RecoverSenders(signer types.Signer, txs []*types.Transaction) {
	recoverSenders(signer, txs, runtime.GOMAXPROCS(0), nil)
}
