package rangesync

import (
	"errors"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hemi-go/hemi/internal/chain"
)

// Source is what the server reads (and `hemi export` writes out):
// canonical blocks by number and any stored block by hash.
// *chain.Chain implements it.
//
// Concurrency: called from one goroutine per open stream, concurrently
// with block insertion; it must be safe for that. Unknown blocks are
// errors wrapping chain.ErrNotFound.
type Source interface {
	Head() *types.Header
	BlockByNumber(number uint64) (*chain.Block, error)
	BlockByHash(hash common.Hash) (*chain.Block, error)
}

// Chain is what the client (and `hemi import`) needs of the local chain:
// where it stands, which blocks it has, the sequencer set a block's seal
// is checked against, and InsertChain. *chain.Chain implements it.
//
// Concurrency: InsertChain is called from one goroutine at a time; the
// other methods from any. Gossip may insert blocks at the same time.
type Chain interface {
	Genesis() *types.Header
	Head() *types.Header
	HeaderByHash(hash common.Hash) (*types.Header, error)
	// InsertChain inserts blocks in order, stopping at the first error:
	// it returns how many were inserted and blocks[n]'s error, a kind
	// wrapping chain.ErrInvalidBlock, chain.ErrViewNotReady (wait), or
	// a node failure.
	InsertChain(blocks []*chain.Block) (int, error)
	// Rules gives the sequencer set seals are checked against.
	Rules() *chain.Rules
}

var (
	_ Source = (*chain.Chain)(nil)
	_ Chain  = (*chain.Chain)(nil)
)

// Penalizer lowers a peer's standing; internal/netp2p implements it over
// its peer scores (and may disconnect a peer whose score falls too low).
// reason wraps one of ErrBadRequest, ErrJunk, ErrWrongChain, ErrNoAnswer
// (errors.Is), so the implementation can weigh them.
//
// Concurrency: called from many goroutines; it must not block for long.
type Penalizer interface {
	Penalize(p peer.ID, reason error)
}

// Reasons a peer is penalised.
var (
	// ErrBadRequest: the peer sent a request that does not decode or
	// validate (a range above MaxRequestBlocks included).
	ErrBadRequest = errors.New("rangesync: bad request")
	// ErrJunk: the answer does not decode, or a block is not sealed by
	// a sequencer of the set, its transactions do not match its header,
	// or its number or parent link is not the one asked for.
	ErrJunk = errors.New("rangesync: junk answer")
	// ErrWrongChain: the blocks are well formed but do not chain onto
	// the blocks already imported, or the chain rejected one as invalid.
	ErrWrongChain = errors.New("rangesync: wrong chain")
	// ErrNoAnswer: the peer answered nothing, or not in time, for
	// blocks it was asked for as a peer at or above the target.
	ErrNoAnswer = errors.New("rangesync: no answer")
)

// nopPenalizer is the Penalizer of a Config without one.
type nopPenalizer struct{}

func (nopPenalizer) Penalize(peer.ID, error) {}
