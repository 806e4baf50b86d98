package ha

import (
	"context"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain"
)

// Chain is what a member asks of its own L2 chain; *chain.Chain
// implements it.
//
// Concurrency: InsertBlock and CommitBuilt are called from raft's FSM
// goroutine only (one block at a time, in log order); Head and
// HeaderByHash from the leadership loop and the status server at the
// same time.
type Chain interface {
	// Head is the canonical head.
	Head() *types.Header
	// HeaderByHash is a stored header (canonical or not), or an error
	// wrapping chain.ErrNotFound.
	HeaderByHash(hash common.Hash) (*types.Header, error)
	// InsertBlock validates, executes and stores a committed block a
	// follower receives from the log.
	InsertBlock(b *chain.Block) error
	// CommitBuilt stores the leader's own block, already executed when it
	// was built, once the group committed it.
	CommitBuilt(b *chain.Built) error
}

var _ Chain = (*chain.Chain)(nil)

// Bitcoin is how far the member's Bitcoin layer is: its index's block
// height and the best height its Bitcoin peers announce (the node
// implements it from tbc). Leadership needs Index >= Announced -
// Config.MaxBitcoinLag; an hour without a Bitcoin block is normal, so
// it is never judged by the clock.
//
// Concurrency: called from the leadership loop and the status server.
type Bitcoin interface {
	// SyncHeights returns the index's block height, the best block
	// height its peers announced (or that it learned from them), and how
	// many peers it has: with none it cannot know the tip, and the
	// member is not caught up.
	SyncHeights() (index, announced int32, peers int)
}

// Producer is the block producer the group runs while this member leads
// and is caught up (*sequencer.Sequencer). Run blocks until ctx is done
// and then returns nil; an error ends the group's Run. It hands every
// sealed block to Group.Commit (its sequencer.Committer).
type Producer interface {
	Run(ctx context.Context) error
}

// Publisher is told of each block this member sealed as soon as the
// group committed it, before the member stores it (*netp2p.Service):
// DESIGN 9 lets a committed block be gossiped, so followers start
// validating and executing it while the leader still writes it.
//
// Concurrency: PublishCommitted is called from raft's FSM goroutine,
// one block at a time in log order, and must not block (it hands the
// block to the publisher's own goroutine).
type Publisher interface {
	PublishCommitted(b *chain.Block)
}
