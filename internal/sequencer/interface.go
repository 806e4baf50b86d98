package sequencer

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain"
)

// Chain is what the block producer asks of the L2 chain it extends;
// *chain.Chain implements it.
//
// Concurrency: called from the build loop only, concurrently with the
// chain's other readers and writers.
type Chain interface {
	// Head is the canonical head the next block builds on.
	Head() *types.Header
	// Rules are the chain's consensus rules (sequencer set, view rules).
	Rules() *chain.Rules
	// Config is the chain's configuration (the EVM chain config for the
	// base fee).
	Config() *chain.Config
	// NewBuilder opens the next block: its system transactions derived
	// and executed, then the given user transactions.
	NewBuilder(p chain.BuildParams) (*chain.Builder, error)
}

var _ Chain = (*chain.Chain)(nil)

// Pool is what the block producer asks of the mempool; *txpool.Pool
// implements it (asserted by the assembly, internal/node).
//
// Concurrency: called from the build loop while the RPC layer adds
// transactions; safe for that.
type Pool interface {
	// Pending returns the executable transactions per sender in nonce
	// order, each paying at least the pool's minimum tip at baseFee.
	Pending(baseFee *big.Int) map[common.Address][]*types.Transaction
	// PendingFrom is Pending without each sender's transactions below
	// next(sender) (a block built ahead of its tick).
	PendingFrom(baseFee *big.Int, next func(common.Address) uint64) map[common.Address][]*types.Transaction
	// Stats counts pending and queued transactions (metrics).
	Stats() (pending, queued int)
}

// Committer takes a sealed block from the block producer: today the
// assembly stores it in the chain (chain.CommitBuilt); with a raft group
// (DESIGN 9) it commits the block to the group first, so a sealed block
// that was never committed is never stored, served or gossiped. A
// block Commit refused is dropped and the producer builds the next one
// on the unchanged head.
//
// Concurrency: called from the build loop only, one block at a time.
type Committer interface {
	Commit(b *chain.Built) error
}

// CommitFunc adapts a function to Committer (today's committer is the
// chain's CommitBuilt).
type CommitFunc func(b *chain.Built) error

// Commit calls f(b).
func (f CommitFunc) Commit(b *chain.Built) error { return f(b) }
