package txpool

import (
	"context"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain"
)

// Chain is what the mempool asks of the L2 chain (through poolChain, the
// chain as go-ethereum's pool sees it); *chain.Chain implements it
// (asserted by the assembly, internal/node).
//
// Concurrency: called from the pool's reset goroutine and from Add
// concurrently with block production.
type Chain interface {
	// Config is the chain's configuration (its EVM chain config).
	Config() *chain.Config
	// Head is the canonical head.
	Head() *types.Header
	// BlockByHash is a stored block (to re-inject reorged-out
	// transactions).
	BlockByHash(hash common.Hash) (*chain.Block, error)
	// StateAt opens the state with root.
	StateAt(root common.Hash) (*state.StateDB, error)
	// Subscribe delivers canonical headers from number from, then every
	// new head, until ctx is done.
	Subscribe(ctx context.Context, from uint64) <-chan *types.Header
}
