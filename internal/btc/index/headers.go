package index

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// Status flags of a header node, persisted in its header record.
const (
	// statusHaveData: the raw block is stored under its id.
	statusHaveData uint8 = 1 << 0
	// statusIndexed: every index holds the block's entries, so queries as
	// of it (and, transitively, its ancestors) can be answered.
	statusIndexed uint8 = 1 << 1
)

// node is one header in the in-memory header tree. All fields but status are
// immutable once the node is published in the tree; status is atomic so
// block arrival can set it without the tree lock. It is kept compact because
// mainnet has ~900k of them.
type node struct {
	parent    *node
	hash      chainhash.Hash
	merkle    chainhash.Hash
	work      work // cumulative work up to and including this header
	id        uint32
	height    int32
	version   int32
	timestamp uint32
	bits      uint32
	nonce     uint32
	status    atomic.Uint32
}

func newNode(h *wire.BlockHeader, hash chainhash.Hash, parent *node, id uint32) *node {
	n := &node{
		parent:    parent,
		hash:      hash,
		merkle:    h.MerkleRoot,
		id:        id,
		version:   h.Version,
		timestamp: uint32(h.Timestamp.Unix()),
		bits:      h.Bits,
		nonce:     h.Nonce,
	}
	var w work
	if own, ok := parent.ownWork(); ok && parent.bits == h.Bits {
		// The same target as the parent's: the same work, without
		// big-number arithmetic (most headers: targets change every
		// 2,016 blocks; a tenth of loading 10,000 headers at open).
		w = own
	} else {
		w = workFromBits(h.Bits)
	}
	if parent != nil {
		n.height = parent.height + 1
		w = parent.work.add(w)
	}
	n.work = w
	return n
}

// ownWork is the work of n's own header (its chain work less its
// parent's), when n has a parent and its chain work did not saturate.
func (n *node) ownWork() (work, bool) {
	if n == nil || n.parent == nil || n.work == maxWork {
		return work{}, false
	}
	return n.work.sub(n.parent.work), true
}

func (n *node) header() wire.BlockHeader {
	h := wire.BlockHeader{
		Version:    n.version,
		MerkleRoot: n.merkle,
		Timestamp:  unixTime(n.timestamp),
		Bits:       n.bits,
		Nonce:      n.nonce,
	}
	if n.parent != nil {
		h.PrevBlock = n.parent.hash
	}
	return h
}

func (n *node) flags() uint8      { return uint8(n.status.Load()) }
func (n *node) has(f uint8) bool  { return n.flags()&f == f }
func (n *node) setFlag(f uint8)   { n.status.Or(uint32(f)) }
func (n *node) clearFlag(f uint8) { n.status.And(^uint32(f)) }
func (n *node) record() []byte    { h := n.header(); return encodeHeaderRecord(&h, n.flags()) }
func (n *node) recordWith(f uint8) []byte {
	h := n.header()
	return encodeHeaderRecord(&h, f)
}

// ancestor returns the ancestor of n at height h, or nil.
func (n *node) ancestor(h int32) *node {
	if h < 0 || h > n.height {
		return nil
	}
	for n != nil && n.height > h {
		n = n.parent
	}
	return n
}

// Height, Bits, Timestamp, Parent and RelativeAncestorCtx make node a
// blockchain.HeaderCtx so btcd's header checks walk our tree.
func (n *node) Height() int32    { return n.height }
func (n *node) Bits() uint32     { return n.bits }
func (n *node) Timestamp() int64 { return int64(n.timestamp) }

func (n *node) Parent() blockchain.HeaderCtx {
	if n.parent == nil {
		return nil // untyped nil: btcd compares the interface with nil
	}
	return n.parent
}

func (n *node) RelativeAncestorCtx(distance int32) blockchain.HeaderCtx {
	a := n.ancestor(n.height - distance)
	if a == nil {
		return nil
	}
	return a
}

var _ blockchain.HeaderCtx = (*node)(nil)

// chainCtx gives btcd's contextual header checks the network parameters
// and our checkpoints. It must be used with ix.mu held.
type chainCtx struct{ ix *Index }

var _ blockchain.ChainCtx = chainCtx{}

func (c chainCtx) ChainParams() *chaincfg.Params { return c.ix.params }
func (c chainCtx) BlocksPerRetarget() int32      { return c.ix.blocksPerRetarget }
func (c chainCtx) MinRetargetTimespan() int64    { return c.ix.minRetargetTimespan }
func (c chainCtx) MaxRetargetTimespan() int64    { return c.ix.maxRetargetTimespan }

// VerifyCheckpoint reports whether hash is allowed at height: it must equal
// the checkpoint when the parameters have one there.
func (c chainCtx) VerifyCheckpoint(height int32, hash *chainhash.Hash) bool {
	for i := range c.ix.params.Checkpoints {
		cp := &c.ix.params.Checkpoints[i]
		if cp.Height == height {
			return cp.Hash != nil && *cp.Hash == *hash
		}
	}
	return true
}

// FindPreviousCheckpoint returns the newest checkpoint on the best header
// chain, so headers forking below it are refused.
func (c chainCtx) FindPreviousCheckpoint() (blockchain.HeaderCtx, error) {
	cps := c.ix.params.Checkpoints
	for i := len(cps) - 1; i >= 0; i-- {
		if cps[i].Hash == nil || cps[i].Height >= int32(len(c.ix.hdrChain)) {
			continue
		}
		if n := c.ix.hdrChain[cps[i].Height]; n.hash == *cps[i].Hash {
			return n, nil
		}
	}
	return nil, nil
}

// clockTime adapts a clock function to btcd's MedianTimeSource; the index
// has no peer time samples, so adjusted time is the clock.
type clockTime struct{ now func() time.Time }

func (c clockTime) AdjustedTime() time.Time         { return time.Unix(c.now().Unix(), 0) }
func (c clockTime) AddTimeSample(string, time.Time) {}
func (c clockTime) Offset() time.Duration           { return 0 }

var _ blockchain.MedianTimeSource = clockTime{}

// AcceptHeaders checks and stores headers; see p2p.Chain. The headers must
// form a chain: each one's parent is a known header or the one before it.
func (ix *Index) AcceptHeaders(hdrs []wire.BlockHeader) (int, bool, error) {
	if err := ix.enter(); err != nil {
		return 0, false, err
	}
	defer ix.leave()
	if len(hdrs) == 0 {
		return 0, false, nil
	}

	ix.mu.Lock()
	defer ix.mu.Unlock()

	var (
		fresh  []*node
		byHash = make(map[chainhash.Hash]*node)
		prev   *node
		ctx    = chainCtx{ix}
	)
	for i := range hdrs {
		h := &hdrs[i]
		hash := h.BlockHash()
		if n := ix.byHash[hash]; n != nil {
			prev = n
			continue
		}
		if byHash[hash] != nil {
			return 0, false, fmt.Errorf("%w: header %s repeated in one message", ErrInvalid, hash)
		}
		parent := ix.byHash[h.PrevBlock]
		if parent == nil {
			parent = byHash[h.PrevBlock]
		}
		if parent == nil {
			if i == 0 {
				return 0, false, fmt.Errorf("%w: header %s has unknown parent %s", ErrUnconnected, hash, h.PrevBlock)
			}
			return 0, false, fmt.Errorf("%w: header %d (%s) does not connect to the one before it", ErrInvalid, i, hash)
		}
		if prev != nil && parent != prev {
			return 0, false, fmt.Errorf("%w: header %d (%s) does not follow the one before it", ErrInvalid, i, hash)
		}
		if err := blockchain.CheckBlockHeaderSanity(h, ix.params.PowLimit, ix.timeSource, blockchain.BFNone); err != nil {
			return 0, false, fmt.Errorf("%w: header %s at height %d: %w", ErrInvalid, hash, parent.height+1, err)
		}
		if err := blockchain.CheckBlockHeaderContext(h, parent, blockchain.BFNone, ctx, false); err != nil {
			return 0, false, fmt.Errorf("%w: header %s at height %d: %w", ErrInvalid, hash, parent.height+1, err)
		}
		n := newNode(h, hash, parent, uint32(len(ix.nodes)+len(fresh)))
		fresh = append(fresh, n)
		byHash[hash] = n
		prev = n
	}
	if len(fresh) == 0 {
		return 0, false, nil
	}

	b := ix.db.NewBatchWithSize(len(fresh) * (idKeyLen + headerRecLen + 16))
	defer b.Close()
	for _, n := range fresh {
		if err := b.Set(idKey(pfxHeader, n.id), n.record(), nil); err != nil {
			return 0, false, fmt.Errorf("store headers: %w", err)
		}
	}
	if err := b.Commit(ix.writeOpts()); err != nil {
		return 0, false, fmt.Errorf("store headers: %w", err)
	}

	best := ix.hdrChain[len(ix.hdrChain)-1]
	var newBest *node
	for _, n := range fresh {
		ix.byHash[n.hash] = n
		ix.nodes = append(ix.nodes, n)
		if n.work.cmp(best.work) > 0 {
			best, newBest = n, n
		}
	}
	if newBest != nil {
		ix.setHeaderChain(newBest)
		ix.m.headerHeight.Set(float64(newBest.height))
	}
	return len(fresh), newBest != nil, nil
}

// setHeaderChain makes tip the tip of the best header chain. ix.mu must be
// held for writing.
func (ix *Index) setHeaderChain(tip *node) {
	chain := ix.hdrChain
	if int(tip.height) < len(chain) {
		chain = chain[:tip.height+1]
	}
	for int(tip.height) >= len(chain) {
		chain = append(chain, nil)
	}
	for n := tip; n != nil && chain[n.height] != n; n = n.parent {
		chain[n.height] = n
	}
	ix.hdrChain = chain
}

// insertLoaded adds a node read from the database at Open, of hash
// h.BlockHash(). ix.mu must be held.
func (ix *Index) insertLoaded(h *wire.BlockHeader, hash chainhash.Hash, id uint32, status uint8) error {
	if int(id) != len(ix.nodes) {
		return fmt.Errorf("%w: header id %d out of sequence (want %d)", ErrCorrupt, id, len(ix.nodes))
	}
	var parent *node
	if id != 0 {
		// Most often the header stored just before (a chain syncs in
		// order); the map otherwise.
		if prev := ix.nodes[id-1]; prev.hash == h.PrevBlock {
			parent = prev
		} else {
			parent = ix.byHash[h.PrevBlock]
		}
		if parent == nil {
			return fmt.Errorf("%w: header %s has no stored parent", ErrCorrupt, hash)
		}
	} else if hash != *ix.params.GenesisHash {
		return fmt.Errorf("%w: stored genesis %s is not %s's genesis %s", ErrCorrupt, hash, ix.params.Name, ix.params.GenesisHash)
	}
	n := newNode(h, hash, parent, id)
	n.status.Store(uint32(status))
	ix.byHash[hash] = n
	ix.nodes = append(ix.nodes, n)
	return nil
}

// Locator returns a block locator for the best header chain: the ten newest
// hashes, then exponentially sparser, ending with genesis.
func (ix *Index) Locator() []chainhash.Hash {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return locator(ix.hdrChain)
}

func locator(chain []*node) []chainhash.Hash {
	out := make([]chainhash.Hash, 0, 32)
	step := int32(1)
	for h := int32(len(chain) - 1); h > 0; h -= step {
		out = append(out, chain[h].hash)
		if len(out) >= 10 {
			step *= 2
		}
	}
	return append(out, chain[0].hash)
}

// BestHeader returns the tip of the most-work header chain.
func (ix *Index) BestHeader() (chainhash.Hash, int32) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	t := ix.hdrChain[len(ix.hdrChain)-1]
	return t.hash, t.height
}

// BlockTip returns the tip of the connected (indexed) chain.
func (ix *Index) BlockTip() (chainhash.Hash, int32) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	t := ix.main[len(ix.main)-1]
	return t.hash, t.height
}

// NeedBlocks returns up to max hashes of best-chain blocks without stored
// data, in height order, starting above the point where the best header
// chain leaves the connected chain.
func (ix *Index) NeedBlocks(max int) []chainhash.Hash {
	if max <= 0 {
		return nil
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	fork := ix.forkHeight()
	var out []chainhash.Hash
	for h := fork + 1; h < int32(len(ix.hdrChain)) && len(out) < max; h++ {
		if n := ix.hdrChain[h]; !n.has(statusHaveData) {
			out = append(out, n.hash)
		}
	}
	return out
}

// forkHeight is the height of the newest block on both the connected chain
// and the best header chain. ix.mu must be held.
func (ix *Index) forkHeight() int32 {
	h := int32(min(len(ix.main), len(ix.hdrChain))) - 1
	for h > 0 && ix.main[h] != ix.hdrChain[h] {
		h--
	}
	return h
}

// Header returns any known header, on the best chain or not, with its
// height and cumulative work.
func (ix *Index) Header(hash chainhash.Hash) (HeaderInfo, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	n := ix.byHash[hash]
	if n == nil {
		return HeaderInfo{}, fmt.Errorf("header %s: %w", hash, ErrUnknownBlock)
	}
	return ix.headerInfo(n), nil
}

// headerInfo describes n. ix.mu must be held.
func (ix *Index) headerInfo(n *node) HeaderInfo {
	return HeaderInfo{
		Hash:      n.hash,
		Height:    n.height,
		Header:    n.header(),
		Work:      n.work.big(),
		MainChain: ix.onMain(n),
		HaveData:  n.has(statusHaveData),
	}
}

// onMain reports whether n is on the connected chain. ix.mu must be held.
func (ix *Index) onMain(n *node) bool {
	return int(n.height) < len(ix.main) && ix.main[n.height] == n
}

var errStop = errors.New("stop")
