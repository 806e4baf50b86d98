package index

import (
	"encoding/binary"
	"math"
	"slices"
	"sync"
	"unsafe"

	"github.com/ethereum/go-ethereum/common/lru"
	"golang.org/x/sync/singleflight"
)

// DefaultChangeMemoBytes is Config.ChangeMemoBytes's default. An entry
// costs 88 bytes per output unspent in the view but not in the stored set
// (spent above the view) and 12 per output the other way round (created
// above it); a Bitcoin block holds at most about 24,000 inputs or 110,000
// outputs, so one script's entry for a view two blocks below the tip
// takes at most about 4.2 MB, and 16 MiB keeps the worst such entries of
// the two views an hVM sequencer moves between.
const DefaultChangeMemoBytes = 16 << 20

// memoKey names one memoized change set: the script, the view's block
// and the stored state it was computed from. gen changes whenever the
// snapshot, the set tip, the connected chain or an indexed flag does (see
// Index.replaceSnap), which is everything changesSince reads besides the
// view's own blocks, so an entry is never read against another state.
type memoKey struct {
	sh   [32]byte
	view uint32 // the view's tip, by node id
	gen  uint64 // Index.snapGen when computed
}

func (k *memoKey) flight() string {
	b := make([]byte, 0, 32+4+8)
	b = append(b, k.sh[:]...)
	b = binary.BigEndian.AppendUint32(b, k.view)
	b = binary.BigEndian.AppendUint64(b, k.gen)
	return string(b)
}

// changeMemo memoizes changesSince per (script, view, stored state), so a
// view below the set tip pays an address's change records once, not on
// every 0x40/0x41 call (their gas does not charge them). It is a
// go-ethereum BasicLRU bounded by the entries' estimated bytes (BasicLRU
// counts items only, and SizeConstrainedCache holds byte slices only);
// concurrent misses of one key are computed once (singleflight). Entries
// are shared and read-only. Safe for concurrent use.
type changeMemo struct {
	max   int
	group singleflight.Group

	mu   sync.Mutex
	lru  lru.BasicLRU[memoKey, *changes]
	size int
}

func newChangeMemo(maxBytes int) *changeMemo {
	return &changeMemo{max: maxBytes, lru: lru.NewBasicLRU[memoKey, *changes](math.MaxInt)}
}

// changeEntryOverhead approximates an entry's fixed memory: the key in the
// map and in the recency list, the list element, the changes struct and
// the map's per-item overhead.
const changeEntryOverhead = 2*int(unsafe.Sizeof(memoKey{})) + int(unsafe.Sizeof(changes{})) + 64

// bytes is c's estimated memory as a memo entry.
func (c *changes) bytes() int {
	return changeEntryOverhead + len(c.gone)*int(unsafe.Sizeof(ord{})) + len(c.adds)*int(unsafe.Sizeof(utxo{}))
}

func (m *changeMemo) get(k *memoKey) (*changes, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Get(*k)
}

// add stores c, evicting the least recently used entries past the bound;
// an entry larger than the whole bound is not kept.
func (m *changeMemo) add(k *memoKey, c *changes) {
	n := c.bytes()
	if n > m.max {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.lru.Peek(*k); ok {
		m.size -= old.bytes()
	}
	m.lru.Add(*k, c)
	m.size += n
	for m.size > m.max {
		_, old, ok := m.lru.RemoveOldest()
		if !ok {
			break
		}
		m.size -= old.bytes()
	}
}

// purge drops every entry: they were computed against a replaced state.
func (m *changeMemo) purge() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lru.Purge()
	m.size = 0
}

// stats returns the entries held and their estimated bytes.
func (m *changeMemo) stats() (entries, size int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Len(), m.size
}

// viewChanges returns sh's changes as of v (see changesSince), memoized:
// a hit reads nothing (and adds 0 to reads), a miss adds changesSince's
// reads. Only sets computed from at least one change record are kept; the
// others cost the one seek a hit would save. The result is shared: callers
// must not modify it. ix.mu held for reading.
func (ix *Index) viewChanges(v *view, sh *[32]byte, reads *uint64) (*changes, error) {
	m := ix.memo
	if m == nil {
		c, err := ix.changesSince(v, sh, reads)
		return &c, err
	}
	k := memoKey{sh: *sh, view: v.tip.id, gen: ix.snapGen}
	if c, ok := m.get(&k); ok {
		return c, nil
	}
	// Concurrent callers hold ix.mu for reading too, so they see the
	// same gen and the one that runs this computes for all.
	res, err, _ := m.group.Do(k.flight(), func() (any, error) {
		if c, ok := m.get(&k); ok {
			return c, nil
		}
		var r uint64
		c, err := ix.changesSince(v, sh, &r)
		*reads += r
		if err != nil {
			return nil, err
		}
		if r > 1 {
			m.add(&k, &c)
		}
		return &c, nil
	})
	if err != nil {
		return nil, err
	}
	return res.(*changes), nil
}

// cmpOrd orders ords as the 0x41 order does.
func cmpOrd(a, b ord) int {
	switch {
	case a.less(b):
		return -1
	case b.less(a):
		return 1
	}
	return 0
}

// replaced reports whether the stored set's output at o is replaced by the
// overlay (it is either in adds or gone).
func (c *changes) replaced(o ord) bool {
	if _, ok := slices.BinarySearchFunc(c.gone, o, cmpOrd); ok {
		return true
	}
	_, ok := slices.BinarySearchFunc(c.adds, o, func(u utxo, o ord) int { return cmpOrd(u.ord(), o) })
	return ok
}
