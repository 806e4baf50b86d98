package chaintest

import (
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/rules"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/pop"
)

// Bitcoin is a linear Bitcoin chain of synthetic headers at heights 0
// to len(Headers)-1, each block's work 1. It is immutable after
// NewBitcoin, so it is safe for concurrent use as chain.Bitcoin
// requires.
type Bitcoin struct {
	// Headers are the blocks by height; tests pick views from them.
	Headers []hvm.Header
	byHash  map[chainhash.Hash]int
}

var _ chain.Bitcoin = (*Bitcoin)(nil)

// errNoTransactions: the synthetic chain has none to identify a
// publisher by.
var errNoTransactions = errors.New("chaintest: the synthetic Bitcoin chain has no transactions")

// NewBitcoin builds n headers (regtest bits, ten minutes apart from
// 2020-09-13, distinct merkle roots) linked by hash.
func NewBitcoin(n int) *Bitcoin {
	f := &Bitcoin{byHash: make(map[chainhash.Hash]int, n)}
	var prev chainhash.Hash
	for i := range n {
		h := wire.BlockHeader{Version: 4, PrevBlock: prev, Timestamp: time.Unix(1_600_000_000+int64(i)*600, 0),
			Bits: 0x207fffff, Nonce: uint32(i)}
		h.MerkleRoot[0] = byte(i)
		hash := h.BlockHash()
		f.Headers = append(f.Headers, hvm.Header{Height: int32(i), Hash: hash, Header: h})
		f.byHash[hash] = i
		prev = hash
	}
	return f
}

// ViewHeader is chain.Bitcoin's: an unknown block wraps
// chain.ErrViewNotReady.
func (f *Bitcoin) ViewHeader(hash chainhash.Hash) (hvm.Header, *big.Int, error) {
	i, ok := f.byHash[hash]
	if !ok {
		return hvm.Header{}, nil, fmt.Errorf("block %s: %w", hash, chain.ErrViewNotReady)
	}
	return f.Headers[i], big.NewInt(int64(i + 1)), nil
}

// Contains is chain.Bitcoin's: on a linear chain, height order.
func (f *Bitcoin) Contains(ancestor, descendant chainhash.Hash) (bool, error) {
	a, ok1 := f.byHash[ancestor]
	d, ok2 := f.byHash[descendant]
	if !ok1 || !ok2 {
		return false, fmt.Errorf("chaintest: block %s or %s is not in the chain", ancestor, descendant)
	}
	return a <= d, nil
}

// TipHeight is the last header's height.
func (f *Bitcoin) TipHeight() int32 { return int32(len(f.Headers) - 1) }

// BlockTip is the last header (the explorer's and the RPC's Bitcoin tip).
func (f *Bitcoin) BlockTip() (chainhash.Hash, int32) {
	t := f.Headers[len(f.Headers)-1]
	return t.Hash, t.Height
}

// View pins an hVM view at hash: its headers, and no transactions.
func (f *Bitcoin) View(hash chainhash.Hash) (hvm.BitcoinView, error) {
	i, ok := f.byHash[hash]
	if !ok {
		return nil, fmt.Errorf("block %s: %w", hash, chain.ErrViewNotReady)
	}
	return &view{f: f, tip: i}, nil
}

// Publications: none, as of any known block.
func (f *Bitcoin) Publications(_ [32]byte, asOf chainhash.Hash) ([]pop.Publication, error) {
	if _, ok := f.byHash[asOf]; !ok {
		return nil, fmt.Errorf("block %s: %w", asOf, chain.ErrViewNotReady)
	}
	return nil, nil
}

// Publisher: there is no transaction to read.
func (f *Bitcoin) Publisher(chainhash.Hash, chainhash.Hash) (*common.Address, error) {
	return nil, errNoTransactions
}

// OutputsFrom, ConfirmedTx, BlockFeeRates and the Script reads are the
// tunnel's reads: no outputs, no transactions and no fees.
func (f *Bitcoin) OutputsFrom([]byte, int32, uint32, uint32, int32, int, chainhash.Hash) ([]rules.DepositOutput, error) {
	return nil, nil
}

// ConfirmedTx: no transaction is confirmed.
func (f *Bitcoin) ConfirmedTx(chainhash.Hash, chainhash.Hash) (*wire.MsgTx, bool, error) {
	return nil, false, nil
}

// BlockFeeRates: no fee statistics (the floor applies).
func (f *Bitcoin) BlockFeeRates(chainhash.Hash, int) ([]int64, error) { return nil, nil }

// ScriptUnspent, ScriptBalance, ScriptSpends: no outputs pay any script.
func (f *Bitcoin) ScriptUnspent([]byte, int, chainhash.Hash) ([]rules.ScriptOutput, error) {
	return nil, nil
}

func (f *Bitcoin) ScriptBalance([]byte, chainhash.Hash) (int64, error) { return 0, nil }

func (f *Bitcoin) ScriptSpends([]byte, int32, int32, chainhash.Hash) ([]rules.ScriptOutput, error) {
	return nil, nil
}

// HeaderHashAt is the hash at height on the one chain, found up to asOf.
func (f *Bitcoin) HeaderHashAt(height int32, asOf chainhash.Hash) (chainhash.Hash, bool, error) {
	i, ok := f.byHash[asOf]
	if !ok {
		return chainhash.Hash{}, false, fmt.Errorf("block %s: %w", asOf, chain.ErrViewNotReady)
	}
	if height < 0 || int(height) > i {
		return chainhash.Hash{}, false, nil
	}
	return f.Headers[height].Hash, true, nil
}

// view is Bitcoin as of one of its blocks.
type view struct {
	f   *Bitcoin
	tip int
}

var _ hvm.BitcoinView = (*view)(nil)

func (v *view) Tip() hvm.Header { return v.f.Headers[v.tip] }

func (v *view) HeaderByHeight(h int32) (hvm.Header, error) {
	if h < 0 || int(h) > v.tip {
		return hvm.Header{}, hvm.ErrNotFound
	}
	return v.f.Headers[h], nil
}

func (v *view) Tx(chainhash.Hash) (hvm.Tx, error)          { return hvm.Tx{}, hvm.ErrNotFound }
func (v *view) Spent(wire.OutPoint) (bool, error)          { return false, nil }
func (v *view) Balance([]byte) (int64, error)              { return 0, nil }
func (v *view) UTXOs([]byte, int, int) ([]hvm.UTXO, error) { return nil, nil }

// Err is the view's failure report (chain.Bitcoin.View's contract):
// the synthetic chain never fails.
func (v *view) Err() error { return nil }
