package index

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/cockroachdb/pebble/v2"
)

// utxoStore is the unspent set a block is applied to: the current set at
// the block tip (mainSet, while connecting) or an overlay over the state
// at a side fork's parent (forkSet, for IndexFork).
type utxoStore interface {
	// get returns the unspent output op, if the set holds it.
	get(op *wire.OutPoint) (utxo, bool, error)
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
		st.remove(w, u)
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
				u, ok, err := st.get(&in.PreviousOutPoint)
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
				u, ok, err := st.get(&wire.OutPoint{Hash: *txid, Index: uint32(v)})
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

// utxoCacheEntryBytes estimates one cached outpoint's memory: key and
// value plus Go map overhead.
const utxoCacheEntryBytes = 128

// mainSet is the current unspent set at the connector's (staged) tip: the
// u, p and a tables, which hold the set at the set tip (utxoIndexName's
// tip, a block of the connected chain at or below the block tip), plus
// the changes of the blocks connected since, held in memory: outputs
// created (staged), outputs of the stored set spent (gone) and balance
// changes (bal). flush writes them into a commit and moves the set tip
// to that commit's tip. The connector flushes when the batch reaches the
// best header or holds a reorg (so a node following the tip stores the
// set with every block) and when the staged changes outgrow their budget;
// during a sync most outputs are created and spent between two flushes
// and never reach the database. A crash loses only what the change
// records already hold: Open replays the blocks above the set tip.
//
// cur and prev are a cache of stored outputs (two generations; the older
// one is dropped when over budget), so most spends read nothing.
type mainSet struct {
	db        *pebble.DB
	limit     int
	cur, prev map[wire.OutPoint]utxo // stored outputs, cached
	staged    map[wire.OutPoint]utxo // created since the set tip
	gone      map[wire.OutPoint]utxo // stored, spent since the set tip
	bal       map[[32]byte]int64     // balance changes since the set tip
}

func newMainSet(db *pebble.DB, limit int) *mainSet {
	s := &mainSet{db: db, limit: limit}
	s.clear()
	return s
}

// clear empties the cache and forgets every change since the set tip, as
// after a failed commit; the caller replays from the set tip.
func (s *mainSet) clear() {
	s.cur = make(map[wire.OutPoint]utxo)
	s.prev = make(map[wire.OutPoint]utxo)
	s.staged = make(map[wire.OutPoint]utxo)
	s.gone = make(map[wire.OutPoint]utxo)
	s.bal = make(map[[32]byte]int64)
}

// dirty reports whether changes since the set tip are held in memory.
func (s *mainSet) dirty() bool { return len(s.staged)+len(s.gone)+len(s.bal) > 0 }

// full reports whether the changes held in memory outgrew half the
// budget (the cache of stored outputs has the other half).
func (s *mainSet) full() bool {
	return (len(s.staged)+len(s.gone)+len(s.bal))*utxoCacheEntryBytes > s.limit/2
}

func (s *mainSet) get(op *wire.OutPoint) (utxo, bool, error) {
	if u, ok := s.staged[*op]; ok {
		return u, true, nil
	}
	if _, ok := s.gone[*op]; ok {
		return utxo{}, false, nil
	}
	if u, ok := s.cur[*op]; ok {
		return u, true, nil
	}
	if u, ok := s.prev[*op]; ok {
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
	return u, err == nil, err
}

func (s *mainSet) add(_ *entryWriter, u *utxo) {
	s.staged[u.outpoint()] = *u
	s.bal[u.sh] += u.value
}

func (s *mainSet) remove(_ *entryWriter, u *utxo) {
	op := u.outpoint()
	s.bal[u.sh] -= u.value
	if _, ok := s.staged[op]; ok {
		delete(s.staged, op)
		return
	}
	delete(s.cur, op)
	delete(s.prev, op)
	s.gone[op] = *u
}

// flush writes the changes since the set tip: deletions of spent stored
// outputs (single deletes: each row was set once), then the staged
// outputs, then the balance changes as merge operands. The caller writes
// the new set tip in the same batch.
func (s *mainSet) flush(w *entryWriter) {
	for op, u := range s.gone {
		var k [unspentKeyLen]byte
		putUnspentKey(k[:], &u)
		w.singleDel(k[:])
		var pk [outpointKeyLen]byte
		putOutpointKey(pk[:], &op)
		w.singleDel(pk[:])
	}
	for op, u := range s.staged {
		k, v := w.set(unspentKeyLen, unspentValLen)
		putUnspentKey(k, &u)
		putUnspentVal(v, &u)
		k, v = w.set(outpointKeyLen, outpointValLen)
		putOutpointKey(k, &op)
		putOutpointVal(v, &u)
	}
	var v [balanceValLen]byte
	for sh, d := range s.bal {
		if d != 0 {
			be.PutUint64(v[:], uint64(d))
			w.merge(balanceKey(&sh), v[:])
		}
	}
}

// flushed runs after a commit holding flush: the staged outputs are
// stored now and join the cache, which drops its older generation when
// over budget.
func (s *mainSet) flushed() {
	for op, u := range s.staged {
		s.cur[op] = u
	}
	s.staged = make(map[wire.OutPoint]utxo)
	s.gone = make(map[wire.OutPoint]utxo)
	s.bal = make(map[[32]byte]int64)
	if (len(s.cur)+len(s.prev))*utxoCacheEntryBytes > s.limit/2 {
		s.prev, s.cur = s.cur, make(map[wire.OutPoint]utxo, len(s.cur)/2)
	}
}

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
