package tracker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/pop"
)

// ErrBadState: a saved state or one of its records does not decode or is
// inconsistent (Restore, DecodeBlock, DecodeKeystone).
var ErrBadState = errors.New("finality: bad saved tracker state")

// State is everything a Tracker holds, in a form its owner can save and
// Restore: the Bitcoin tip, the canonical Bitcoin blocks that hold
// publications (blocks without any are not needed: publications are the
// only thing a block contributes, and a disconnect names its parent), and
// the keystones it was told about. Its size grows with publications and
// keystones, not with Bitcoin's length, so restoring it costs the same
// whether the Bitcoin chain below is 100 or 10,000 blocks long.
type State struct {
	HasTip    bool // false before the first Bitcoin block
	TipHeight int32
	TipHash   chainhash.Hash
	Blocks    []Block    // oldest first
	Keystones []Keystone // in any order
}

// Block is one canonical Bitcoin block holding publications, in block
// order. Each publication's Height and BlockHash are the block's.
type Block struct {
	Height int32
	Hash   chainhash.Hash
	Pubs   []pop.Publication
}

// Keystone is one keystone as AddKeystone took it.
type Keystone struct {
	ID     [32]byte
	Number uint64
	Hash   common.Hash
	PrevID [32]byte
}

// State returns a copy of the tracker's state.
func (t *Tracker) State() State {
	st := State{HasTip: t.tip.ok, TipHeight: t.tip.height, TipHash: t.tip.hash,
		Blocks: make([]Block, len(t.blocks)), Keystones: make([]Keystone, 0, len(t.keystones))}
	for i, b := range t.blocks {
		st.Blocks[i] = Block{Height: b.height, Hash: b.hash, Pubs: slices.Clone(b.pubs)}
	}
	for _, k := range t.keystones {
		st.Keystones = append(st.Keystones, Keystone{ID: k.id, Number: k.number, Hash: k.hash, PrevID: k.prevID})
	}
	return st
}

// Restore returns a tracker with state st, as the tracker that produced
// it (State) answers: same statuses, same fork choice. It refuses an
// inconsistent state (blocks out of order or above the tip, a keystone
// cycle) with ErrBadState: a corrupt save must not become a wrong answer.
func Restore(depth uint32, st State) (*Tracker, error) {
	t := New(depth)
	if len(st.Blocks) > 0 && !st.HasTip {
		return nil, fmt.Errorf("%w: %d blocks and no tip", ErrBadState, len(st.Blocks))
	}
	if st.HasTip {
		t.tip = btcTip{height: st.TipHeight, hash: st.TipHash, ok: true}
	}
	for i, b := range st.Blocks {
		if len(b.Pubs) == 0 {
			return nil, fmt.Errorf("%w: block %d holds no publications", ErrBadState, b.Height)
		}
		if b.Height > st.TipHeight || (i > 0 && b.Height <= st.Blocks[i-1].Height) {
			return nil, fmt.Errorf("%w: block %d out of order (tip %d)", ErrBadState, b.Height, st.TipHeight)
		}
		if b.Height == st.TipHeight && b.Hash != st.TipHash {
			return nil, fmt.Errorf("%w: block %s at the tip height is not the tip %s", ErrBadState, b.Hash, st.TipHash)
		}
		nb := btcBlock{height: b.Height, hash: b.Hash, pubs: make([]pop.Publication, len(b.Pubs))}
		for j, p := range b.Pubs {
			p.Height, p.BlockHash = b.Height, b.Hash
			nb.pubs[j] = p
		}
		t.blocks = append(t.blocks, nb)
		t.applyBlock(&t.blocks[len(t.blocks)-1])
	}
	for _, k := range st.Keystones {
		if _, ok := t.keystones[k.ID]; ok {
			return nil, fmt.Errorf("%w: keystone %x twice", ErrBadState, k.ID[:8])
		}
		if k.ID == k.PrevID {
			return nil, fmt.Errorf("%w: keystone %x is its own previous", ErrBadState, k.ID[:8])
		}
		t.AddKeystone(k.ID, k.Number, k.Hash, k.PrevID)
	}
	if err := t.checkAcyclic(); err != nil {
		return nil, err
	}
	return t, nil
}

// checkAcyclic refuses a keystone tree with a cycle (possible only from
// a corrupt save: a keystone commits to its previous one by hash), which
// would make raise and recompute loop. O(keystones).
func (t *Tracker) checkAcyclic() error {
	const (
		walking = 1
		done    = 2
	)
	mark := make(map[*keystone]uint8, len(t.keystones))
	for _, start := range t.keystones {
		var path []*keystone
		k := start
		for k != nil && mark[k] == 0 {
			mark[k] = walking
			path = append(path, k)
			k = k.parent
		}
		if k != nil && mark[k] == walking {
			return fmt.Errorf("%w: keystone %x is its own ancestor", ErrBadState, k.id[:8])
		}
		for _, p := range path {
			mark[p] = done
		}
	}
	return nil
}

// keystoneLen is the size of an encoded Keystone.
const keystoneLen = 32 + 8 + 32 + 32

// MarshalBinary encodes k: id | number (u64 big-endian) | hash | previous
// id.
func (k *Keystone) MarshalBinary() ([]byte, error) {
	out := make([]byte, 0, keystoneLen)
	out = append(out, k.ID[:]...)
	out = binary.BigEndian.AppendUint64(out, k.Number)
	out = append(out, k.Hash[:]...)
	return append(out, k.PrevID[:]...), nil
}

// DecodeKeystone decodes MarshalBinary's output.
func DecodeKeystone(b []byte) (Keystone, error) {
	var k Keystone
	if len(b) != keystoneLen {
		return k, fmt.Errorf("%w: keystone record of %d bytes, want %d", ErrBadState, len(b), keystoneLen)
	}
	copy(k.ID[:], b[:32])
	k.Number = binary.BigEndian.Uint64(b[32:40])
	copy(k.Hash[:], b[40:72])
	copy(k.PrevID[:], b[72:])
	return k, nil
}

// Sizes of an encoded Block: height | hash | count (u32), then per
// publication keystone | txid | vout (u32) | tx index (u32) | flags (1:
// bit 0, a publisher follows) | [publisher (20)].
const (
	blockHeadLen = 4 + 32 + 4
	pubLen       = 32 + 32 + 4 + 4 + 1
)

// MarshalBinary encodes b (see blockHeadLen); the publications' Height
// and BlockHash are the block's and not repeated.
func (b *Block) MarshalBinary() ([]byte, error) {
	out := make([]byte, 0, blockHeadLen+len(b.Pubs)*(pubLen+20))
	out = binary.BigEndian.AppendUint32(out, uint32(b.Height))
	out = append(out, b.Hash[:]...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(b.Pubs)))
	for i := range b.Pubs {
		p := &b.Pubs[i]
		out = append(out, p.Keystone[:]...)
		out = append(out, p.Txid[:]...)
		out = binary.BigEndian.AppendUint32(out, p.Vout)
		out = binary.BigEndian.AppendUint32(out, p.TxIndex)
		if p.Publisher == nil {
			out = append(out, 0)
			continue
		}
		out = append(out, 1)
		out = append(out, p.Publisher[:]...)
	}
	return out, nil
}

// DecodeBlock decodes Block.MarshalBinary's output, checking every length
// before it allocates.
func DecodeBlock(data []byte) (Block, error) {
	var b Block
	if len(data) < blockHeadLen {
		return b, fmt.Errorf("%w: block record of %d bytes", ErrBadState, len(data))
	}
	b.Height = int32(binary.BigEndian.Uint32(data[:4]))
	copy(b.Hash[:], data[4:36])
	n := binary.BigEndian.Uint32(data[36:40])
	rest := data[blockHeadLen:]
	if n == 0 || uint64(n)*pubLen > uint64(len(rest)) {
		return b, fmt.Errorf("%w: block %d record: %d publications in %d bytes", ErrBadState, b.Height, n, len(rest))
	}
	b.Pubs = make([]pop.Publication, n)
	for i := range b.Pubs {
		if len(rest) < pubLen {
			return b, fmt.Errorf("%w: block %d record: publication %d truncated", ErrBadState, b.Height, i)
		}
		p := &b.Pubs[i]
		copy(p.Keystone[:], rest[:32])
		copy(p.Txid[:], rest[32:64])
		p.Vout = binary.BigEndian.Uint32(rest[64:68])
		p.TxIndex = binary.BigEndian.Uint32(rest[68:72])
		p.Height, p.BlockHash = b.Height, b.Hash
		flags := rest[72]
		rest = rest[pubLen:]
		switch flags {
		case 0:
		case 1:
			if len(rest) < common.AddressLength {
				return b, fmt.Errorf("%w: block %d record: publisher %d truncated", ErrBadState, b.Height, i)
			}
			a := common.BytesToAddress(rest[:common.AddressLength])
			p.Publisher = &a
			rest = rest[common.AddressLength:]
		default:
			return b, fmt.Errorf("%w: block %d record: publication %d flags %#x", ErrBadState, b.Height, i, flags)
		}
	}
	if len(rest) != 0 {
		return b, fmt.Errorf("%w: block %d record: %d trailing bytes", ErrBadState, b.Height, len(rest))
	}
	return b, nil
}
