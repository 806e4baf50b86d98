package index

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/cockroachdb/pebble/v2"
)

// Reads returns the number of database reads the queries by script
// (Balance, UTXOs, Outputs) made since Open: each point read, iterator
// seek and iterator step counts one (Outputs counts one per output walked
// and one per spend lookup). Change records served from the memo of
// change sets (see "Per-script unspent set") count 0: only the query that
// read them counts them.
// Tests and benchmarks use it to check that a query's work is bounded by
// its input (the package documentation states the bound), not by the
// address's history. Counting costs one atomic add per query.
func (ix *Index) Reads() uint64 { return ix.reads.Load() }

// Balance returns the sum of the outputs paying script that are unspent as
// of asOf (zero: the block tip). See "Per-script unspent set" in the
// package documentation for the reads it makes.
func (ix *Index) Balance(script []byte, asOf chainhash.Hash) (int64, error) {
	sh := sha256.Sum256(script)
	var total int64
	err := ix.query(asOf, func(v *view) error {
		var reads uint64
		defer func() { ix.reads.Add(reads) }()
		k := balanceKey(&sh)
		reads++
		val, closer, err := ix.snap.Get(k)
		switch {
		case errors.Is(err, pebble.ErrNotFound):
		case err != nil:
			return fmt.Errorf("index: read balance: %w", err)
		default:
			total, err = decodeBalance(val)
			_ = closer.Close()
			if err != nil {
				return err
			}
		}
		if ix.isTipView(v) {
			return nil
		}
		d, err := ix.viewChanges(v, &sh, &reads)
		if err != nil {
			return err
		}
		total += d.balance
		return nil
	})
	return total, err
}

// UTXOs returns page number page (from 0) of pageSize unspent outputs paying
// script as of asOf, ordered by height, position in block, then output
// index. pageSize <= 0 means 10. See "Per-script unspent set" in the
// package documentation for the reads it makes.
func (ix *Index) UTXOs(script []byte, page, pageSize int, asOf chainhash.Hash) ([]UTXO, error) {
	if pageSize <= 0 {
		pageSize = 10
	}
	page = max(page, 0)
	skip := page * pageSize
	sh := sha256.Sum256(script)
	var out []UTXO
	err := ix.query(asOf, func(v *view) error {
		var reads uint64
		defer func() { ix.reads.Add(reads) }()
		d := &changes{}
		if !ix.isTipView(v) {
			var err error
			if d, err = ix.viewChanges(v, &sh, &reads); err != nil {
				return err
			}
		}
		// Stored rows above the base are all replaced by the overlay:
		// every output created there is in a change record.
		lower := make([]byte, 1+32, 1+32+4)
		lower[0] = pfxUnspent
		copy(lower[1:], sh[:])
		upper := be.AppendUint32(slices.Clone(lower), uint32(ix.base(v).height)+1)
		it, err := ix.snap.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
		if err != nil {
			return fmt.Errorf("index: unspent outputs: %w", err)
		}
		defer it.Close()
		var (
			row   utxo
			rowOK bool
			first = true
		)
		// next positions row on the next stored output the overlay
		// does not replace.
		next := func() error {
			for {
				reads++
				if first {
					rowOK, first = it.SeekPrefixGE(lower), false
				} else {
					rowOK = it.Next()
				}
				if !rowOK {
					return it.Error()
				}
				val, err := it.ValueAndErr()
				if err != nil {
					return fmt.Errorf("index: unspent outputs: %w", err)
				}
				if row, err = decodeUnspent(it.Key(), val); err != nil {
					return err
				}
				if !d.replaced(row.ord()) {
					return nil
				}
			}
		}
		if err := next(); err != nil {
			return err
		}
		// d is shared (memoized): adds is only resliced, and u points
		// into it read-only.
		adds := d.adds
		for len(out) < pageSize {
			var u *utxo
			switch {
			case rowOK && (len(adds) == 0 || row.ord().less(adds[0].ord())):
				u = &row
			case len(adds) > 0:
				u, adds = &adds[0], adds[1:]
			default:
				return nil
			}
			if skip > 0 {
				skip--
			} else {
				n := ix.at(v, u.height)
				if n == nil {
					return fmt.Errorf("%w: unspent output %s at height %d above the view", ErrCorrupt, u.outpoint(), u.height)
				}
				out = append(out, UTXO{Outpoint: wire.OutPoint{Hash: u.txid, Index: u.vout}, Value: u.value,
					Height: u.height, BlockHash: n.hash, Index: u.pos})
				if len(out) == pageSize {
					return nil
				}
			}
			if u == &row {
				if err := next(); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return out, err
}

// isTipView reports whether v is the block the stored unspent set is at
// (the connected chain's tip, but during a sync or right after a
// restart). ix.mu held.
func (ix *Index) isTipView(v *view) bool { return v.tip == ix.setTip }

// base returns the highest block both v and the stored set contain: v's
// fork point with the connected chain, or the set tip when lower. The
// stored set's rows up to its height are v's but for the changes of the
// blocks above it. ix.mu held.
func (ix *Index) base(v *view) *node {
	if v.fork.height < ix.setTip.height {
		return v.fork
	}
	return ix.setTip
}

// changes is how a view's unspent set of one script differs from the
// current set: the current set's outputs at the ords of adds and gone are
// replaced, by adds' outputs (unspent in the view) or by nothing (gone:
// not unspent in the view); balance is the difference. Both slices are in
// 0x41 order. Memoized values are shared: never modified once built.
type changes struct {
	adds    []utxo
	gone    []ord
	balance int64
}

// changesSince reads the change records of sh at heights above the base
// (see base) and turns them into the difference between the stored set
// and v's: the connected blocks from the base up to the set tip are
// undone (newest first), then v's own blocks above the base are replayed.
// Records of blocks in neither are skipped. ix.mu held.
func (ix *Index) changesSince(v *view, sh *[32]byte, reads *uint64) (changes, error) {
	var c changes
	overlay := make(map[ord]*utxo)
	f := ix.base(v).height
	set := ix.setTip
	prefix := make([]byte, 1+32, 1+32+4)
	prefix[0] = pfxChange
	copy(prefix[1:], sh[:])
	lower := be.AppendUint32(slices.Clone(prefix), uint32(f)+1)
	upper := be.AppendUint32(slices.Clone(prefix), uint32(max(set.height, v.tip.height))+1)
	it, err := ix.snap.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return c, fmt.Errorf("index: change records: %w", err)
	}
	defer it.Close()
	type rec struct {
		kind uint8
		u    utxo
	}
	var undo, redo []rec
	*reads++
	for ok := it.SeekPrefixGE(lower); ok; ok = it.Next() {
		*reads++
		k, err := decodeChangeKey(it.Key())
		if err != nil {
			return c, err
		}
		if int(k.id) >= len(ix.nodes) {
			continue // a block this process never loaded (written before a crash)
		}
		n := ix.nodes[k.id]
		inView := ix.at(v, n.height) == n
		main := !inView && n.height <= set.height && ix.onMain(n)
		if !main && !inView {
			continue
		}
		val, err := it.ValueAndErr()
		if err != nil {
			return c, fmt.Errorf("index: change records: %w", err)
		}
		u, err := decodeChange(&k, val)
		if err != nil {
			return c, err
		}
		if main {
			undo = append(undo, rec{k.kind, u})
		} else {
			redo = append(redo, rec{k.kind, u})
		}
	}
	if err := it.Error(); err != nil {
		return c, fmt.Errorf("index: change records: %w", err)
	}
	for i := len(undo) - 1; i >= 0; i-- {
		r := &undo[i]
		if r.kind == changeCreate {
			overlay[r.u.ord()] = nil
			c.balance -= r.u.value
		} else {
			overlay[r.u.ord()] = &r.u
			c.balance += r.u.value
		}
	}
	for i := range redo {
		r := &redo[i]
		if r.kind == changeCreate {
			overlay[r.u.ord()] = &r.u
			c.balance += r.u.value
		} else {
			overlay[r.u.ord()] = nil
			c.balance -= r.u.value
		}
	}
	for o, u := range overlay {
		if u != nil {
			c.adds = append(c.adds, *u)
		} else {
			c.gone = append(c.gone, o)
		}
	}
	slices.SortFunc(c.adds, func(a, b utxo) int { return cmpOrd(a.ord(), b.ord()) })
	slices.SortFunc(c.gone, cmpOrd)
	return c, nil
}
