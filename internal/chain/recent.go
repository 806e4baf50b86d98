package chain

import (
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// recentBlocks is how many stored blocks Recent remembers: enough for a
// follower of the chain (the explorer's address index) that lags a few
// blocks behind an import, small enough to cost little memory (the
// blocks are those the importer already holds).
const recentBlocks = 32

// recent remembers the newest stored blocks exactly as they were
// executed: their transactions carry the senders recovered for the
// execution, so a follower reading them does not recover them again (a
// block of 5,000 transfers costs ~100 ms of signature recovery).
type recent struct {
	mu    sync.Mutex
	ring  [recentBlocks]recentBlock
	next  int
	index map[common.Hash]int
}

type recentBlock struct {
	b        *Block
	receipts types.Receipts
}

func (r *recent) add(b *Block, receipts types.Receipts) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.index == nil {
		r.index = make(map[common.Hash]int, recentBlocks)
	}
	if old := r.ring[r.next].b; old != nil {
		delete(r.index, old.Hash())
	}
	r.ring[r.next] = recentBlock{b: b, receipts: receipts}
	r.index[b.Hash()] = r.next
	r.next = (r.next + 1) % recentBlocks
}

func (r *recent) get(hash common.Hash) (*Block, types.Receipts, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, ok := r.index[hash]
	if !ok {
		return nil, nil, false
	}
	return r.ring[i].b, r.ring[i].receipts, true
}

// Recent returns block hash and its receipts if it is one of the newest
// blocks stored (any branch), as they were executed: the transactions'
// senders are cached in them. The caller must not modify them. ok is
// false for an older block: read it with BlockByHash and Receipts.
func (c *Chain) Recent(hash common.Hash) (b *Block, receipts types.Receipts, ok bool) {
	return c.recent.get(hash)
}
