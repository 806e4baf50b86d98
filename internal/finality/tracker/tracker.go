package tracker

import (
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/pop"
)

// DefaultForkTable is VeriBlock's fork-choice table: points by publication
// delay in Bitcoin blocks after the competing keystone's publication.
var DefaultForkTable = []uint32{100, 100, 95, 89, 80, 69, 56, 40, 21}

// DefaultSuperfinalDepth is the Bitcoin confirmations at which an L2
// block is superfinal on mainnet-like networks (DESIGN 4: 10). The rule
// owns it; genesis.DefaultSuperfinalDepth names it for the genesis
// defaults.
const DefaultSuperfinalDepth = 10

// Errors of the tracker; callers test them with errors.Is.
var (
	// ErrNotTip: a Bitcoin block was connected out of order, or the block
	// disconnected is not the tip.
	ErrNotTip = errors.New("finality: not the Bitcoin tip")
	// ErrUnknownKeystone: no keystone with that id is known.
	ErrUnknownKeystone = errors.New("finality: unknown keystone")
)

// earlier returns the earlier, in Bitcoin order, of two optional
// publications.
func earlier(a, b *pop.Publication) *pop.Publication {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case b.Before(a):
		return b
	}
	return a
}

// Status is the finality of one keystone (and so of every L2 block it
// covers).
type Status struct {
	// Known: the tracker has the keystone. An unknown keystone is never
	// published.
	Known bool
	// Published: some canonical Bitcoin block holds a publication of
	// the keystone or of a later keystone of its subtree.
	Published bool
	// Publication is the effective one (valid when Published); its
	// Keystone field names the keystone actually published.
	Publication pop.Publication
	// Confirmations are Bitcoin confirmations of Publication (0 when not
	// published).
	Confirmations uint32
	// Superfinal: Confirmations >= Depth.
	Superfinal bool
	// Depth is the superfinality depth in force.
	Depth uint32
}

type keystone struct {
	id       [32]byte
	number   uint64
	hash     common.Hash
	prevID   [32]byte
	parent   *keystone
	children []*keystone
	own      *pop.Publication // earliest canonical publication of id
	eff      *pop.Publication // min(own, children's eff)
}

type btcBlock struct {
	height int32
	hash   chainhash.Hash
	pubs   []pop.Publication
}

// btcTip is the newest Bitcoin block applied.
type btcTip struct {
	height int32
	hash   chainhash.Hash
	ok     bool // false before the first block
}

// Tracker is the finality state machine. It is not safe for concurrent
// use; Service serialises access.
type Tracker struct {
	depth     uint32
	keystones map[[32]byte]*keystone
	// orphans are keystones whose previous keystone is not known yet,
	// by that previous id.
	orphans map[[32]byte][]*keystone
	// pubs are the canonical publications of every id, known or not, in
	// Bitcoin order.
	pubs map[[32]byte][]pop.Publication
	// blocks are the canonical Bitcoin blocks seen that hold
	// publications, oldest first; blocks without any are remembered only
	// as the tip, so the state (and its saved form, State) grows with
	// the publications, not with Bitcoin's length.
	blocks []btcBlock
	tip    btcTip
}

// New returns an empty tracker; depth 0 means DefaultSuperfinalDepth.
func New(depth uint32) *Tracker {
	if depth == 0 {
		depth = DefaultSuperfinalDepth
	}
	return &Tracker{
		depth:     depth,
		keystones: make(map[[32]byte]*keystone),
		orphans:   make(map[[32]byte][]*keystone),
		pubs:      make(map[[32]byte][]pop.Publication),
	}
}

// Depth is the superfinality depth.
func (t *Tracker) Depth() uint32 { return t.depth }

// Tip returns the Bitcoin tip the tracker has seen (ok false before the
// first block).
func (t *Tracker) Tip() (height int32, hash chainhash.Hash, ok bool) {
	return t.tip.height, t.tip.hash, t.tip.ok
}

// TipPublications is the number of publications the tip block holds when
// the tip is hash, else 0: what disconnecting hash will remove.
func (t *Tracker) TipPublications(hash chainhash.Hash) int {
	if n := len(t.blocks); n > 0 && t.tip.ok && t.tip.hash == hash && t.blocks[n-1].hash == hash {
		return len(t.blocks[n-1].pubs)
	}
	return 0
}

// Keystones is the number of keystones tracked.
func (t *Tracker) Keystones() int { return len(t.keystones) }

// ConnectBitcoin connects the Bitcoin block (height, hash) on top of the
// tip, with the PoP publications it holds in block order. The first block
// may be at any height; later ones must be at tip+1. It reports whether
// the effective publication of any known keystone changed.
func (t *Tracker) ConnectBitcoin(height int32, hash chainhash.Hash, pubs []pop.Publication) (bool, error) {
	if tip, _, ok := t.Tip(); ok && height != tip+1 {
		return false, fmt.Errorf("connect %s at height %d on tip %d: %w", hash, height, tip, ErrNotTip)
	}
	t.tip = btcTip{height: height, hash: hash, ok: true}
	if len(pubs) == 0 {
		return false, nil
	}
	b := btcBlock{height: height, hash: hash, pubs: make([]pop.Publication, len(pubs))}
	for i, p := range pubs {
		p.Height, p.BlockHash = height, hash
		b.pubs[i] = p
	}
	t.blocks = append(t.blocks, b)
	return t.applyBlock(&b), nil
}

// applyBlock adds the publications of b, a block just appended, to the
// publication lists and the keystones they name.
func (t *Tracker) applyBlock(b *btcBlock) bool {
	changed := false
	for i := range b.pubs {
		p := &b.pubs[i]
		t.pubs[p.Keystone] = insertPub(t.pubs[p.Keystone], *p)
		k := t.keystones[p.Keystone]
		if k == nil {
			continue
		}
		if e := earlier(k.own, p); e != k.own {
			k.own = e
			if t.raise(k) {
				changed = true
			}
		}
	}
	return changed
}

// insertPub inserts p into list keeping Bitcoin order.
func insertPub(list []pop.Publication, p pop.Publication) []pop.Publication {
	i := len(list)
	for i > 0 && p.Before(&list[i-1]) {
		i--
	}
	list = append(list, pop.Publication{})
	copy(list[i+1:], list[i:])
	list[i] = p
	return list
}

// DisconnectBitcoin removes the tip block hash, whose parent (the new
// tip) is parent: the tracker keeps no hashes of the blocks below its tip
// that hold no publications, so the caller names it (the index has the
// disconnected block's header). With nothing connected yet the call is
// ignored: the block predates everything tracked. It reports whether an
// effective publication changed.
func (t *Tracker) DisconnectBitcoin(hash, parent chainhash.Hash) (bool, error) {
	if !t.tip.ok {
		return false, nil
	}
	if t.tip.hash != hash {
		return false, fmt.Errorf("disconnect %s, tip is %s at %d: %w", hash, t.tip.hash, t.tip.height, ErrNotTip)
	}
	t.tip = btcTip{height: t.tip.height - 1, hash: parent, ok: true}
	n := len(t.blocks)
	if n == 0 || t.blocks[n-1].hash != hash {
		return false, nil // it held no publications
	}
	b := t.blocks[n-1]
	t.blocks = t.blocks[:n-1]
	changed := false
	for i := range b.pubs {
		id := b.pubs[i].Keystone
		list := t.pubs[id][:0]
		for _, p := range t.pubs[id] {
			if p.BlockHash != hash {
				list = append(list, p)
			}
		}
		if len(list) == 0 {
			delete(t.pubs, id)
		} else {
			t.pubs[id] = list
		}
		k := t.keystones[id]
		if k == nil {
			continue
		}
		k.own = nil
		if len(list) > 0 {
			p := list[0]
			k.own = &p
		}
		if t.recompute(k) {
			changed = true
		}
	}
	return changed, nil
}

// AddKeystone adds a keystone of any L2 branch; prevID is the previous
// keystone's id (zero for the first). Adding a known id does nothing. It
// reports whether an effective publication changed.
func (t *Tracker) AddKeystone(id [32]byte, number uint64, hash common.Hash, prevID [32]byte) bool {
	if _, ok := t.keystones[id]; ok {
		return false
	}
	k := &keystone{id: id, number: number, hash: hash, prevID: prevID}
	if list := t.pubs[id]; len(list) > 0 {
		p := list[0]
		k.own = &p
	}
	k.eff = k.own
	t.keystones[id] = k
	for _, c := range t.orphans[id] {
		c.parent = k
		k.children = append(k.children, c)
		k.eff = earlier(k.eff, c.eff)
	}
	delete(t.orphans, id)
	if p := t.keystones[prevID]; p != nil && prevID != ([32]byte{}) {
		k.parent = p
		p.children = append(p.children, k)
	} else if prevID != ([32]byte{}) {
		t.orphans[prevID] = append(t.orphans[prevID], k)
	}
	if k.eff == nil {
		return false
	}
	if k.parent != nil {
		t.raise(k.parent)
	}
	return true
}

// raise pushes k's own publication, and its children's effective ones,
// into k.eff and up the ancestors while that makes something earlier.
// Used when a publication appeared. It reports whether k.eff changed.
func (t *Tracker) raise(k *keystone) bool {
	changed := false
	for ; k != nil; k = k.parent {
		e := earlier(k.eff, k.own)
		for _, c := range k.children {
			e = earlier(e, c.eff)
		}
		if e == k.eff {
			break
		}
		k.eff = e
		changed = true
	}
	return changed
}

// recompute recomputes k.eff from scratch and then its ancestors while
// they change. Used when a publication disappeared.
func (t *Tracker) recompute(k *keystone) bool {
	changed := false
	for ; k != nil; k = k.parent {
		e := k.own
		for _, c := range k.children {
			e = earlier(e, c.eff)
		}
		if e == k.eff || (e != nil && k.eff != nil && *e == *k.eff) {
			k.eff = e
			break
		}
		k.eff = e
		changed = true
	}
	return changed
}

// Status returns the finality of keystone id.
func (t *Tracker) Status(id [32]byte) Status {
	k := t.keystones[id]
	if k == nil {
		return Status{Depth: t.depth}
	}
	return t.statusOf(k.eff, true)
}

// OwnStatus is the finality of keystone id judged by its own earliest
// publication when the tracker has not been told about the keystone (a
// side branch's keystone; Known is then true, for the caller knows it),
// and Status otherwise.
func (t *Tracker) OwnStatus(id [32]byte) Status {
	return t.statusOf(t.effective(id), true)
}

func (t *Tracker) statusOf(p *pop.Publication, known bool) Status {
	s := Status{Known: known, Depth: t.depth}
	if p == nil {
		return s
	}
	s.Published = true
	s.Publication = *p
	if tip, _, ok := t.Tip(); ok {
		s.Confirmations = ConfirmationsAt(tip, p.Height)
	}
	s.Superfinal = Superfinal(t.depth, s.Confirmations)
	return s
}

// ConfirmationsAt is the Bitcoin confirmations of a publication in the
// block at pubHeight when the tip (or a Bitcoin view) is at tip: 0 when
// the tip is below it. It is the rule's arithmetic, shared with the
// tunnel's superfinality check as of a block's view.
func ConfirmationsAt(tip, pubHeight int32) uint32 {
	if tip < pubHeight {
		return 0
	}
	return uint32(tip - pubHeight + 1)
}

// Superfinal reports whether confirmations reach depth (DESIGN 4).
func Superfinal(depth, confirmations uint32) bool { return confirmations >= depth }

// Publications returns the canonical publications of id itself, in
// Bitcoin order (also for ids no keystone has).
func (t *Tracker) Publications(id [32]byte) []pop.Publication {
	return append([]pop.Publication(nil), t.pubs[id]...)
}

// effective returns the effective publication of id: the tracker's when
// the keystone is known, else its own earliest publication.
func (t *Tracker) effective(id [32]byte) *pop.Publication {
	if k := t.keystones[id]; k != nil {
		return k.eff
	}
	if list := t.pubs[id]; len(list) > 0 {
		p := list[0]
		return &p
	}
	return nil
}
