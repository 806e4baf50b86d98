package chain

import (
	"math/big"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/chain/rules"
	"github.com/hemi-go/hemi/internal/finality/tracker"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/pop"
)

// Bitcoin is what the chain asks of the Bitcoin index: the facts the
// view rules need, a pinned view for execution and the keystone
// publications PoP rewards are paid for. The assembly adapts
// internal/btc/index to it (internal/node/indexadapt.Chain).
//
// Concurrency: methods are called from InsertBlock, BuildBlock and query
// paths concurrently and must be safe for that.
type Bitcoin interface {
	// ViewHeader describes block hash: height, cumulative work and the
	// header. A block the index has not indexed (unknown, header only, or
	// a side fork never connected) is an error wrapping ErrViewNotReady.
	ViewHeader(hash chainhash.Hash) (hvm.Header, *big.Int, error)

	// Contains reports whether ancestor is descendant or one of its
	// ancestors. Both must be indexed.
	Contains(ancestor, descendant chainhash.Hash) (bool, error)

	// TipHeight is the height of the index's connected (most-work,
	// indexed) chain.
	TipHeight() int32

	// View pins a BitcoinView to hash for executing a block. The view's
	// failures (hvm invariant 3) must be reported through an
	// Err() error method on the returned value, as indexadapt.View does.
	View(hash chainhash.Hash) (hvm.BitcoinView, error)

	// Publications returns the outputs publishing keystone id in the
	// chain as of block asOf (asOf and its ancestors only, even if asOf
	// has since left the best chain), in Bitcoin order, with Publisher
	// nil: finding it reads transactions, which Publisher does for the
	// few that matter. No publication is an empty result, not an error;
	// an asOf that is not indexed is an error wrapping ErrViewNotReady.
	Publications(id [32]byte, asOf chainhash.Hash) ([]pop.Publication, error)

	// Publisher identifies who published PoP transaction txid, confirmed
	// as of asOf: pop.PublisherOf over the transaction and the output its
	// first input spends (both as of asOf). nil when it cannot be
	// identified; errors as for Publications.
	Publisher(txid, asOf chainhash.Hash) (*common.Address, error)

	// WithdrawalBitcoin: the vault's outputs and their spends as of a
	// block, for the tunnel's withdrawal derivers.
	rules.WithdrawalBitcoin

	// DepositBitcoin: the vault's outputs from a cursor, transactions and
	// block fee statistics as of a block, for the tunnel's deposit and
	// fee-rate derivers.
	rules.DepositBitcoin
}

// viewErr is the optional failure report of a BitcoinView (indexadapt.View).
type viewErr interface{ Err() error }

// ForkChoice decides between the canonical branch and a competing one by
// Proof-of-Proof (DESIGN 4); internal/finality implements it. The chain
// asks it when a block arrives that does not extend the head, and when
// Reconsider is called (after Bitcoin publications changed).
//
// Concurrency: called with the chain's writer lock held; it must not call
// back into the chain's writing methods. Safe for concurrent use.
type ForkChoice interface {
	// Prefer reports whether the candidate branch should replace the
	// current one. current and candidate are the keystones of each
	// branch above their common ancestor, in height order (either may be
	// empty). It must refuse (false) when a block of the current branch
	// above the common ancestor is superfinal, that is when current[0]
	// is superfinal: a node never reorganises below a superfinal block.
	Prefer(current, candidate []tracker.KeystoneRef) bool
}
