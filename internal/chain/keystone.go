package chain

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/pop"
)

// prefixKeystone indexes every stored keystone block, canonical or not:
//
//	"hemi-ks-" id (32) -> block hash (32)
var prefixKeystone = []byte("hemi-ks-")

func keystoneKey(id [32]byte) []byte {
	return append(append(make([]byte, 0, len(prefixKeystone)+32), prefixKeystone...), id[:]...)
}

// KeystoneOf computes the abbreviated keystone of header h, given the hash
// of the previous keystone block of its branch (the genesis hash for the
// first keystone). The view height comes from h's Extra record (0 for a
// header without one).
func KeystoneOf(h *types.Header, prevKeystone common.Hash) pop.Keystone {
	k := pop.Keystone{Version: pop.KeystoneVersion, L2Number: uint32(h.Number.Uint64())}
	if e, err := block.DecodeExtra(h.Extra); err == nil {
		k.BTCViewHeight = e.BitcoinHeight
	}
	hash := h.Hash()
	copy(k.ParentPrefix[:], h.ParentHash[:])
	copy(k.PrevKeystone[:], prevKeystone[:])
	k.StateRoot = h.Root
	copy(k.BlockPrefix[:], hash[:])
	return k
}

// IsKeystone reports whether block number is a keystone: a positive
// multiple of the keystone interval.
func (c *Chain) IsKeystone(number uint64) bool {
	iv := c.cfg.KeystoneInterval
	return iv != 0 && number != 0 && number%iv == 0
}

// CoveringKeystone is the number of the first keystone at or after block
// number: the keystone whose publication finalizes it (DESIGN 4); 0
// when keystones are off (interval 0): no block is ever covered.
func (c *Chain) CoveringKeystone(number uint64) uint64 {
	iv := c.cfg.KeystoneInterval
	if iv == 0 {
		return 0
	}
	if number == 0 {
		return iv
	}
	return (number + iv - 1) / iv * iv
}

// ancestor returns the ancestor of h at number (h itself at its own
// number), walking h's own branch, so it is right on side branches too.
func (c *Chain) ancestor(h *types.Header, number uint64) (*types.Header, error) {
	for h.Number.Uint64() > number {
		p := rawdb.ReadHeader(c.db, h.ParentHash, h.Number.Uint64()-1)
		if p == nil {
			return nil, fmt.Errorf("ancestor %d of block %d: %w", h.Number.Uint64()-1, h.Number, ErrCorrupt)
		}
		h = p
	}
	return h, nil
}

// keystoneCacheSize is how many keystones keystoneFor remembers: the
// newest 1,024 are 25,600 blocks at the default interval, more than the
// explorer's and the finality's pages ask again and again.
const keystoneCacheSize = 1024

// keystoneFor builds the Keystone of a keystone header h stored (or being
// stored) in the database. The previous keystones are found by walking
// h's own branch back, one and two keystone intervals: 50 header reads
// at the default interval, so the result is remembered by h's hash (a
// block's hash fixes its branch, so a remembered keystone stays right
// across reorgs).
func (c *Chain) keystoneFor(h *types.Header) (*pop.L2Keystone, error) {
	n := h.Number.Uint64()
	if !c.IsKeystone(n) {
		return nil, fmt.Errorf("block %d is not a keystone: %w", n, ErrNotFound)
	}
	hash := h.Hash()
	if c.keystones != nil {
		if k, ok := c.keystones.Get(hash); ok {
			return &k, nil
		}
	}
	out, err := c.computeKeystone(h)
	if err != nil {
		return nil, err
	}
	if c.keystones != nil {
		c.keystones.Add(hash, *out)
	}
	return out, nil
}

// computeKeystone is keystoneFor without the cache.
func (c *Chain) computeKeystone(h *types.Header) (*pop.L2Keystone, error) {
	n := h.Number.Uint64()
	iv := c.cfg.KeystoneInterval
	prev, err := c.ancestor(h, n-iv)
	if err != nil {
		return nil, err
	}
	k := KeystoneOf(h, prev.Hash())
	out := &pop.L2Keystone{Number: n, Hash: h.Hash(), ID: k.ID(), K: k}
	if n-iv > 0 {
		prev2, err := c.ancestor(prev, n-2*iv)
		if err != nil {
			return nil, err
		}
		pk := KeystoneOf(prev, prev2.Hash())
		out.PrevID = pk.ID()
	}
	return out, nil
}

// KeystoneAt returns the canonical keystone at number (a positive multiple
// of the interval, at most the head).
func (c *Chain) KeystoneAt(number uint64) (*pop.L2Keystone, error) {
	if !c.IsKeystone(number) {
		return nil, fmt.Errorf("block %d is not a keystone (interval %d): %w", number, c.cfg.KeystoneInterval, ErrNotFound)
	}
	h, err := c.HeaderByNumber(number)
	if err != nil {
		return nil, err
	}
	return c.keystoneFor(h)
}

// KeystoneByHash returns the keystone of any stored keystone block.
func (c *Chain) KeystoneByHash(hash common.Hash) (*pop.L2Keystone, error) {
	h, err := readHeader(c.db, hash)
	if err != nil {
		return nil, err
	}
	return c.keystoneFor(h)
}

// KeystoneByID returns the stored keystone block (canonical or not) whose
// keystone id is id.
func (c *Chain) KeystoneByID(id [32]byte) (*pop.L2Keystone, error) {
	v, err := c.db.Get(keystoneKey(id))
	if err != nil || len(v) != common.HashLength {
		return nil, fmt.Errorf("keystone %x: %w", id, ErrNotFound)
	}
	return c.KeystoneByHash(common.BytesToHash(v))
}

// writeKeystone indexes b's keystone id, if b is a keystone, into w (the
// batch writing b). b's ancestors are already stored.
func (c *Chain) writeKeystone(w interface{ Put(k, v []byte) error }, b *Block) error {
	if !c.IsKeystone(b.NumberU64()) {
		return nil
	}
	k, err := c.keystoneFor(b.Header)
	if err != nil {
		return err
	}
	return w.Put(keystoneKey(k.ID), k.Hash[:])
}
