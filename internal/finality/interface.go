package finality

import (
	"context"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/pop"
)

// Bitcoin is what the service asks of the Bitcoin index; *index.Index
// implements it.
//
// Concurrency: called from the service's goroutines and query paths at
// once; must be safe for that.
type Bitcoin interface {
	// Subscribe delivers the index's connected/disconnected events from
	// seq fromSeq on, in order, until ctx is done.
	Subscribe(ctx context.Context, fromSeq uint64) <-chan index.Event
	// SeqAfter is the event sequence number just after the newest
	// connection of hash (0 for the genesis).
	SeqAfter(hash chainhash.Hash) (uint64, error)
	// Block is a stored block, connected or not.
	Block(hash chainhash.Hash) (*wire.MsgBlock, error)
	// BlockTip is the connected tip.
	BlockTip() (chainhash.Hash, int32)
	// HeaderByHeight is the block at height as of asOf (zero: the tip).
	HeaderByHeight(height int32, asOf chainhash.Hash) (index.HeaderInfo, error)
}

var _ Bitcoin = (*index.Index)(nil)

// Chain is what the service asks of the L2 chain; *chain.Chain implements
// it. Errors for unknown blocks wrap chain.ErrNotFound.
//
// Concurrency: the chain calls Prefer with its writer lock held, so the
// service never calls the chain while holding its own lock, and never
// calls a writing method from Prefer.
type Chain interface {
	Config() *chain.Config
	Head() *types.Header
	HeaderByNumber(number uint64) (*types.Header, error)
	HeaderByHash(hash common.Hash) (*types.Header, error)
	// KeystoneAt is the canonical keystone at number.
	KeystoneAt(number uint64) (*pop.L2Keystone, error)
	// KeystoneByID and KeystoneByHash find stored keystones, canonical or
	// not.
	KeystoneByID(id [32]byte) (*pop.L2Keystone, error)
	KeystoneByHash(hash common.Hash) (*pop.L2Keystone, error)
	// CoveringKeystone is the number of the first keystone at or after
	// number.
	CoveringKeystone(number uint64) uint64
	// Subscribe delivers canonical headers from number from, then every
	// new head.
	Subscribe(ctx context.Context, from uint64) <-chan *types.Header
	// Reconsider runs fork choice again over the side branches (after
	// publications changed); it reports whether the head switched.
	Reconsider() (reorged bool, err error)
}

var _ Chain = (*chain.Chain)(nil)

var _ chain.ForkChoice = (*Service)(nil)
