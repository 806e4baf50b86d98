package chain

import (
	"math/big"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/hemi-go/hemi/internal/hvm"
)

// Bitcoin is what the chain asks of the Bitcoin index: the facts the
// view rules need and a pinned view for execution. IndexBitcoin adapts
// internal/btc/index.
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
	// Err() error method on the returned value, as hvm.IndexView does.
	View(hash chainhash.Hash) (hvm.BitcoinView, error)
}

// Clock tells the time, for the "not too far in the future" rule.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// viewErr is the optional failure report of a BitcoinView (hvm.IndexView).
type viewErr interface{ Err() error }
