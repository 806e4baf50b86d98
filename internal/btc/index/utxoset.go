package index

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"slices"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/cockroachdb/pebble/v2"
)

// utxoStore is the unspent set a block is applied to: the current set at
// the block tip (mainSet, while connecting) or an overlay over the state
// at a side fork's parent (forkSet, for IndexFork).
type utxoStore interface {
	// get returns the unspent output op, if the set holds it.
	get(op *wire.OutPoint) (utxo, bool, error)
	// take removes the unspent output op, if the set holds it, and
	// returns it: get and remove in one lookup (every input does it).
	take(op *wire.OutPoint) (utxo, bool, error)
	add(w *entryWriter, u *utxo)
	remove(w *entryWriter, u *utxo)
}

// applyBlock applies n's transactions to st in block order (each tx's
// inputs, then its outputs) and writes n's change records and undo record.
// Inputs spending an output st does not hold (never indexed, e.g. an
// OP_RETURN or the genesis coinbase, or already spent) change nothing, so
// the records are exactly the changes n made to the set, and summing them
// moves a balance from n's parent to n.
func applyBlock(w *entryWriter, n *node, bd *blockData, st utxoStore) error {
	var (
		undo   []byte
		inUndo = make(map[[32]byte]struct{})
	)
	spent := func(u *utxo, pos, in uint32) {
		putChange(w, n, changeSpend, pos, in, u)
		if _, ok := inUndo[u.sh]; !ok && u.height < n.height {
			inUndo[u.sh] = struct{}{}
			undo = append(undo, u.sh[:]...)
		}
	}
	for i, tx := range bd.msg.Transactions {
		txid := &bd.txids[i]
		if i > 0 {
			for vin, in := range tx.TxIn {
				u, ok, err := st.take(&in.PreviousOutPoint)
				if err != nil {
					return err
				}
				if ok {
					spent(&u, uint32(i), uint32(vin))
				}
			}
		} else if _, dup := duplicateTxids[*txid]; dup {
			// The two mainnet coinbases that repeat an earlier txid
			// overwrite the earlier outputs (see duplicateTxids):
			// recorded as spends by the coinbase's input slots.
			for v := range tx.TxOut {
				u, ok, err := st.take(&wire.OutPoint{Hash: *txid, Index: uint32(v)})
				if err != nil {
					return err
				}
				if ok {
					spent(&u, 0, uint32(v))
				}
			}
		}
		for v, out := range tx.TxOut {
			if len(out.PkScript) > 0 && out.PkScript[0] == opReturn {
				continue
			}
			u := utxo{sh: sha256.Sum256(out.PkScript), height: n.height, pos: uint32(i), vout: uint32(v),
				txid: *txid, value: out.Value}
			st.add(w, &u)
			putChange(w, n, changeCreate, uint32(i), uint32(v), &u)
		}
	}
	w.put(idKey(pfxUndo, n.id), undo)
	return nil
}

func putChange(w *entryWriter, n *node, kind uint8, pos, idx uint32, u *utxo) {
	vlen := changeValLen
	if kind == changeCreate {
		vlen = changeCreateValLen
	}
	k, v := w.set(changeKeyLen, vlen)
	putChangeKey(k, &changeKey{sh: u.sh, height: n.height, id: n.id, kind: kind, pos: pos, n: idx})
	putChangeVal(v, kind, u)
}

// blockSpends returns the outputs of earlier blocks that block n spent:
// its undo record names their scripts, and their spend records of n hold
// them.
func (ix *Index) blockSpends(n *node) ([]utxo, error) {
	raw, closer, err := ix.db.Get(idKey(pfxUndo, n.id))
	if err != nil {
		return nil, fmt.Errorf("index: read undo of block %s: %w", n.hash, err)
	}
	shs, err := decodeUndo(raw)
	_ = closer.Close()
	if err != nil {
		return nil, fmt.Errorf("block %s: %w", n.hash, err)
	}
	var out []utxo
	for i := range shs {
		prefix := make([]byte, 1+32+4+4+1)
		prefix[0] = pfxChange
		copy(prefix[1:33], shs[i][:])
		be.PutUint32(prefix[33:37], uint32(n.height))
		be.PutUint32(prefix[37:41], n.id)
		prefix[41] = changeSpend
		it, err := ix.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
		if err != nil {
			return nil, fmt.Errorf("index: spend records of block %s: %w", n.hash, err)
		}
		for ok := it.SeekPrefixGE(prefix); ok; ok = it.Next() {
			k, err := decodeChangeKey(it.Key())
			if err != nil {
				_ = it.Close()
				return nil, err
			}
			v, err := it.ValueAndErr()
			if err != nil {
				_ = it.Close()
				return nil, fmt.Errorf("index: spend records of block %s: %w", n.hash, err)
			}
			u, err := decodeChange(&k, v)
			if err != nil {
				_ = it.Close()
				return nil, err
			}
			if u.height < n.height {
				out = append(out, u)
			}
		}
		if err := it.Close(); err != nil {
			return nil, fmt.Errorf("index: spend records of block %s: %w", n.hash, err)
		}
	}
	return out, nil
}

// undoBlock takes n, the block tip of the staged state, off st: its
// created outputs leave the set and the outputs it spent come back.
func (ix *Index) undoBlock(w *entryWriter, n *node, st *mainSet) error {
	bd, err := ix.takeBlock(n)
	if err != nil {
		return err
	}
	undo, err := ix.blockSpends(n)
	if err != nil {
		return err
	}
	for i, tx := range bd.msg.Transactions {
		for v := range tx.TxOut {
			u, ok, err := st.get(&wire.OutPoint{Hash: bd.txids[i], Index: uint32(v)})
			if err != nil {
				return err
			}
			// Outputs spent inside the block are gone already.
			if ok && u.height == n.height {
				st.remove(w, &u)
			}
		}
	}
	for i := range undo {
		st.add(w, &undo[i])
	}
	return nil
}

// mainSet is the current unspent set at the connector's (staged) tip: the
// u, p and a tables, which hold the set at the set tip (utxoIndexName's
// tip, a block of the connected chain at or below the block tip), plus
// the changes of the blocks connected since, held in memory. It is a
// write-back cache in the manner of btcd's utxocache: one map holds the
// outputs created since the set tip (staged, not stored), the stored
// outputs spent since (gone: still stored, so they must answer "spent")
// and stored outputs read or written before (clean); the balance changes
// since the set tip are summed apart (bal). flush writes the changes into
// a commit, sorted with the rest of the batch, and moves the set tip to
// that commit's tip. An output created and spent between two flushes is
// never written at all, which during a sync is most of them.
//
// The connector flushes when the batch reaches the best header or holds a
// reorg (so a node following the tip stores the set with every block),
// when the changes outgrow their share of the budget (dirtyLimit: a flush
// writes them all in one batch, whose memory this bounds), and when all
// the entries outgrow the budget; after a flush the oldest clean entries
// are dropped until three quarters of the budget is left. A spend whose
// output the map does not hold reads p, the only database read of the
// write path; with the whole unspent set in the budget (the default holds
// about 1.8 million outputs) there is none. A crash loses only what the
// change records already hold: Open replays the blocks above the set tip.
type mainSet struct {
	db    *pebble.DB
	limit int // bytes of all entries
	// dirtyLimit bounds the entries a flush writes.
	dirtyLimit int
	outs       map[wire.OutPoint]cachedOut
	// dirty lists the outpoints made staged or gone since the set tip
	// (an outpoint spent since, or restored, is skipped by flush).
	dirty outpointList
	// replaced holds stored outputs that a repeated coinbase txid
	// (duplicateTxids) overwrote since the set tip: flush deletes their
	// rows before it writes the new ones.
	replaced map[wire.OutPoint]utxo
	bal      map[[32]byte]int64 // balance changes since the set tip
	ndirty   int                // staged and gone entries
	// settled: flush moved the entries to their state after its commit
	// (see flush), and only flushed or clear may follow.
	settled bool
	// misses counts the lookups that read p (the outputs the map did not
	// hold), evicted the clean entries dropped over budget.
	misses, evicted uint64
}

// States of the outputs mainSet holds.
const (
	outClean  uint8 = iota // stored at the set tip, unspent since
	outStaged              // created since the set tip, not stored
	outGone                // stored at the set tip, spent since
)

// cachedOut is an output held by mainSet, without its outpoint (the map's
// key). The value is split in two halves so the map's slots need no
// 8-byte alignment (88 bytes with the key instead of 96).
type cachedOut struct {
	sh       [32]byte
	height   int32
	pos      uint32
	vlo, vhi uint32
	state    uint8
	listed   bool // in mainSet.dirty
}

func newCachedOut(u *utxo, state uint8) cachedOut {
	return cachedOut{sh: u.sh, height: u.height, pos: u.pos, vlo: uint32(u.value), vhi: uint32(uint64(u.value) >> 32), state: state}
}

func (c *cachedOut) utxo(op *wire.OutPoint) utxo {
	return utxo{sh: c.sh, height: c.height, pos: c.pos, vout: op.Index, txid: op.Hash,
		value: int64(uint64(c.vhi)<<32 | uint64(c.vlo))}
}

// Estimated memory of mainSet's entries: a map slot with Go's swiss
// table load (88 bytes of slot at 7/8 load, plus the control byte and the
// slack of tables that grew recently), a balance entry, and a dirty list
// entry. TestMainSetMemory checks the first against the runtime's count.
const (
	outEntryBytes   = 144
	balEntryBytes   = 64
	dirtyEntryBytes = 36
)

func newMainSet(db *pebble.DB, limit int) *mainSet {
	s := &mainSet{db: db, limit: limit, dirtyLimit: max(limit/8, 1)}
	s.clear()
	return s
}

// clear empties the cache and forgets every change since the set tip, as
// after a failed commit; the caller replays from the set tip.
func (s *mainSet) clear() {
	s.outs = make(map[wire.OutPoint]cachedOut)
	s.dirty.reset()
	s.replaced = make(map[wire.OutPoint]utxo)
	s.bal = make(map[[32]byte]int64)
	s.ndirty = 0
	s.settled = false
}

// isDirty reports whether changes since the set tip are held in memory.
func (s *mainSet) isDirty() bool { return s.ndirty+len(s.bal)+len(s.replaced) > 0 }

// changeBytes estimates the memory of the changes since the set tip.
func (s *mainSet) changeBytes() int {
	return s.ndirty*outEntryBytes + s.dirty.n*dirtyEntryBytes + (len(s.bal)+len(s.replaced))*balEntryBytes
}

// memBytes estimates the memory of all entries.
func (s *mainSet) memBytes() int {
	return len(s.outs)*outEntryBytes + s.dirty.n*dirtyEntryBytes + (len(s.bal)+len(s.replaced))*balEntryBytes
}

// full reports whether the set should be stored with the next commit:
// its changes outgrew their share of the budget, or all entries the
// budget.
func (s *mainSet) full() bool {
	return s.changeBytes() > s.dirtyLimit || s.memBytes() > s.limit
}

func (s *mainSet) take(op *wire.OutPoint) (utxo, bool, error) {
	c, ok := s.outs[*op]
	if !ok {
		u, ok, err := s.get(op)
		if ok {
			s.remove(nil, &u)
		}
		return u, ok, err
	}
	if c.state == outGone {
		return utxo{}, false, nil
	}
	u := c.utxo(op)
	s.spend(op, c, &u)
	return u, true, nil
}

func (s *mainSet) get(op *wire.OutPoint) (utxo, bool, error) {
	if c, ok := s.outs[*op]; ok {
		if c.state == outGone {
			return utxo{}, false, nil
		}
		return c.utxo(op), true, nil
	}
	s.misses++
	var k [outpointKeyLen]byte
	putOutpointKey(k[:], op)
	v, closer, err := s.db.Get(k[:])
	if errors.Is(err, pebble.ErrNotFound) {
		return utxo{}, false, nil
	}
	if err != nil {
		return utxo{}, false, fmt.Errorf("index: read outpoint %s: %w", op, err)
	}
	defer closer.Close()
	u, err := decodeOutpointVal(op, v)
	if err != nil {
		return utxo{}, false, err
	}
	// Cached: the caller spends it next (remove), or a disconnect
	// looks at it once.
	s.outs[*op] = newCachedOut(&u, outClean)
	return u, true, nil
}

// list puts op on the dirty list (c is its entry, about to be stored).
func (s *mainSet) list(op *wire.OutPoint, c *cachedOut) {
	if !c.listed {
		c.listed = true
		s.dirty.add(op)
	}
}

func (s *mainSet) add(_ *entryWriter, u *utxo) {
	op := u.outpoint()
	s.bal[u.sh] += u.value
	c, ok := s.outs[op]
	if ok && c.state != outStaged {
		if c.utxo(&op) == *u {
			// A disconnect restores the stored output it spent:
			// the stored rows are right again.
			if c.state == outGone {
				s.ndirty--
			}
			c.state = outClean
			s.outs[op] = c
			return
		}
		// A repeated coinbase txid (duplicateTxids) replaces a stored
		// output: its rows go before the new ones are written.
		if c.state == outGone {
			s.ndirty--
		}
		s.replaced[op] = c.utxo(&op)
	}
	nc := newCachedOut(u, outStaged)
	nc.listed = ok && c.listed
	s.list(&op, &nc)
	s.outs[op] = nc
	s.ndirty++
}

func (s *mainSet) remove(_ *entryWriter, u *utxo) {
	op := u.outpoint()
	c, ok := s.outs[op]
	if !ok {
		c = newCachedOut(u, outClean)
	}
	if c.state != outGone {
		s.spend(&op, c, u)
	}
}

// spend records that the output u of op, held as c (clean or staged), is
// spent.
func (s *mainSet) spend(op *wire.OutPoint, c cachedOut, u *utxo) {
	s.bal[u.sh] -= u.value
	if c.state == outStaged {
		// Created and spent since the set tip: never stored.
		delete(s.outs, *op)
		s.ndirty--
		old, ok := s.replaced[*op]
		if !ok {
			return
		}
		// The stored output it replaced is still to delete.
		delete(s.replaced, *op)
		listed := c.listed
		c = newCachedOut(&old, outClean)
		c.listed = listed
	}
	c.state = outGone
	s.list(op, &c)
	s.outs[*op] = c
	s.ndirty++
}

// flush writes the changes since the set tip: deletions of spent stored
// outputs (single deletes: each row was set once), the staged outputs and
// the balance changes as merge operands; the writer sorts them with the
// rest of the batch. It also moves each entry to its state after the
// commit (staged outputs become clean, gone ones leave the map), in the
// same visit, so an outpoint listed twice (spent, restored by a
// disconnect and spent again) is written once, and flushed need not walk
// the list again (each visit costs map lookups in a map of millions:
// two walks were a tenth of a sync's CPU). The caller writes the new set
// tip in the same batch and calls flushed once it is committed, or clear,
// with a replay, if the commit failed: the entries no longer describe the
// stored set until one of them runs.
func (s *mainSet) flush(w *entryWriter) {
	for op, u := range s.replaced {
		s.delRows(w, &op, &u)
	}
	for op := range s.dirty.all() {
		c, ok := s.outs[*op]
		if !ok {
			continue
		}
		switch c.state {
		case outGone:
			u := c.utxo(op)
			s.delRows(w, op, &u)
			delete(s.outs, *op)
			continue
		case outStaged:
			u := c.utxo(op)
			k, v := w.set(unspentKeyLen, unspentValLen)
			putUnspentKey(k, &u)
			putUnspentVal(v, &u)
			k, v = w.set(outpointKeyLen, outpointValLen)
			putOutpointKey(k, op)
			putOutpointVal(v, &u)
		default:
			if !c.listed {
				continue
			}
		}
		c.state, c.listed = outClean, false
		s.outs[*op] = c
	}
	s.settled = true
	var v [balanceValLen]byte
	for sh, d := range s.bal {
		if d != 0 {
			be.PutUint64(v[:], uint64(d))
			w.merge(balanceKey(&sh), v[:])
		}
	}
}

func (s *mainSet) delRows(w *entryWriter, op *wire.OutPoint, u *utxo) {
	var k [unspentKeyLen]byte
	putUnspentKey(k[:], u)
	w.singleDel(k[:])
	var pk [outpointKeyLen]byte
	putOutpointKey(pk[:], op)
	w.singleDel(pk[:])
}

// flushed runs after a commit holding flush: the staged outputs are
// stored now and stay as clean entries, the gone ones are forgotten (flush
// moved them already; without a flush, as in tests, it is done here), and
// when the entries outgrow the budget the oldest clean ones are dropped
// down to three quarters of it (old outputs are the least likely to be
// spent soon; the slack spares an eviction pass per commit).
func (s *mainSet) flushed() {
	if !s.settled {
		for op := range s.dirty.all() {
			c, ok := s.outs[*op]
			if !ok {
				continue
			}
			if c.state == outGone {
				delete(s.outs, *op)
				continue
			}
			c.state, c.listed = outClean, false
			s.outs[*op] = c
		}
	}
	s.settled = false
	s.dirty.reset()
	s.ndirty = 0
	s.replaced = make(map[wire.OutPoint]utxo)
	s.bal = make(map[[32]byte]int64)
	if s.memBytes() > s.limit {
		s.evict(s.limit / 4 * 3)
	}
}

// evict drops clean entries, oldest height first, until the entries take
// at most target bytes. It runs right after flushed, when every entry is
// clean.
func (s *mainSet) evict(target int) {
	drop := len(s.outs) - target/outEntryBytes
	if drop <= 0 {
		return
	}
	count := make(map[int32]int)
	for _, c := range s.outs {
		count[c.height]++
	}
	heights := make([]int32, 0, len(count))
	for h := range count {
		heights = append(heights, h)
	}
	slices.Sort(heights)
	// Every entry below heights[i] goes, and extra of those at it.
	i, n := 0, 0
	for i < len(heights) && n+count[heights[i]] <= drop {
		n += count[heights[i]]
		i++
	}
	cut, extra := int32(math.MaxInt32), drop-n
	if i < len(heights) {
		cut = heights[i]
	}
	for op, c := range s.outs {
		if c.height < cut {
			delete(s.outs, op)
		} else if c.height == cut && extra > 0 {
			delete(s.outs, op)
			extra--
		}
	}
	s.evicted += uint64(drop)
}

// outpointList is mainSet's dirty list: outpoints appended in chunks of
// fixed size, so appending never copies what the list holds (a slice
// grown by doubling copied the whole list again and again: 5% of a 500k
// sync's CPU). reset drops the chunks: the set's budget counts
// dirtyEntryBytes per listed entry only, so none may stay behind.
type outpointList struct {
	chunks [][]wire.OutPoint
	n      int
}

const outpointChunk = 4096

func (l *outpointList) add(op *wire.OutPoint) {
	c := l.n / outpointChunk
	if c == len(l.chunks) {
		l.chunks = append(l.chunks, make([]wire.OutPoint, outpointChunk))
	}
	l.chunks[c][l.n%outpointChunk] = *op
	l.n++
}

// all yields the outpoints in the order they were added.
func (l *outpointList) all() iter.Seq[*wire.OutPoint] {
	return func(yield func(*wire.OutPoint) bool) {
		for i := 0; i < l.n; i += outpointChunk {
			chunk := l.chunks[i/outpointChunk][:min(outpointChunk, l.n-i)]
			for j := range chunk {
				if !yield(&chunk[j]) {
					return
				}
			}
		}
	}
}

func (l *outpointList) reset() { *l = outpointList{} }

// balanceMerger sums balance operands (8-byte big-endian two's-complement
// int64s): the stored balance of a script is the sum of every batch's
// change to it, folded by reads and compactions. Its name is part of the
// on-disk format (pebble refuses a database made with another merger).
var balanceMerger = &pebble.Merger{
	Name: "hemi.btcindex.balance.v1",
	Merge: func(_, value []byte) (pebble.ValueMerger, error) {
		m := &balanceSum{}
		return m, m.MergeNewer(value)
	},
}

type balanceSum struct{ sum int64 }

func (m *balanceSum) MergeNewer(v []byte) error {
	d, err := decodeBalance(v)
	m.sum += d
	return err
}

func (m *balanceSum) MergeOlder(v []byte) error { return m.MergeNewer(v) }

func (m *balanceSum) Finish(bool) ([]byte, io.Closer, error) {
	return be.AppendUint64(nil, uint64(m.sum)), nil, nil
}

// forkSet is the unspent set of a side fork, for IndexFork: an overlay of
// the fork's own changes over the set at its fork point, which is the
// current set without what the main chain above the fork point changed
// (outputs created there are above the fork point's height; outputs spent
// there come back from those blocks' undo records).
type forkSet struct {
	db       *pebble.DB
	forkH    int32
	restored map[wire.OutPoint]utxo
	overlay  map[wire.OutPoint]*utxo // nil: spent on the fork
}

func (s *forkSet) get(op *wire.OutPoint) (utxo, bool, error) {
	if u, ok := s.overlay[*op]; ok {
		if u == nil {
			return utxo{}, false, nil
		}
		return *u, true, nil
	}
	if u, ok := s.restored[*op]; ok {
		return u, true, nil
	}
	var k [outpointKeyLen]byte
	putOutpointKey(k[:], op)
	v, closer, err := s.db.Get(k[:])
	if errors.Is(err, pebble.ErrNotFound) {
		return utxo{}, false, nil
	}
	if err != nil {
		return utxo{}, false, fmt.Errorf("index: read outpoint %s: %w", op, err)
	}
	defer closer.Close()
	u, err := decodeOutpointVal(op, v)
	if err != nil || u.height > s.forkH {
		return utxo{}, false, err
	}
	return u, true, nil
}

func (s *forkSet) take(op *wire.OutPoint) (utxo, bool, error) {
	u, ok, err := s.get(op)
	if ok {
		s.remove(nil, &u)
	}
	return u, ok, err
}

func (s *forkSet) add(_ *entryWriter, u *utxo) {
	c := *u
	s.overlay[u.outpoint()] = &c
}

func (s *forkSet) remove(_ *entryWriter, u *utxo) { s.overlay[u.outpoint()] = nil }

// newForkSet builds the set at fork, a block of the connected chain,
// reading the undo records of the connected blocks above it. ix.connMu
// held, no open batch.
func (ix *Index) newForkSet(fork *node) (*forkSet, error) {
	s := &forkSet{db: ix.db, forkH: fork.height, restored: make(map[wire.OutPoint]utxo),
		overlay: make(map[wire.OutPoint]*utxo)}
	ix.mu.RLock()
	above := append([]*node(nil), ix.main[fork.height+1:]...)
	ix.mu.RUnlock()
	for _, n := range above {
		undo, err := ix.blockSpends(n)
		if err != nil {
			return nil, err
		}
		for _, u := range undo {
			if u.height <= fork.height {
				s.restored[u.outpoint()] = u
			}
		}
	}
	return s, nil
}
