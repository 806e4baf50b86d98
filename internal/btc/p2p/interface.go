package p2p

import (
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/hemi-go/hemi/internal/btc/index"
)

// Errors a Chain returns to classify what a peer sent. The client bans a
// peer whose data wraps ErrInvalid; ErrUnconnected only makes it ask again
// with a fresh locator. They are the index's kinds (the lower package owns
// them, so the index imports nothing of this client).
var (
	ErrInvalid     = index.ErrInvalid
	ErrUnconnected = index.ErrUnconnected
)

// Chain is the header chain and block store the client feeds. It is
// implemented by the Bitcoin index (internal/btc/index). All methods are safe
// for concurrent use; AcceptBlock may be called from several download
// goroutines at once, with blocks in any order.
type Chain interface {
	// Locator returns a block locator (newest first, ending at genesis) for
	// the best known header chain.
	Locator() []chainhash.Hash

	// AcceptHeaders checks each header (PoW against its target, the
	// difficulty retarget rules, median-time-past, checkpoints) against its
	// stored parent and stores the valid ones atomically. It returns how
	// many were new and whether the best header chain changed. A header
	// that fails a check gives an error wrapping ErrInvalid and nothing of
	// the batch is stored; a first header whose parent is unknown gives
	// ErrUnconnected.
	AcceptHeaders(hdrs []wire.BlockHeader) (added int, bestChanged bool, err error)

	// BestHeader returns the tip of the most-work header chain.
	BestHeader() (chainhash.Hash, int32)

	// NeedBlocks returns up to max hashes, in height order, of blocks on
	// the best header chain that have no stored block data yet, starting
	// just above the block tip.
	NeedBlocks(max int) []chainhash.Hash

	// AcceptBlock checks the block against its stored header (hash, merkle
	// root, witness commitment) and stores it; blocks are connected to the
	// index in height order as soon as they are contiguous. An unknown or
	// mismatching block gives an error wrapping ErrInvalid and writes
	// nothing.
	AcceptBlock(b *wire.MsgBlock) error

	// BlockTip returns the tip of the indexed (connected) block chain.
	BlockTip() (chainhash.Hash, int32)
}
