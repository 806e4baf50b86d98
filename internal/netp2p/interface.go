package netp2p

import (
	"context"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hemi-go/hemi/internal/chain"
)

// Chain is what the service asks of the L2 chain (*chain.Chain).
//
// Concurrency: called from the validator (concurrently, read-only
// methods), the import loop (InsertBlock, one at a time) and the
// publisher; *chain.Chain is safe for that.
type Chain interface {
	// Head is the canonical head.
	Head() *types.Header
	// HeaderByHash returns a stored header, on any branch.
	HeaderByHash(hash common.Hash) (*types.Header, error)
	// BlockByHash returns a stored block.
	BlockByHash(hash common.Hash) (*chain.Block, error)
	// Recent returns a block among the newest stored, from memory (ok
	// false otherwise): the publisher takes a new head from it rather
	// than reading and decoding it back from the database.
	Recent(hash common.Hash) (b *chain.Block, receipts types.Receipts, ok bool)
	// Prepare starts, in the background, the work of inserting a block
	// that needs no earlier block's result (its senders, the accounts
	// they touch); it returns at once and judges nothing. The validator
	// calls it for every block it accepts, so that work overlaps the
	// forwarding and the wait for the import loop.
	Prepare(b *chain.Block)
	// InsertBlock validates, executes and stores a block (chain's error
	// kinds: ErrInvalidBlock kinds, ErrViewNotReady, ErrUnknownParent).
	InsertBlock(b *chain.Block) error
	// Subscribe delivers canonical headers from number from on, in order.
	Subscribe(ctx context.Context, from uint64) <-chan *types.Header
}

// Finalizer gives the newest superfinal block's number
// (*finality.Service): gossiped blocks at or below it are refused.
type Finalizer interface {
	Finalized() uint64
}

// BitcoinHeaders gives the Bitcoin index's best header (*index.Index):
// a block whose Bitcoin view the index does not know yet is retried
// until the best header is ViewGrace blocks above the view's height.
type BitcoinHeaders interface {
	BestHeader() (chainhash.Hash, int32)
}

// Syncer catches the chain up to a block that gossip cannot connect (its
// parent is unknown, or it is more than MaxAhead above the head). Range
// sync (internal/netp2p/rangesync, issue 10 item 4) implements it over
// Service.Host.
//
// Contract: SyncTo fetches the blocks up to and including (number, hash)
// from peer from (and any other peers it likes) and inserts them into the
// chain, then returns; it returns ctx's error when ctx ends. The service
// calls it from one goroutine at a time (never concurrently) and retries
// the gossiped blocks it holds once it returns.
type Syncer interface {
	SyncTo(ctx context.Context, from peer.ID, number uint64, hash common.Hash) error
}

var _ Chain = (*chain.Chain)(nil)
