package index

import (
	"bytes"
	"encoding/binary"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// entryWriter collects the writes of one atomic batch in an arena and
// hands them to pebble sorted by key. Index keys are mostly hashes, so
// unsorted they cost pebble a slow sort (large batches) or cache-missing
// skiplist inserts (small ones); sorting 16-byte records on an 8-byte key
// prefix here is several times cheaper. It also estimates the memtable
// space the entries take (pebble's formula: a worst-case skiplist node plus
// key, sequence number and value), which decides when a batch is large.
type entryWriter struct {
	// chunks hold the keys and values, arenaChunk bytes each: the
	// arena grows by a chunk, never by copying what it holds (growing
	// one slice by doubling copied and zeroed it again and again, 10%
	// of a sync's CPU with the page faults of each new slice). Chunks
	// are kept across reset, so a writer's memory is its largest batch.
	chunks  [][]byte
	cur     int // chunk being filled
	used    int // bytes of chunks[cur] in use
	size_   int // key and value bytes written since reset
	refs    []entryRef
	scratch []entryRef // radixSortRefs' buffer, kept between batches
	memSize int
	sorted  bool // refs are in key order (sort ran since the last write)
}

// arenaChunk is the size of an entryWriter arena chunk; an entry never
// spans two (keys and values are far smaller).
const (
	arenaChunkBits = 20
	arenaChunk     = 1 << arenaChunkBits
)

// entryRef locates one write in the arena: key at off (chunk index <<
// arenaChunkBits | offset in the chunk), value after it.
type entryRef struct {
	pfx  uint64 // first 8 key bytes, big-endian, zero padded
	off  uint32
	klen uint8
	del  bool
	mrg  bool // a merge operand (balances), see balanceMerger
	sdel bool // a single delete, see singleDel
	vlen uint16
}

// skiplistNodeMax is pebble's arenaskl maximum node size plus padding and
// the 8-byte key trailer.
const skiplistNodeMax = 20*8 + 16 + 3 + 8

func newEntryWriter() *entryWriter { return &entryWriter{} }

// set reserves a write of klen key bytes and vlen value bytes and returns
// the slices to fill; they are valid until the next reset.
func (w *entryWriter) set(klen, vlen int) (k, v []byte) {
	n := klen + vlen
	if n > arenaChunk {
		panic("index: entry larger than an arena chunk")
	}
	if len(w.chunks) == 0 || w.used+n > arenaChunk {
		if len(w.chunks) > 0 {
			w.cur++
		}
		if w.cur == len(w.chunks) {
			w.chunks = append(w.chunks, make([]byte, arenaChunk))
		}
		w.used = 0
	}
	off := w.used
	c := w.chunks[w.cur]
	w.used += n
	w.size_ += n
	w.refs = append(w.refs, entryRef{off: uint32(w.cur<<arenaChunkBits | off), klen: uint8(klen), vlen: uint16(vlen)})
	w.memSize += skiplistNodeMax + klen + vlen
	w.sorted = false
	return c[off : off+klen : off+klen], c[off+klen : off+n : off+n]
}

// put adds a write of k = v (both copied).
func (w *entryWriter) put(k, v []byte) {
	kk, vv := w.set(len(k), len(v))
	copy(kk, k)
	copy(vv, v)
}

// del adds a deletion of k.
func (w *entryWriter) del(k []byte) {
	kk, _ := w.set(len(k), 0)
	copy(kk, k)
	w.refs[len(w.refs)-1].del = true
}

// singleDel adds a pebble SingleDelete of k: for keys set exactly once
// before each deletion (the unspent set's u and p rows), which lets a
// compaction drop the pair as soon as they meet instead of carrying a
// tombstone down to the last level.
func (w *entryWriter) singleDel(k []byte) {
	w.del(k)
	w.refs[len(w.refs)-1].sdel = true
}

// merge adds a merge operand v for k (both copied).
func (w *entryWriter) merge(k, v []byte) {
	w.put(k, v)
	w.refs[len(w.refs)-1].mrg = true
}

func (w *entryWriter) key(r *entryRef) []byte {
	off := r.off & (arenaChunk - 1)
	return w.chunks[r.off>>arenaChunkBits][off : off+uint32(r.klen)]
}

// val is r's value (nil for a deletion).
func (w *entryWriter) val(r *entryRef) []byte {
	if r.del {
		return nil
	}
	start := r.off&(arenaChunk-1) + uint32(r.klen)
	return w.chunks[r.off>>arenaChunkBits][start : start+uint32(r.vlen)]
}

// sort orders the writes by key; equal keys keep their order, so the
// last write wins.
func (w *entryWriter) sort() {
	if w.sorted {
		return
	}
	w.sorted = true
	for i := range w.refs {
		r := &w.refs[i]
		var p [8]byte
		copy(p[:], w.key(r))
		r.pfx = binary.BigEndian.Uint64(p[:])
	}
	// First by the 8-byte prefix alone (a stable radix sort, which keeps
	// writes of one prefix in arrival order), then each run of equal
	// prefixes by the whole key: the unspent set's rows and change
	// records of one script share their first 33 bytes, and comparing
	// everything by key would cost most of the commit.
	w.scratch = radixSortRefs(w.refs, w.scratch)
	for i := 0; i < len(w.refs); {
		j := i + 1
		for j < len(w.refs) && w.refs[j].pfx == w.refs[i].pfx {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(w.refs[i:j], func(a, b entryRef) int {
				if c := bytes.Compare(w.key(&a), w.key(&b)); c != 0 {
					return c
				}
				return int(int64(a.off) - int64(b.off))
			})
		}
		i = j
	}
}

// hasDupKeys reports whether two writes share a key. Sorted writes only.
func (w *entryWriter) hasDupKeys() bool {
	for i := 1; i < len(w.refs); i++ {
		a, b := &w.refs[i-1], &w.refs[i]
		if a.pfx == b.pfx && bytes.Equal(w.key(a), w.key(b)) {
			return true
		}
	}
	return false
}

// writeTo sorts the writes (see sort) and appends them to b.
func (w *entryWriter) writeTo(b *pebble.Batch) {
	w.sort()
	for i := range w.refs {
		r := &w.refs[i]
		k := w.key(r)
		if r.sdel {
			_ = b.SingleDelete(k, nil)
			continue
		}
		if r.del {
			_ = b.Delete(k, nil)
			continue
		}
		if r.mrg {
			_ = b.Merge(k, w.val(r), nil)
			continue
		}
		op := b.SetDeferred(len(k), int(r.vlen))
		copy(op.Key, k)
		copy(op.Value, w.val(r))
		_ = op.Finish()
	}
}

// size is the number of key and value bytes collected.
func (w *entryWriter) size() int { return w.size_ }

// reset empties the writer, keeping its buffers.
func (w *entryWriter) reset() {
	w.cur, w.used, w.size_ = 0, 0, 0
	w.refs = w.refs[:0]
	w.memSize = 0
	w.sorted = false
}

// radixSortRefs sorts refs by pfx, stably, with one counting pass per
// byte (least significant first; a byte that is equal in every ref is
// skipped). It returns the scratch buffer for reuse.
func radixSortRefs(refs, scratch []entryRef) []entryRef {
	if len(refs) < 2 {
		return scratch
	}
	if cap(scratch) < len(refs) {
		scratch = make([]entryRef, len(refs))
	}
	scratch = scratch[:len(refs)]
	src, dst := refs, scratch
	for shift := uint(0); shift < 64; shift += 8 {
		var count [256]int
		for i := range src {
			count[byte(src[i].pfx>>shift)]++
		}
		if count[byte(src[0].pfx>>shift)] == len(src) {
			continue
		}
		pos := 0
		for b := range count {
			c := count[b]
			count[b] = pos
			pos += c
		}
		for i := range src {
			b := byte(src[i].pfx >> shift)
			dst[count[b]] = src[i]
			count[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &refs[0] {
		copy(refs, src)
	}
	return scratch
}
