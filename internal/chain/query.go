package chain

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/hvm"
)

// Head returns the head header (a copy the caller may keep).
func (c *Chain) Head() *types.Header {
	return types.CopyHeader(c.headRef())
}

// headRef is the head header itself, which nobody modifies.
func (c *Chain) headRef() *types.Header {
	c.headMu.RLock()
	defer c.headMu.RUnlock()
	return c.head
}

// Genesis returns the genesis header.
func (c *Chain) Genesis() *types.Header { return types.CopyHeader(c.gen) }

// HeaderByHash returns any stored header.
func (c *Chain) HeaderByHash(hash common.Hash) (*types.Header, error) {
	return readHeader(c.db, hash)
}

// HeaderByNumber returns the canonical header at number.
func (c *Chain) HeaderByNumber(number uint64) (*types.Header, error) {
	if head := c.headRef(); number > head.Number.Uint64() {
		return nil, fmt.Errorf("block %d above the head %d: %w", number, head.Number, ErrNotFound)
	}
	hash := rawdb.ReadCanonicalHash(c.db, number)
	if hash == (common.Hash{}) {
		return nil, fmt.Errorf("block %d: %w", number, ErrNotFound)
	}
	return readHeader(c.db, hash)
}

// BlockByHash returns a stored block.
func (c *Chain) BlockByHash(hash common.Hash) (*Block, error) {
	h, err := readHeader(c.db, hash)
	if err != nil {
		return nil, err
	}
	body, err := readBody(c.db, hash, h.Number.Uint64())
	if err != nil {
		return nil, err
	}
	return &Block{Header: h, Body: body}, nil
}

// BlockByNumber returns the canonical block at number.
func (c *Chain) BlockByNumber(number uint64) (*Block, error) {
	h, err := c.HeaderByNumber(number)
	if err != nil {
		return nil, err
	}
	body, err := readBody(c.db, h.Hash(), number)
	if err != nil {
		return nil, err
	}
	return &Block{Header: h, Body: body}, nil
}

// Receipts returns the receipts of block hash, in block order (system
// transactions first), with every derived field filled.
func (c *Chain) Receipts(hash common.Hash) (types.Receipts, error) {
	b, err := c.BlockByHash(hash)
	if err != nil {
		return nil, err
	}
	return readReceipts(c.db, b.Header, b.Body)
}

// StateAt opens the state with root (every block's state is kept).
func (c *Chain) StateAt(root common.Hash) (*state.StateDB, error) {
	s, err := state.New(root, c.sdb)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w: %w", root, ErrNotFound, err)
	}
	return s, nil
}

// ViewOf pins the Bitcoin view of block h, for eth_call, gas estimation
// and tracing against that block (nil for a genesis without one).
func (c *Chain) ViewOf(h *types.Header) (hvm.BitcoinView, error) {
	e, err := parentView(h)
	if err != nil || e == nil {
		return nil, err
	}
	return c.cfg.Bitcoin.View(e.BitcoinHash)
}

// GetHashFn answers BLOCKHASH for a block (or call) on parent.
func (c *Chain) GetHashFn(parent *types.Header) GetHashFunc { return c.getHashFn(parent) }

// Subscribe delivers the canonical headers from number from (inclusive)
// to the head, then every new head, in order and without gaps. A slow
// reader only lags: headers are read from the database as it catches
// up. The channel closes when ctx is done or the chain closes.
//
// Reorgs: when the canonical chain switches branch, Subscribe
// re-delivers from the first block that changed (the fork point's child)
// up to the new head, also at numbers it delivered before. A reader
// detects the switch because that header's ParentHash is not the hash of
// the header it got before; SubscribeReorgs names the blocks that left.
func (c *Chain) Subscribe(ctx context.Context, from uint64) <-chan *types.Header {
	return c.subscribe(ctx, from, 0)
}

// SubscribeSettled is Subscribe for work that can wait: after each new
// head it waits settle before reading and delivering the heads up to
// the chain's head at that moment, so the heads that came meanwhile
// (a catch-up) arrive in one go and a reorg within settle is seen
// already settled. The heads up to the head at the call are delivered
// at once. Order, gaps and reorgs are as Subscribe's; the reader lags at
// most settle plus its own time.
//
// Why: a node inserts a gossiped block at the same moment as every other
// node of the network, which on a shared machine (`hemi bench net`: 8
// node processes on 2 cores) makes each insertion's wall time several
// times its CPU time; readers that index or watch heads (the address
// index, the vault watch, finality's keystone list)
// then compete with the insertions still running. Settled, they run
// after them.
func (c *Chain) SubscribeSettled(ctx context.Context, from uint64, settle time.Duration) <-chan *types.Header {
	return c.subscribe(ctx, from, settle)
}

// subscribe is Subscribe, waiting settle after each wake.
func (c *Chain) subscribe(ctx context.Context, from uint64, settle time.Duration) <-chan *types.Header {
	out := make(chan *types.Header, 16)
	go func() {
		defer close(out)
		next := from
		var last *types.Header // the last header delivered, or from's parent
		if from > 0 {
			last, _ = c.HeaderByNumber(from - 1)
		}
		for {
			c.headMu.RLock()
			head, wake := c.head, c.headCh
			c.headMu.RUnlock()
			if c.closed.Load() {
				return
			}
			if last != nil && rawdb.ReadCanonicalHash(c.db, last.Number.Uint64()) != last.Hash() {
				fork, err := c.canonicalAncestor(last)
				if err != nil {
					c.log.Warn("subscription stopped", "number", last.Number, "err", err)
					return
				}
				last, next = fork, fork.Number.Uint64()+1
			}
			for ; next <= head.Number.Uint64(); next++ {
				h, err := c.HeaderByNumber(next)
				if errors.Is(err, ErrNotFound) || (err == nil && last != nil && h.ParentHash != last.Hash()) {
					// A reorg's batch landed between the reads; its new
					// head (which closes wake) follows, then the check
					// above rewinds.
					break
				}
				if err != nil {
					c.log.Warn("subscription stopped", "number", next, "err", err)
					return
				}
				select {
				case out <- h:
					last = h
				case <-ctx.Done():
					return
				}
			}
			select {
			case <-wake:
			case <-ctx.Done():
				return
			}
			if settle > 0 {
				t := time.NewTimer(settle)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return
				}
			}
		}
	}()
	return out
}

// canonicalAncestor walks h's branch back to its newest canonical block.
func (c *Chain) canonicalAncestor(h *types.Header) (*types.Header, error) {
	for rawdb.ReadCanonicalHash(c.db, h.Number.Uint64()) != h.Hash() {
		n := h.Number.Uint64()
		if n == 0 {
			return nil, fmt.Errorf("block %s descends from another genesis: %w", h.Hash(), ErrCorrupt)
		}
		p := rawdb.ReadHeader(c.db, h.ParentHash, n-1)
		if p == nil {
			return nil, fmt.Errorf("parent %s of block %d: %w", h.ParentHash, n, ErrCorrupt)
		}
		h = p
	}
	return h, nil
}
