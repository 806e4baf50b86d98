package indexadapt

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/chain/rules"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/pop"
)

// Chain is the Bitcoin index as the L2 chain asks for it (chain.Bitcoin,
// asserted in internal/node): the view rules' facts, execution views
// (View) and keystone publications. It imports nothing of the chain, so
// the chain's own tests build on it.
type Chain struct {
	ix   *index.Index
	fees *index.FeeEstimator // block fee statistics, cached per block
}

// NewChain adapts ix.
func NewChain(ix *index.Index) *Chain {
	return &Chain{ix: ix, fees: index.NewFeeEstimator(ix, 0, index.DefaultFeeSample)}
}

// notReady maps the index's "I do not have it (yet)" errors to
// ErrViewNotReady (rules.ErrViewNotReady, which chain.ErrViewNotReady is)
// and leaves real failures as they are.
func notReady(err error) error {
	if errors.Is(err, index.ErrUnknownBlock) || errors.Is(err, index.ErrNotIndexed) {
		return fmt.Errorf("%w: %w", rules.ErrViewNotReady, err)
	}
	return err
}

// ViewHeader returns the header, height and cumulative work of an indexed
// block.
func (b *Chain) ViewHeader(hash chainhash.Hash) (hvm.Header, *big.Int, error) {
	// HeaderByHash as of the block itself fails with ErrNotIndexed for a
	// header whose block is not indexed yet.
	hi, err := b.ix.HeaderByHash(hash, hash)
	if err != nil {
		return hvm.Header{}, nil, notReady(err)
	}
	return hvm.Header{Height: hi.Height, Hash: hi.Hash, Header: hi.Header}, hi.Work, nil
}

// Contains reports whether ancestor is in the chain of descendant.
func (b *Chain) Contains(ancestor, descendant chainhash.Hash) (bool, error) {
	_, err := b.ix.HeaderByHash(ancestor, descendant)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, index.ErrNotFound):
		return false, nil
	default:
		return false, notReady(err)
	}
}

// TipHeight returns the height of the index's connected chain.
func (b *Chain) TipHeight() int32 {
	_, h := b.ix.BlockTip()
	return h
}

// View pins a View to hash.
func (b *Chain) View(hash chainhash.Hash) (hvm.BitcoinView, error) {
	v, err := NewView(b.ix, hash)
	if err != nil {
		return nil, notReady(err)
	}
	return v, nil
}

// MainChainAt returns the connected chain's block at height (the block
// producer's view choice, sequencer.Bitcoin).
func (b *Chain) MainChainAt(height int32) (hvm.Header, error) {
	tip, _ := b.ix.BlockTip()
	hi, err := b.ix.HeaderByHeight(height, tip)
	if err != nil {
		if errors.Is(err, index.ErrNotFound) || errors.Is(err, index.ErrUnknownBlock) || errors.Is(err, index.ErrNotIndexed) {
			return hvm.Header{}, fmt.Errorf("%w: no connected block at height %d: %w", rules.ErrViewNotReady, height, err)
		}
		return hvm.Header{}, err
	}
	return hvm.Header{Height: hi.Height, Hash: hi.Hash, Header: hi.Header}, nil
}

// Publications reads keystone id's publications as of asOf from the
// index, without their publishers (Publisher).
func (b *Chain) Publications(id [32]byte, asOf chainhash.Hash) ([]pop.Publication, error) {
	pubs, err := b.ix.Publications(id, asOf)
	if err != nil {
		return nil, notReady(err)
	}
	out := make([]pop.Publication, 0, len(pubs))
	for _, p := range pubs {
		out = append(out, p.Publication)
	}
	return out, nil
}

// Publisher reads PoP transaction txid and the output its first input
// spends (both as of asOf; the spent output may be in the same block) to
// identify the publisher. A first input whose spent output the index does
// not hold (a coinbase, the genesis coinbase) has no publisher.
func (b *Chain) Publisher(txid, asOf chainhash.Hash) (*common.Address, error) {
	return b.publisher(txid, asOf)
}

// publisher identifies the publisher of PoP transaction txid as of asOf.
func (b *Chain) publisher(txid, asOf chainhash.Hash) (*common.Address, error) {
	ti, err := b.ix.TxByID(txid, asOf)
	if err != nil {
		return nil, fmt.Errorf("chain: pop tx %s: %w", txid, notReady(err))
	}
	if len(ti.Tx.TxIn) == 0 {
		return nil, nil
	}
	op := ti.Tx.TxIn[0].PreviousOutPoint
	if op.Index == wire.MaxPrevOutIndex && op.Hash == (chainhash.Hash{}) {
		return nil, nil // a coinbase
	}
	prev, err := b.ix.TxByID(op.Hash, asOf)
	switch {
	case errors.Is(err, index.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("chain: output %s spent by pop tx %s: %w", op, txid, notReady(err))
	case int(op.Index) >= len(prev.Tx.TxOut):
		return nil, nil
	}
	a, ok := pop.PublisherOf(ti.Tx, prev.Tx.TxOut[op.Index].PkScript)
	if !ok {
		return nil, nil
	}
	return &a, nil
}

// ScriptUnspent returns the first max unspent outputs paying script as
// of asOf, oldest first (index.UTXOs, one page).
func (b *Chain) ScriptUnspent(script []byte, max int, asOf chainhash.Hash) ([]rules.ScriptOutput, error) {
	if max <= 0 {
		return nil, nil
	}
	us, err := b.ix.UTXOs(script, 0, max, asOf)
	if err != nil {
		return nil, notReady(err)
	}
	res := make([]rules.ScriptOutput, len(us))
	for i, u := range us {
		res[i] = rules.ScriptOutput{OutPoint: u.Outpoint, Value: u.Value, Height: u.Height, TxPos: u.Index}
	}
	return res, nil
}

// ScriptBalance returns the sum of the unspent outputs paying script as
// of asOf (index.Balance).
func (b *Chain) ScriptBalance(script []byte, asOf chainhash.Hash) (int64, error) {
	v, err := b.ix.Balance(script, asOf)
	if err != nil {
		return 0, notReady(err)
	}
	return v, nil
}

// ScriptSpends returns the spends of outputs paying script in blocks
// fromHeight to toHeight as of asOf (index.SpendsIn).
func (b *Chain) ScriptSpends(script []byte, fromHeight, toHeight int32, asOf chainhash.Hash) ([]rules.ScriptOutput, error) {
	outs, err := b.ix.SpendsIn(script, fromHeight, toHeight, asOf)
	if err != nil {
		return nil, notReady(err)
	}
	res := make([]rules.ScriptOutput, len(outs))
	for i, o := range outs {
		res[i] = rules.ScriptOutput{OutPoint: o.Outpoint, Value: o.Value, Height: o.Height, TxPos: o.Index,
			Spent: true, SpendTxid: o.Spend.Txid, SpendHeight: o.Spend.Height}
	}
	return res, nil
}

// HeaderHashAt returns the hash of the block at height in the chain as
// of asOf; found is false above asOf.
func (b *Chain) HeaderHashAt(height int32, asOf chainhash.Hash) (chainhash.Hash, bool, error) {
	hi, err := b.ix.HeaderByHeight(height, asOf)
	switch {
	case errors.Is(err, index.ErrNotFound):
		return chainhash.Hash{}, false, nil
	case err != nil:
		return chainhash.Hash{}, false, notReady(err)
	}
	return hi.Hash, true, nil
}

// OutputsFrom returns the outputs paying script from a position in
// Bitcoin order (index.OutputsFrom), for the tunnel's deposit deriver.
func (b *Chain) OutputsFrom(script []byte, height int32, txPos, vout uint32, toHeight int32, max int, asOf chainhash.Hash) ([]rules.DepositOutput, error) {
	outs, err := b.ix.OutputsFrom(script, height, txPos, vout, toHeight, max, asOf)
	if err != nil {
		return nil, notReady(err)
	}
	res := make([]rules.DepositOutput, len(outs))
	for i, o := range outs {
		res[i] = rules.DepositOutput{OutPoint: o.Outpoint, Value: o.Value, Height: o.Height, TxPos: o.Index, Spent: o.Spent}
	}
	return res, nil
}

// ConfirmedTx reads transaction txid as of asOf.
func (b *Chain) ConfirmedTx(txid, asOf chainhash.Hash) (*wire.MsgTx, bool, error) {
	ti, err := b.ix.TxByID(txid, asOf)
	switch {
	case errors.Is(err, index.ErrNotFound):
		return nil, false, nil
	case err != nil:
		return nil, false, notReady(err)
	}
	return ti.Tx, true, nil
}

// BlockFeeRates returns the fee statistic (index.BlockFees.Median) of
// asOf and its ancestors, newest first, n blocks at most, the genesis
// excluded.
func (b *Chain) BlockFeeRates(asOf chainhash.Hash, n int) ([]int64, error) {
	hi, err := b.ix.HeaderByHash(asOf, asOf)
	if err != nil {
		return nil, notReady(err)
	}
	var out []int64
	for h := hi.Height; h > 0 && len(out) < n; h-- {
		at, err := b.ix.HeaderByHeight(h, asOf)
		if err != nil {
			return nil, notReady(err)
		}
		bf, err := b.fees.BlockFees(at.Hash)
		if err != nil {
			return nil, notReady(err)
		}
		out = append(out, bf.Median)
	}
	return out, nil
}

// TxAt reads transaction txid as of asOf with its block's height (the
// deposit status query).
func (b *Chain) TxAt(txid, asOf chainhash.Hash) (*wire.MsgTx, int32, bool, error) {
	ti, err := b.ix.TxByID(txid, asOf)
	switch {
	case errors.Is(err, index.ErrNotFound):
		return nil, 0, false, nil
	case err != nil:
		return nil, 0, false, notReady(err)
	}
	return ti.Tx, ti.Height, true, nil
}
