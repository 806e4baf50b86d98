package chain

import (
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain/block"
)

// lazyFlush holds the state roots of the head blocks whose trie nodes
// are in the trie database's memory only (Config.FlushAfter), oldest
// first, and the timer that flushes them. Guarded by Chain.mu.
type lazyFlush struct {
	roots []common.Hash
	timer *time.Timer
	// err is a flush that failed in the background (a disk failure):
	// every later insertion returns it, so the node stops taking blocks
	// it could not keep.
	err error
}

// add records root as waiting and starts the flush timer when none
// runs. c.mu is held.
func (l *lazyFlush) add(c *Chain, root common.Hash) {
	l.roots = append(l.roots, root)
	if l.timer != nil {
		return
	}
	l.timer = time.AfterFunc(c.cfg.FlushAfter, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.lazy.timer = nil
		if c.closed.Load() {
			return
		}
		if err := c.flushLazy(); err != nil {
			c.lazy.err = err
			c.log.Error("state flush failed; the chain takes no more blocks", "err", err)
		}
	})
}

// failed is the error of a background flush that failed, if any. c.mu
// is held.
func (l *lazyFlush) failed() error { return l.err }

// stop stops the timer (Close, after flushLazy). c.mu is held.
func (l *lazyFlush) stop() {
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
}

// flushLazy flushes the trie nodes of every waiting head block, oldest
// first (each root's nodes once: a later root's shared nodes are on disk
// already). c.mu is held.
func (c *Chain) flushLazy() error {
	for len(c.lazy.roots) > 0 {
		if err := c.tdb.Commit(c.lazy.roots[0], false); err != nil {
			return fmt.Errorf("chain: flush state %s: %w", c.lazy.roots[0], err)
		}
		c.lazy.roots = c.lazy.roots[1:]
	}
	c.lazy.roots = nil
	return nil
}

// reexecuteToHead restores the state of head when the process stopped
// before its trie nodes were flushed (Config.FlushAfter): it walks the
// canonical chain back to the newest block whose state is on disk, then
// executes each stored block above it again, checks the state root
// against its header, and flushes it. Called by open, before the chain
// is used. Every block it executes passed every check when it was
// inserted, and every node derives the same state from the same block
// (Invariant 4), so this is a replay, not a judgement.
func (c *Chain) reexecuteToHead(head *types.Header) error {
	start := time.Now()
	var todo []*types.Header // newest first
	h := head
	for {
		if _, err := state.New(h.Root, c.sdb); err == nil {
			break
		}
		n := h.Number.Uint64()
		if n == 0 {
			return fmt.Errorf("the genesis state is missing")
		}
		todo = append(todo, h)
		p := rawdb.ReadHeader(c.db, h.ParentHash, n-1)
		if p == nil {
			return fmt.Errorf("parent %s of block %d: %w", h.ParentHash, n, ErrNotFound)
		}
		h = p
	}
	c.log.Warn("the newest blocks' state was not on disk (stopped before a lazy flush); executing them again",
		"from", h.Number.Uint64()+1, "to", head.Number)
	parent := h
	for i := len(todo) - 1; i >= 0; i-- {
		h := todo[i]
		if err := c.reexecute(parent, h); err != nil {
			return err
		}
		parent = h
	}
	c.reexecuted = len(todo)
	c.log.Info("state restored", "blocks", len(todo), "head", head.Number, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// reexecute executes the stored block h on parent's state and flushes
// the result, which must be h's state root.
func (c *Chain) reexecute(parent, h *types.Header) error {
	hash := h.Hash()
	body, err := readBody(c.db, hash, h.Number.Uint64())
	if err != nil {
		return err
	}
	e, err := block.DecodeExtra(h.Extra)
	if err != nil {
		return fmt.Errorf("block %d extra: %w: %w", h.Number, ErrCorrupt, err)
	}
	view, err := c.cfg.Bitcoin.View(e.BitcoinHash)
	if err != nil {
		return fmt.Errorf("block %d view %s: %w", h.Number, e.BitcoinHash, err)
	}
	statedb, err := state.New(parent.Root, c.sdb)
	if err != nil {
		return fmt.Errorf("state of block %d: %w", parent.Number, err)
	}
	res, err := c.proc.Process(parent, h, hash, statedb, body.SystemTxs, body.Txs, view, c.getHashFn(parent))
	if err != nil {
		return fmt.Errorf("block %d: %w", h.Number, err)
	}
	if res.Root != h.Root {
		return fmt.Errorf("block %d executed to state root %s, header %s: %w", h.Number, res.Root, h.Root, ErrCorrupt)
	}
	return c.flushState(h, statedb)
}
