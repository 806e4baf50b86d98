package chain

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/rules"
	"github.com/hemi-go/hemi/internal/hvm"
)

// BuildParams is what the sequencer chooses for a new block.
type BuildParams struct {
	// Parent is the block to build on (normally the head).
	Parent *types.Header
	// Time is the new block's timestamp (> Parent.Time).
	Time uint64
	// View is the Bitcoin block the new block executes against; its
	// height goes into the header. The caller checks it with
	// Rules.CheckIndexedView (BuildBlock does too).
	View hvm.Header
	// Coinbase receives the priority fees.
	Coinbase common.Address
	// GasLimit of the new block; 0 keeps the parent's.
	GasLimit uint64
	// Txs are candidate user transactions in the order they should be
	// tried (nonce order per sender, then by tip, is the pool's job).
	Txs []*types.Transaction
}

// Skipped is a candidate transaction left out of a built block.
type Skipped struct {
	Tx  *types.Transaction
	Err error
}

// Built is an executed, unsealed block. Seal its header with block.Seal,
// then CommitBuilt (or hand the sealed block to InsertBlock elsewhere).
type Built struct {
	Block    *Block
	Receipts types.Receipts
	Result   *Result
	// Skipped lists candidates that were not included: invalid now (nonce
	// too low, insufficient funds, fee cap below the base fee, bad
	// signature, ...) or not fitting in the gas left.
	Skipped []Skipped

	statedb *state.StateDB
	view    hvm.BitcoinView
}

// BuildBlock executes a new block on p.Parent: the derived system
// transactions, then as many candidates as are valid and fit, in order.
// A candidate that fails validity is skipped (reported in Skipped), as is
// one whose gas limit does not fit in what is left. The returned header
// has every field but the seal. It is NewBuilder(p), then Finish.
func (c *Chain) BuildBlock(p BuildParams) (*Built, error) {
	b, err := c.NewBuilder(p)
	if err != nil {
		return nil, err
	}
	return b.Finish()
}

// Builder is a block being built on a parent: NewBuilder executes the
// system transactions and BuildParams.Txs, each Add executes more user
// transactions after those, and Finish computes the roots and returns
// the Built block. The result is the block BuildBlock would build from
// all the transactions given, in the order given. A Builder is used by
// one goroutine; Discard releases one that will not be finished.
type Builder struct {
	h        *types.Header
	stxs     []*block.SystemTx
	ex       *executor
	statedb  *state.StateDB
	view     hvm.BitcoinView
	included []*types.Transaction
	skipped  []Skipped
	full     bool
	done     bool
}

// NewBuilder starts a block on p.Parent (see BuildBlock) and executes
// p.Txs.
func (c *Chain) NewBuilder(p BuildParams) (*Builder, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	parent := p.Parent
	if parent == nil {
		return nil, errors.New("chain: BuildBlock: nil parent")
	}
	if p.Time <= parent.Time {
		return nil, fmt.Errorf("%w: time %d not after the parent's %d", ErrBadTimestamp, p.Time, parent.Time)
	}
	extra := block.Extra{BitcoinHeight: uint32(p.View.Height), BitcoinHash: p.View.Hash}
	pe, err := parentView(parent)
	if err != nil {
		return nil, err
	}
	vh, err := c.rules.CheckIndexedView(c.cfg.Bitcoin, pe, extra)
	if err != nil {
		return nil, err
	}
	view, err := c.cfg.Bitcoin.View(vh.Hash)
	if err != nil {
		return nil, err
	}
	gasLimit := p.GasLimit
	if gasLimit == 0 {
		gasLimit = parent.GasLimit
	}
	enc, err := extra.Encode()
	if err != nil {
		return nil, err
	}
	h := &types.Header{
		ParentHash: parent.Hash(),
		Coinbase:   p.Coinbase,
		Number:     new(big.Int).Add(parent.Number, common.Big1),
		GasLimit:   gasLimit,
		Time:       p.Time,
		Extra:      enc,
		MixDigest:  rules.Random(vh.Hash),
		BaseFee:    eip1559.CalcBaseFee(c.cfg.ChainConfig, parent),
	}
	rules.ShapeHeader(c.cfg.ChainConfig, h)
	stxs, err := c.deriveSystemTxs(parent, vh)
	if err != nil {
		return nil, err
	}
	statedb, err := state.New(parent.Root, c.sdb)
	if err != nil {
		return nil, fmt.Errorf("chain: state of parent %d: %w", parent.Number, err)
	}
	ex, err := c.proc.newExecutor(parent, h, common.Hash{}, statedb, view, c.getHashFn(parent))
	if err != nil {
		return nil, err
	}
	if err := ex.systemTxs(stxs); err != nil {
		ex.evm.Release()
		return nil, err
	}
	b := &Builder{h: h, stxs: stxs, ex: ex, statedb: statedb, view: view}
	b.Add(p.Txs)
	return b, nil
}

// Header is the header of the block being built (roots and gas unset
// until Finish). Do not modify it.
func (b *Builder) Header() *types.Header { return b.h }

// Nonce is addr's nonce after the transactions executed so far.
func (b *Builder) Nonce(addr common.Address) uint64 { return b.statedb.GetNonce(addr) }

// Len is the number of user transactions included so far.
func (b *Builder) Len() int { return len(b.included) }

// Full reports whether the gas left cannot fit another transaction.
func (b *Builder) Full() bool { return b.full }

// Add executes txs after those included so far, in order, skipping the
// invalid ones and those that do not fit (see BuildBlock). It returns
// the transactions it skipped.
func (b *Builder) Add(txs []*types.Transaction) []Skipped {
	if b.done || len(txs) == 0 {
		return nil
	}
	ex := b.ex
	RecoverSenders(ex.signer, txs)
	first := len(b.skipped)
	for i, tx := range txs {
		if b.full {
			for _, rest := range txs[i:] {
				b.skipped = append(b.skipped, Skipped{Tx: rest, Err: core.ErrGasLimitReached})
			}
			break
		}
		if left := ex.gasLeft(); tx.Gas() > left {
			b.skipped = append(b.skipped, Skipped{Tx: tx, Err: fmt.Errorf("%w: tx gas %d, left %d", core.ErrGasLimitReached, tx.Gas(), left)})
			continue
		}
		if _, err := ex.userTx(tx); err != nil {
			b.skipped = append(b.skipped, Skipped{Tx: tx, Err: err})
			continue
		}
		b.included = append(b.included, tx)
		b.full = ex.gasLeft() < params.TxGas
	}
	return b.skipped[first:]
}

// Finish computes the block's roots and returns it, unsealed. The
// Builder cannot be used after.
func (b *Builder) Finish() (*Built, error) {
	if b.done {
		return nil, errors.New("chain: Builder: already finished or discarded")
	}
	b.done = true
	defer b.ex.evm.Release()
	// The transactions root does not depend on the execution's roots:
	// hash it on another core meanwhile (a block of 20,000 transfers
	// takes about 20 ms of each).
	body := &block.Body{SystemTxs: b.stxs, Txs: b.included}
	txRoot := make(chan common.Hash, 1)
	go func() { txRoot <- block.TxRoot(body) }()
	res, err := b.ex.finish()
	h := b.h
	h.TxHash = <-txRoot
	if err != nil {
		return nil, err
	}
	h.ReceiptHash = res.ReceiptRoot
	h.Bloom = res.Bloom
	h.GasUsed = res.GasUsed
	h.Root = res.Root
	h.RequestsHash = res.RequestsHash
	return &Built{Block: &Block{Header: h, Body: body}, Receipts: res.Receipts, Result: res,
		Skipped: b.skipped, statedb: b.statedb, view: b.view}, nil
}

// Discard releases a Builder that will not be finished.
func (b *Builder) Discard() {
	if !b.done {
		b.done = true
		b.ex.evm.Release()
	}
}

// CommitBuilt stores a block this node built and then sealed, without
// executing it again: it checks that the block still extends the head,
// that the header (seal included) is valid, that its Bitcoin view still
// passes the view rules (Rules.CheckIndexedView: the index may have moved since
// NewBuilder checked them, and a block built ahead is committed up to a
// block time later), and that the header still carries the built roots,
// then commits the built state. A view the rules no longer accept is an
// error wrapping ErrViewNotReady or ErrBadView, as InsertBlock would
// return for the block: discard the Built and build again. A Built is
// committed at most once.
func (c *Chain) CommitBuilt(b *Built) error {
	if b == nil || b.statedb == nil {
		return errors.New("chain: CommitBuilt: not a built block, or already committed")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return ErrClosed
	}
	h := b.Block.Header
	head := c.headRef()
	if h.ParentHash != head.Hash() {
		return fmt.Errorf("%w: built on %s, head is %d %s", ErrNotHead, h.ParentHash, head.Number, head.Hash())
	}
	extra, err := c.rules.ValidateHeader(head, h, c.clock.Now())
	if err != nil {
		return err
	}
	pe, err := parentView(head)
	if err != nil {
		return err
	}
	if _, err := c.rules.CheckIndexedView(c.cfg.Bitcoin, pe, extra); err != nil {
		return fmt.Errorf("chain: CommitBuilt: the view no longer passes the view rules: %w", err)
	}
	r := b.Result
	if h.Root != r.Root || h.ReceiptHash != r.ReceiptRoot || h.GasUsed != r.GasUsed || h.Bloom != r.Bloom || !rules.EqualPtr(h.RequestsHash, r.RequestsHash) || h.TxHash != block.TxRoot(b.Block.Body) {
		return fmt.Errorf("%w: the header no longer matches the built execution", ErrBadHeader)
	}
	// Receipts and logs were made before the hash was known.
	hash := h.Hash()
	for _, rc := range b.Receipts {
		rc.BlockHash = hash
		for _, l := range rc.Logs {
			l.BlockHash = hash
		}
	}
	statedb := b.statedb
	b.statedb = nil
	if err := c.flushState(h, statedb); err != nil {
		return err
	}
	return c.store(b.Block, b.Receipts)
}
