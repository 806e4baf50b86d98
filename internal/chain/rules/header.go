package rules

import (
	"fmt"
	"math/big"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus/misc"
	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/hemi-go/hemi/internal/chain/block"
)

// Rules are the consensus parameters header validation needs. They are
// pure data; the functions of this package do no I/O.
type Rules struct {
	Config     *params.ChainConfig
	Sequencers []common.Address // the keys that may seal blocks
	GasLimit   uint64           // every block's gas limit; 0: EIP-1559's bounded drift
	ViewLag    uint32           // a view must be at least this far below the Bitcoin tip
	MaxFuture  time.Duration    // how far a timestamp may be ahead of the clock
}

// isSequencer reports whether a may seal blocks.
func (r *Rules) isSequencer(a common.Address) bool {
	for _, s := range r.Sequencers {
		if s == a {
			return true
		}
	}
	return false
}

// Random is a block's PREVRANDAO (header MixDigest): the Bitcoin view's
// block hash, in internal byte order. An L2 with a single sequencer has
// no honest randomness; this value is at least fixed by Bitcoin's work
// and the same on every node.
func Random(view chainhash.Hash) common.Hash { return common.Hash(view) }

// ShapeHeader sets the optional header fields the active forks require,
// to the values an L2 without withdrawals, blobs, beacon roots or
// execution-layer requests has. BuildBlock uses it; ValidateHeader
// requires exactly this shape.
func ShapeHeader(cfg *params.ChainConfig, h *types.Header) {
	h.Difficulty = new(big.Int)
	h.UncleHash = types.EmptyUncleHash
	h.Nonce = types.BlockNonce{}
	h.WithdrawalsHash, h.BlobGasUsed, h.ExcessBlobGas, h.ParentBeaconRoot, h.RequestsHash = nil, nil, nil, nil, nil
	if cfg.IsShanghai(h.Number, h.Time) {
		w := types.EmptyWithdrawalsHash
		h.WithdrawalsHash = &w
	}
	if cfg.IsCancun(h.Number, h.Time) {
		var zero uint64
		z2 := zero
		h.BlobGasUsed, h.ExcessBlobGas = &zero, &z2
		root := common.Hash{}
		h.ParentBeaconRoot = &root
	}
	if cfg.IsPrague(h.Number, h.Time) {
		// The execution's requests hash replaces it (BuildBlock).
		r := types.EmptyRequestsHash
		h.RequestsHash = &r
	}
}

func EqualPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// ValidateHeader checks h against its parent and the rules, everything
// but execution and the Bitcoin view's relation to the index: number,
// timestamp, gas limit and use, base fee, the fork-dependent shape, the
// Extra record and the seal. It returns the decoded Extra.
func (r *Rules) ValidateHeader(parent, h *types.Header, now time.Time) (block.Extra, error) {
	if h.Number == nil || h.Difficulty == nil || h.BaseFee == nil || h.Number.Sign() <= 0 {
		return block.Extra{}, fmt.Errorf("%w: missing number, difficulty or base fee", ErrBadHeader)
	}
	if h.ParentHash != parent.Hash() {
		return block.Extra{}, fmt.Errorf("%w: parent hash %s, want %s", ErrUnknownParent, h.ParentHash, parent.Hash())
	}
	if want := new(big.Int).Add(parent.Number, common.Big1); h.Number.Cmp(want) != 0 {
		return block.Extra{}, fmt.Errorf("%w: %v after parent %v", ErrBadNumber, h.Number, parent.Number)
	}
	if h.Time <= parent.Time {
		return block.Extra{}, fmt.Errorf("%w: time %d not after the parent's %d", ErrBadTimestamp, h.Time, parent.Time)
	}
	if limit := now.Add(r.MaxFuture).Unix(); limit >= 0 && h.Time > uint64(limit) {
		return block.Extra{}, fmt.Errorf("%w: time %d, clock %d, max drift %s", ErrFutureBlock, h.Time, now.Unix(), r.MaxFuture)
	}
	if h.GasLimit > params.MaxGasLimit {
		return block.Extra{}, fmt.Errorf("%w: %d above the maximum %d", ErrBadGasLimit, h.GasLimit, params.MaxGasLimit)
	}
	if r.GasLimit != 0 && h.GasLimit != r.GasLimit {
		return block.Extra{}, fmt.Errorf("%w: %d, the chain's is %d", ErrBadGasLimit, h.GasLimit, r.GasLimit)
	}
	if err := misc.VerifyGaslimit(parent.GasLimit, h.GasLimit); err != nil {
		return block.Extra{}, fmt.Errorf("%w: %w", ErrBadGasLimit, err)
	}
	if h.GasUsed > h.GasLimit {
		return block.Extra{}, fmt.Errorf("%w: gas used %d above the limit %d", ErrGasUsed, h.GasUsed, h.GasLimit)
	}
	if want := eip1559.CalcBaseFee(r.Config, parent); h.BaseFee.Cmp(want) != 0 {
		return block.Extra{}, fmt.Errorf("%w: %v, want %v", ErrBadBaseFee, h.BaseFee, want)
	}
	shape := types.CopyHeader(h)
	ShapeHeader(r.Config, shape)
	if h.Difficulty.Sign() != 0 || h.UncleHash != shape.UncleHash || h.Nonce != shape.Nonce ||
		!EqualPtr(h.WithdrawalsHash, shape.WithdrawalsHash) || !EqualPtr(h.BlobGasUsed, shape.BlobGasUsed) ||
		!EqualPtr(h.ExcessBlobGas, shape.ExcessBlobGas) || !EqualPtr(h.ParentBeaconRoot, shape.ParentBeaconRoot) ||
		(h.RequestsHash == nil) != (shape.RequestsHash == nil) || h.SlotNumber != nil || h.BlockAccessListHash != nil {
		return block.Extra{}, fmt.Errorf("%w: fork-dependent fields do not have the required values", ErrBadHeader)
	}
	extra, err := block.DecodeExtra(h.Extra)
	if err != nil {
		return block.Extra{}, fmt.Errorf("%w: %w", ErrBadExtra, err)
	}
	if h.MixDigest != Random(extra.BitcoinHash) {
		return block.Extra{}, fmt.Errorf("%w: mix digest %s is not the Bitcoin view hash", ErrBadHeader, h.MixDigest)
	}
	signer, err := block.Signer(h)
	if err != nil {
		return block.Extra{}, fmt.Errorf("%w: %w", ErrBadSeal, err)
	}
	if !r.isSequencer(signer) {
		return block.Extra{}, fmt.Errorf("%w: sealed by %s, not a sequencer", ErrBadSeal, signer)
	}
	return extra, nil
}
