package index

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/pop"
)

// Fee estimation defaults.
const (
	// DefaultFeeWindow is how many recent blocks the estimate looks at.
	DefaultFeeWindow = 12
	// DefaultFeeSample caps the transactions measured per block: their
	// input values need one transaction lookup per input.
	DefaultFeeSample = 64
	// MinFeeRate is the floor of every estimate (sat/vB), the default
	// minimum relay fee of Bitcoin Core and btcd.
	MinFeeRate   = 1
	feeCacheSize = 256
)

// BlockFees are the fee-rate statistics of one block.
type BlockFees struct {
	Hash   chainhash.Hash
	Height int32
	// Txs counts the block's transactions besides the coinbase and PoP
	// publications; Sampled how many of them were measured (evenly
	// spaced, at most the sample cap). PoP transactions are left out so
	// publications do not price themselves: on a quiet chain (devnet)
	// they would be the only transactions, and every fee bump would
	// raise the estimate for good.
	Txs, Sampled int
	// Median is the vsize-weighted median fee rate (sat/vB, rounded to
	// the nearest whole number) of the sampled transactions: half of the
	// measured block space paid about this. 0 for a block without
	// transactions: its space was free. Rounding up instead would feed
	// back: a transaction paying a whole rate on a size estimate one
	// byte above its real size pays a hair more per byte, and the next
	// estimate would be one sat/vB higher, and so on.
	Median int64
}

// FeeEstimator computes fee rates from what recent blocks of the index
// paid. Statistics are cached per block hash (a block never changes). It
// is safe for concurrent use.
type FeeEstimator struct {
	ix             *Index
	window, sample int

	mu    sync.Mutex
	cache map[chainhash.Hash]BlockFees
	order []chainhash.Hash // insertion order, for eviction
}

// NewFeeEstimator returns an estimator over ix looking at window blocks
// and measuring at most sample transactions per block (<= 0: defaults).
func NewFeeEstimator(ix *Index, window, sample int) *FeeEstimator {
	if window <= 0 {
		window = DefaultFeeWindow
	}
	if sample <= 0 {
		sample = DefaultFeeSample
	}
	return &FeeEstimator{ix: ix, window: window, sample: sample, cache: make(map[chainhash.Hash]BlockFees)}
}

// Window returns how many blocks the estimate looks at.
func (f *FeeEstimator) Window() int { return f.window }

// Estimate returns the fee rate (sat/vB) for confirmation within target
// blocks, as of the block tip: the medians of the last Window blocks,
// sorted from highest to lowest, and the target-th of them (the last one
// for a target beyond the window); at least MinFeeRate. So a target of 1
// pays what the most expensive recent block's median paid, and a target
// of half the window pays the median of block medians. It also returns
// the tip the estimate is as of.
func (f *FeeEstimator) Estimate(target int) (int64, chainhash.Hash, error) {
	if target < 1 {
		return 0, chainhash.Hash{}, fmt.Errorf("fee estimate: target %d: want at least 1 block", target)
	}
	tip, height := f.ix.BlockTip()
	var medians []int64
	for h := height; h > 0 && height-h < int32(f.window); h-- {
		hi, err := f.ix.HeaderByHeight(h, tip)
		if err != nil {
			return 0, tip, fmt.Errorf("fee estimate: %w", err)
		}
		bf, err := f.BlockFees(hi.Hash)
		if err != nil {
			return 0, tip, err
		}
		medians = append(medians, bf.Median)
	}
	if len(medians) == 0 {
		return MinFeeRate, tip, nil
	}
	slices.Sort(medians)
	slices.Reverse(medians)
	return max(medians[min(target, len(medians))-1], MinFeeRate), tip, nil
}

// BlockFees returns the statistics of a stored, indexed block.
func (f *FeeEstimator) BlockFees(hash chainhash.Hash) (BlockFees, error) {
	f.mu.Lock()
	bf, ok := f.cache[hash]
	f.mu.Unlock()
	if ok {
		return bf, nil
	}
	bf, err := f.compute(hash)
	if err != nil {
		return bf, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.cache[hash]; !ok {
		if len(f.order) >= feeCacheSize {
			delete(f.cache, f.order[0])
			f.order = f.order[1:]
		}
		f.cache[hash] = bf
		f.order = append(f.order, hash)
	}
	return bf, nil
}

type feeSample struct {
	rate  float64 // sat/vB
	vsize int64
}

func (f *FeeEstimator) compute(hash chainhash.Hash) (BlockFees, error) {
	hi, err := f.ix.Header(hash)
	if err != nil {
		return BlockFees{}, err
	}
	msg, err := f.ix.Block(hash)
	if err != nil {
		return BlockFees{}, err
	}
	bf := BlockFees{Hash: hash, Height: hi.Height}
	var txs []*wire.MsgTx
	for _, tx := range msg.Transactions[min(1, len(msg.Transactions)):] {
		if !isPoP(tx) {
			txs = append(txs, tx)
		}
	}
	bf.Txs = len(txs)
	if bf.Txs == 0 {
		return bf, nil
	}
	step := max(1, (bf.Txs+f.sample-1)/f.sample)
	var samples []feeSample
	for i := 0; i < len(txs); i += step {
		tx := txs[i]
		var in int64
		ok := true
		for _, txin := range tx.TxIn {
			prev, err := f.ix.TxByID(txin.PreviousOutPoint.Hash, hash)
			if errors.Is(err, ErrNotFound) || (err == nil && int(txin.PreviousOutPoint.Index) >= len(prev.Tx.TxOut)) {
				ok = false // not in the index's chain (or corrupt): skip the tx
				break
			}
			if err != nil {
				return BlockFees{}, fmt.Errorf("fee stats of block %s: %w", hash, err)
			}
			in += prev.Tx.TxOut[txin.PreviousOutPoint.Index].Value
		}
		if !ok {
			continue
		}
		var out int64
		for _, o := range tx.TxOut {
			out += o.Value
		}
		w := blockchain.GetTransactionWeight(btcutil.NewTx(tx))
		vsize := (w + blockchain.WitnessScaleFactor - 1) / blockchain.WitnessScaleFactor
		if vsize <= 0 || in < out {
			continue
		}
		samples = append(samples, feeSample{rate: float64(in-out) / float64(vsize), vsize: vsize})
	}
	bf.Sampled = len(samples)
	bf.Median = weightedMedian(samples)
	return bf, nil
}

// isPoP reports whether tx publishes a keystone.
func isPoP(tx *wire.MsgTx) bool {
	for _, o := range tx.TxOut {
		if _, err := pop.ParseScript(o.PkScript); err == nil {
			return true
		}
	}
	return false
}

// weightedMedian is the rate at which half the sampled vsize is reached,
// going from the lowest rate up; rounded to the nearest whole sat/vB.
func weightedMedian(s []feeSample) int64 {
	if len(s) == 0 {
		return 0
	}
	slices.SortFunc(s, func(a, b feeSample) int {
		switch {
		case a.rate < b.rate:
			return -1
		case a.rate > b.rate:
			return 1
		}
		return 0
	})
	var total, acc int64
	for _, x := range s {
		total += x.vsize
	}
	for _, x := range s {
		acc += x.vsize
		if 2*acc >= total {
			return int64(math.Round(x.rate))
		}
	}
	return 0
}
