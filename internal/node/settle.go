package node

import (
	"context"
	"time"

	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/explorer/addrindex"
)

// DefaultHeadSettle is how long the node's readers of new heads that can
// wait (the address index, the vault watch; not finality, whose heads
// must move with Bitcoin blocks only) let a new head settle before they read it, at most a quarter of the
// block time (headSettle). The mempool is not one of them: a follower
// checks the transactions it forwards against it (nonce too low), so it
// must see a head's transactions as included at once.
//
// Why: every node of a network inserts a gossiped block at the same
// moment. `hemi bench net` (3 sequencers and 5 followers as processes on
// 2 cores) measured a follower's insertion at ~12-14 ms of CPU and ~45 ms
// of wall time, the rest waiting for the cores the other processes'
// insertions and these readers use; with the readers run after the
// insertions, propagation (the leader's commit to the head on each
// follower) loses their share of that wait. The readers still see every
// head in order, reorgs included (chain.SubscribeSettled); they only lag.
const DefaultHeadSettle = 200 * time.Millisecond

// headSettle is the settle time of a node with Config.HeadSettle d and
// blocks every blockTime: d when set (none when negative), else
// DefaultHeadSettle, at most a quarter of blockTime so the readers are
// done long before the next block.
func headSettle(d, blockTime time.Duration) time.Duration {
	switch {
	case d < 0:
		return 0
	case d > 0:
		return d
	case blockTime > 0:
		return min(DefaultHeadSettle, blockTime/4)
	}
	return DefaultHeadSettle
}

// settledChain is the chain as the readers of heads that can wait see
// it: Subscribe is the chain's SubscribeSettled.
type settledChain struct {
	*chain.Chain
	settle time.Duration
}

var (
	_ addrindex.Chain = settledChain{}
	_ vaultChain      = settledChain{}
)

// Subscribe delivers the canonical headers from from, each new head once
// it settled.
func (c settledChain) Subscribe(ctx context.Context, from uint64) <-chan *types.Header {
	return c.SubscribeSettled(ctx, from, c.settle)
}
