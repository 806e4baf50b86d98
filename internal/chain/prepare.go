package chain

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
)

// maxPrepared bounds the blocks Prepare keeps work for; the oldest is
// dropped first (a dropped block is inserted exactly as an unprepared
// one). Gossip accepts at most MaxPerHeight blocks a height, and blocks
// are inserted about as fast as they arrive, so a few heights suffice.
const maxPrepared = 16

// prepared is the background work Prepare started for one block.
type prepared struct {
	block *Block
	done  chan struct{} // closed once the senders are recovered and their accounts read
	halt  atomic.Bool   // tells the workers to stop (the block was dropped or inserted)
	// root and reader: the parent's state root and a reader of it that
	// shares the cache the workers filled (nil: the parent's state was
	// not there when Prepare ran). Set by the work before done closes.
	root   common.Hash
	reader state.Reader
}

// prepareSet holds the prepared blocks by hash.
type prepareSet struct {
	mu     sync.Mutex
	closed bool
	byKey  map[common.Hash]*prepared
	order  []common.Hash // oldest first
	wg     sync.WaitGroup
}

// readersWithCache is what state.MPTDatabase offers (go-ethereum's own
// block import uses it the same way): two readers of one state sharing
// one cache, so what one reads the other finds.
type readersWithCache interface {
	ReadersWithCacheStats(root common.Hash) (state.Reader, state.Reader, error)
}

// Prepare starts, in the background, the part of InsertBlock(b) that
// needs no lock and no result of an earlier block: recovering the
// senders of b's transactions on every core and, as each sender is
// known, reading its account and the recipient's from the parent's
// state into a cache that b's execution then reads. It returns at once.
// The gossip validator calls it for a block it accepts, so this work
// overlaps the message's forwarding, the wait for the import loop and
// the checks before execution (DESIGN 9; it was a third of a follower's
// CPU for a block of transfers and ran before execution could start).
//
// Prepare judges nothing: a block that turns out invalid wastes the
// work and nothing else (types.Sender only caches what the signature
// says). A block never inserted is forgotten after maxPrepared newer
// ones. Safe for concurrent use; calling it twice for a block, or for a
// block without transactions, does nothing.
func (c *Chain) Prepare(b *Block) {
	if b == nil || b.Header == nil || b.Header.Number == nil || b.Body == nil || len(b.Body.Txs) == 0 || c.closed.Load() {
		return
	}
	hash := b.Hash()
	p := &prepared{block: b, done: make(chan struct{})}
	c.prep.mu.Lock()
	if c.prep.closed {
		c.prep.mu.Unlock()
		return
	}
	if c.prep.byKey == nil {
		c.prep.byKey = map[common.Hash]*prepared{}
	}
	if _, ok := c.prep.byKey[hash]; ok {
		c.prep.mu.Unlock()
		return
	}
	if len(c.prep.order) == maxPrepared {
		old := c.prep.order[0]
		c.prep.order = c.prep.order[1:]
		if op := c.prep.byKey[old]; op != nil {
			op.halt.Store(true)
		}
		delete(c.prep.byKey, old)
	}
	c.prep.byKey[hash] = p
	c.prep.order = append(c.prep.order, hash)
	c.prep.wg.Add(1)
	c.prep.mu.Unlock()

	signer := c.txSigner(b.Header)
	go func() {
		defer c.prep.wg.Done()
		defer close(p.done)
		// The parent is almost always the head (read from memory); any
		// other stored parent is read from the database. An unknown
		// parent gets its senders recovered only. Done here, not before
		// returning: the caller is the gossip validator, which delivers
		// the block only when it returns.
		var read state.Reader
		parent := c.headRef()
		if parent.Hash() != b.Header.ParentHash {
			parent, _ = readHeader(c.db, b.Header.ParentHash)
		}
		if rw, ok := c.sdb.(readersWithCache); ok && parent != nil {
			if pf, proc, err := rw.ReadersWithCacheStats(parent.Root); err == nil {
				read, p.root, p.reader = pf, parent.Root, proc
			}
		}
		warm := func(tx *types.Transaction, from common.Address) {
			if read == nil {
				return
			}
			// Errors are left to the execution, which reads again.
			_, _ = read.Account(from)
			if to := tx.To(); to != nil {
				_, _ = read.Account(*to)
			}
		}
		recoverSendersThen(signer, b.Body.Txs, runtime.GOMAXPROCS(0), &p.halt, warm)
	}()
}

// takePrepared removes and returns b's prepared work, waiting until it
// is done; nil when Prepare did not run for b (or dropped it), or ran
// for another body under the same header hash (a junk body: its work
// is of no use). c.mu is held.
func (c *Chain) takePrepared(b *Block, hash common.Hash) *prepared {
	c.prep.mu.Lock()
	p := c.prep.byKey[hash]
	if p != nil {
		delete(c.prep.byKey, hash)
		for i, k := range c.prep.order {
			if k == hash {
				c.prep.order = append(c.prep.order[:i], c.prep.order[i+1:]...)
				break
			}
		}
	}
	c.prep.mu.Unlock()
	if p == nil {
		return nil
	}
	if p.block.Body != b.Body {
		p.halt.Store(true)
		return nil
	}
	<-p.done
	return p
}

// recoverSendersThen is recoverSenders calling then (when not nil)
// with each transaction whose sender it recovered, on the same worker.
func recoverSendersThen(signer types.Signer, txs []*types.Transaction, workers int, halt *atomic.Bool, then func(*types.Transaction, common.Address)) {
	one := func(part []*types.Transaction) {
		for _, tx := range part {
			if halt != nil && halt.Load() {
				return
			}
			from, err := types.Sender(signer, tx)
			if err == nil && then != nil {
				then(tx, from)
			}
		}
	}
	workers = min(workers, (len(txs)+63)/64)
	if workers <= 1 {
		one(txs)
		return
	}
	var wg sync.WaitGroup
	chunk := (len(txs) + workers - 1) / workers
	for start := 0; start < len(txs); start += chunk {
		part := txs[start:min(start+chunk, len(txs))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			one(part)
		}()
	}
	wg.Wait()
}

// stopPrepared halts the background work and waits for it (Close: the
// workers read the state database).
func (c *Chain) stopPrepared() {
	c.prep.mu.Lock()
	c.prep.closed = true
	for _, p := range c.prep.byKey {
		p.halt.Store(true)
	}
	clear(c.prep.byKey)
	c.prep.order = nil
	c.prep.mu.Unlock()
	c.prep.wg.Wait()
}
