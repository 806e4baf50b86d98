package chain

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethdb"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/finality/tracker"
)

// DefaultMaxReorgDepth is Config.MaxReorgDepth's default: about 5.5 hours
// of 2-second blocks, far more than the L2 blocks that pass while a
// keystone becomes superfinal (10 Bitcoin blocks), so only a broken fork
// choice or a branch forked before every superfinal block reaches it.
const DefaultMaxReorgDepth = 10_000

// Reorg is a switch of the canonical chain from one branch to another.
type Reorg struct {
	// Fork is the common ancestor of both branches.
	Fork *types.Header
	// Old are the blocks that left the canonical chain, New those that
	// joined it, each from Fork's child up to its tip.
	Old, New []*types.Header
}

// Finalizer is what a ForkChoice may also implement (internal/finality
// does): the number of the newest superfinal canonical block. When it
// does, the chain refuses by itself any reorg that would remove a block
// at or below that number, whatever Prefer answered, and logs the
// refusal at Error: fork choice broke its contract (DESIGN 4: a node
// never reorganises below a superfinal block). A Finalizer that lags a
// reorg (its number still about the previous branch) can only make the
// chain stay; the next Reconsider asks again.
type Finalizer interface {
	Finalized() uint64
}

// maxReorgEvents bounds the reorgs kept for SubscribeReorgs readers.
const maxReorgEvents = 1024

// SetForkChoice installs the fork choice after New, for callers whose
// fork choice needs the chain first (internal/finality). It may be called
// once, and only when Config.ForkChoice is nil, before blocks arrive.
func (c *Chain) SetForkChoice(fc ForkChoice) error {
	if fc == nil {
		return errors.New("chain: SetForkChoice: nil fork choice")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fc != nil {
		return errors.New("chain: SetForkChoice: a fork choice is already set")
	}
	c.fc = fc
	return nil
}

// reorgPlan is a decided switch to the branch ending at tip.
type reorgPlan struct {
	fork     *types.Header
	old, new []*types.Header // ascending, from fork's child
}

// planReorg asks fork choice whether the branch ending at tip, a block
// that is not canonical (stored, or verified and about to be stored),
// should replace the canonical branch. nil: stay. c.mu is held.
//
// The walk from tip back to the canonical chain stops MaxReorgDepth
// blocks below the head: a branch forking deeper is never asked about,
// whatever fork choice would say (the chain's own guard against a broken
// fork choice; a correct one refuses far earlier, at the first
// superfinal block).
func (c *Chain) planReorg(tip *types.Header) (*reorgPlan, error) {
	if c.fc == nil {
		return nil, nil
	}
	head := c.headRef()
	headN := head.Number.Uint64()
	var branch []*types.Header // from tip down
	h := tip
	for {
		n := h.Number.Uint64()
		if n <= headN && rawdb.ReadCanonicalHash(c.db, n) == h.Hash() {
			break
		}
		if n == 0 {
			return nil, fmt.Errorf("chain: branch of %s reaches another genesis: %w", tip.Hash(), ErrCorrupt)
		}
		if n+c.cfg.MaxReorgDepth <= headN {
			// Debug: Reconsider meets old side tips on every call.
			c.log.Debug("side branch forks more than MaxReorgDepth below the head; not considered",
				"tip", tip.Number, "hash", tip.Hash(), "head", headN, "max_depth", c.cfg.MaxReorgDepth)
			return nil, nil
		}
		branch = append(branch, h)
		p := rawdb.ReadHeader(c.db, h.ParentHash, n-1)
		if p == nil {
			return nil, fmt.Errorf("chain: parent %s of side block %d: %w", h.ParentHash, n, ErrCorrupt)
		}
		h = p
	}
	slices.Reverse(branch)
	plan := &reorgPlan{fork: h, new: branch}
	for n := h.Number.Uint64() + 1; n <= headN; n++ {
		ch, err := readHeader(c.db, rawdb.ReadCanonicalHash(c.db, n))
		if err != nil {
			return nil, fmt.Errorf("chain: canonical block %d: %w: %w", n, ErrCorrupt, err)
		}
		plan.old = append(plan.old, ch)
	}
	current, err := c.keystoneRefs(plan.old)
	if err != nil {
		return nil, err
	}
	candidate, err := c.keystoneRefs(plan.new)
	if err != nil {
		return nil, err
	}
	if !c.fc.Prefer(current, candidate) {
		return nil, nil
	}
	if fin, ok := c.fc.(Finalizer); ok {
		if f := fin.Finalized(); f > h.Number.Uint64() {
			c.log.Error("fork choice preferred a branch forking below the superfinal block; refused",
				"fork", h.Number, "finalized", f, "tip", tip.Number, "hash", tip.Hash())
			return nil, nil
		}
	}
	return plan, nil
}

// keystoneRefs lists the keystones among hs (one branch, ascending).
func (c *Chain) keystoneRefs(hs []*types.Header) ([]tracker.KeystoneRef, error) {
	var out []tracker.KeystoneRef
	for _, h := range hs {
		if !c.IsKeystone(h.Number.Uint64()) {
			continue
		}
		k, err := c.keystoneFor(h)
		if err != nil {
			return nil, err
		}
		out = append(out, tracker.KeystoneRef{Number: k.Number, ID: k.ID})
	}
	return out, nil
}

// writeReorg puts the switch to plan's branch into w (the batch that may
// also store b, the new branch's tip, not yet in the database): canonical
// hashes and tx lookups of the new branch, removal of canonical hashes
// above its tip, the old head as a side tip, the head pointers.
func (c *Chain) writeReorg(w ethdb.KeyValueWriter, plan *reorgPlan, b *Block) error {
	for _, h := range plan.new {
		hash, n := h.Hash(), h.Number.Uint64()
		var body *block.Body
		if b != nil && b.Hash() == hash {
			body = b.Body // not stored yet: in the same batch
		} else {
			bd, err := readBody(c.db, hash, n)
			if err != nil {
				return fmt.Errorf("chain: body of side block %d: %w", n, err)
			}
			body = bd
		}
		if err := writeTxLookups(w, n, hash, body); err != nil {
			return err
		}
		rawdb.WriteCanonicalHash(w, hash, n)
	}
	tip := plan.new[len(plan.new)-1]
	oldHead := c.headRef()
	for n := tip.Number.Uint64() + 1; n <= oldHead.Number.Uint64(); n++ {
		rawdb.DeleteCanonicalHash(w, n)
	}
	if err := w.Put(hashKey(prefixSideTip, oldHead.Hash()), numberValue(oldHead.Number.Uint64())); err != nil {
		return err
	}
	if err := w.Delete(hashKey(prefixSideTip, tip.Hash())); err != nil {
		return err
	}
	rawdb.WriteHeadHeaderHash(w, tip.Hash())
	rawdb.WriteHeadBlockHash(w, tip.Hash())
	return nil
}

// applyReorg moves the in-memory head after plan's batch is written and
// records the reorg for SubscribeReorgs.
func (c *Chain) applyReorg(plan *reorgPlan) {
	tip := plan.new[len(plan.new)-1]
	ev := Reorg{Fork: plan.fork, Old: plan.old, New: plan.new}
	c.headMu.Lock()
	c.reorgs = append(c.reorgs, ev)
	if len(c.reorgs) > maxReorgEvents {
		drop := len(c.reorgs) - maxReorgEvents
		c.reorgs = slices.Delete(c.reorgs, 0, drop)
		c.reorgBase += uint64(drop)
	}
	c.headMu.Unlock()
	c.setHead(types.CopyHeader(tip))
	c.log.Info("chain reorganised", "fork", plan.fork.Number, "old_head", len(plan.old)+int(plan.fork.Number.Uint64()),
		"new_head", tip.Number, "hash", tip.Hash(), "dropped", len(plan.old), "added", len(plan.new))
}

func numberValue(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// SideTips returns the tips of the stored side branches (blocks that are
// neither canonical nor the parent of a stored block), highest first.
// Side branches are kept forever, also below the superfinal block: they
// cost their blocks' storage only, and a node that keeps them can show
// (and prove) an equivocation.
func (c *Chain) SideTips() ([]*types.Header, error) {
	it := c.db.NewIterator(prefixSideTip, nil)
	defer it.Release()
	var out []*types.Header
	for it.Next() {
		key := it.Key()
		if len(key) != len(prefixSideTip)+common.HashLength || len(it.Value()) != 8 {
			return nil, fmt.Errorf("chain: side tip entry %x: %w", key, ErrCorrupt)
		}
		hash := common.BytesToHash(key[len(prefixSideTip):])
		h := rawdb.ReadHeader(c.db, hash, binary.BigEndian.Uint64(it.Value()))
		if h == nil {
			return nil, fmt.Errorf("chain: side tip %s: %w", hash, ErrCorrupt)
		}
		out = append(out, h)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("chain: side tips: %w", err)
	}
	slices.SortFunc(out, func(a, b *types.Header) int {
		if c := b.Number.Cmp(a.Number); c != 0 {
			return c
		}
		ha, hb := a.Hash(), b.Hash()
		return bytes.Compare(ha[:], hb[:])
	})
	return out, nil
}

// Reconsider asks fork choice again about every side tip (highest first,
// each once, against the canonical branch of the moment) and switches to
// each it prefers. Finality calls it when Bitcoin publications changed.
// A tie or a refusal keeps the canonical branch. It reports whether the
// head moved to another branch.
func (c *Chain) Reconsider() (reorged bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return false, ErrClosed
	}
	if c.fc == nil {
		return false, nil
	}
	tips, err := c.SideTips()
	if err != nil {
		return false, err
	}
	for _, tip := range tips {
		if rawdb.ReadCanonicalHash(c.db, tip.Number.Uint64()) == tip.Hash() {
			continue // a broken invariant elsewhere; never switch to the canonical branch itself
		}
		plan, err := c.planReorg(tip)
		if err != nil {
			return reorged, err
		}
		if plan == nil {
			continue
		}
		batch := c.db.NewBatch()
		if err := c.writeReorg(batch, plan, nil); err != nil {
			return reorged, err
		}
		if err := c.writeBatch(batch, tip.Number.Uint64()); err != nil {
			return reorged, err
		}
		c.applyReorg(plan)
		reorged = true
	}
	return reorged, nil
}

// SubscribeReorgs delivers every reorg that happens after the call, in
// order, before or after the heads of the new branch reach Subscribe
// readers (the two streams are not ordered against each other). A reader
// more than 1,024 reorgs behind misses the oldest (logged); the channel
// closes when ctx is done or the chain closes.
func (c *Chain) SubscribeReorgs(ctx context.Context) <-chan Reorg {
	out := make(chan Reorg, 4)
	c.headMu.RLock()
	next := c.reorgBase + uint64(len(c.reorgs))
	c.headMu.RUnlock()
	go func() {
		defer close(out)
		for {
			c.headMu.RLock()
			if next < c.reorgBase {
				c.log.Warn("reorg subscriber too slow; reorgs missed", "missed", c.reorgBase-next)
				next = c.reorgBase
			}
			pending := slices.Clone(c.reorgs[next-c.reorgBase:])
			wake := c.headCh
			c.headMu.RUnlock()
			if c.closed.Load() {
				return
			}
			for _, ev := range pending {
				select {
				case out <- ev:
					next++
				case <-ctx.Done():
					return
				}
			}
			if len(pending) > 0 {
				continue
			}
			select {
			case <-wake:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
