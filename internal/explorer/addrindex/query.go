package addrindex

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ethereum/go-ethereum/common"
)

// MaxPageSize bounds a page's size (Otterscan asks for 25).
const MaxPageSize = 1000

// Entry is one transaction of an address's history.
type Entry struct {
	Number uint64
	Index  uint32 // position in the block, system transactions first
	Flags  byte   // Flag*
	// BlockHash is the block the entry was indexed from (canonical
	// unless the index is behind a reorg for a moment), Time its
	// timestamp.
	BlockHash common.Hash
	Time      uint64
	// Tx is the transaction as the index keeps it.
	Tx TxInfo
}

// Page is one page of an address's history, newest first.
type Page struct {
	Entries []Entry
	// More: the history goes on past the page in the direction searched.
	More bool
}

// Before pages addr's history backwards from block (exclusive; 0: from
// the newest block): at least pageSize entries unless the history ends,
// completed to the end of the last block reached (Otterscan's paging),
// newest first. Only entries with a flag in mask count (0: every entry).
func (ix *Index) Before(addr common.Address, block uint64, pageSize int, mask byte) (Page, error) {
	upper := uint64(math.MaxUint64)
	if block != 0 {
		upper = block
	}
	return ix.page(addr, 0, upper, pageSize, mask, true)
}

// After pages addr's history forwards from block (exclusive; 0: from the
// genesis), the same way, and returns the page newest first.
func (ix *Index) After(addr common.Address, block uint64, pageSize int, mask byte) (Page, error) {
	p, err := ix.page(addr, block+1, math.MaxUint64, pageSize, mask, false)
	for i, j := 0, len(p.Entries)-1; i < j; i, j = i+1, j-1 {
		p.Entries[i], p.Entries[j] = p.Entries[j], p.Entries[i]
	}
	return p, err
}

// page walks addr's entries in blocks [lo, hi) in one direction.
func (ix *Index) page(addr common.Address, lo, hi uint64, pageSize int, mask byte, backward bool) (Page, error) {
	if pageSize <= 0 || pageSize > MaxPageSize {
		return Page{}, fmt.Errorf("addrindex: page size %d: want 1 to %d", pageSize, MaxPageSize)
	}
	if mask == 0 {
		mask = 0xff
	}
	snap := ix.db.NewSnapshot()
	defer snap.Close()
	opts := &pebble.IterOptions{LowerBound: entryKey(addr, lo, 0)}
	if hi == math.MaxUint64 {
		opts.UpperBound = append([]byte{pfxEntry}, addr[:]...)
		opts.UpperBound = append(opts.UpperBound, bytesMax(12)...)
	} else {
		opts.UpperBound = entryKey(addr, hi, 0)
	}
	it, err := snap.NewIter(opts)
	if err != nil {
		return Page{}, fmt.Errorf("addrindex: iterate: %w", err)
	}
	defer it.Close()
	var (
		out     Page
		valid   bool
		lastNum uint64
	)
	if backward {
		valid = it.Last()
	} else {
		valid = it.First()
	}
	for ; valid; valid = step(it, backward) {
		k := it.Key()
		if len(k) != 1+common.AddressLength+12 {
			return Page{}, fmt.Errorf("%w: entry key of %d bytes", ErrCorrupt, len(k))
		}
		v := it.Value()
		if len(v) == 0 {
			return Page{}, fmt.Errorf("%w: empty entry", ErrCorrupt)
		}
		if v[0]&mask == 0 {
			continue
		}
		n := binary.BigEndian.Uint64(k[1+common.AddressLength:])
		if len(out.Entries) >= pageSize && n != lastNum {
			out.More = true
			break
		}
		lastNum = n
		index := binary.BigEndian.Uint32(k[1+common.AddressLength+8:])
		flags, tx, err := decodeEntry(v)
		if err != nil {
			return Page{}, fmt.Errorf("block %d transaction %d: %w", n, index, err)
		}
		out.Entries = append(out.Entries, Entry{Number: n, Index: index, Flags: flags, Tx: tx})
	}
	if err := it.Error(); err != nil {
		return Page{}, fmt.Errorf("addrindex: iterate: %w", err)
	}
	if err := blockRecords(snap, out.Entries, backward); err != nil {
		return Page{}, err
	}
	return out, nil
}

// blockRecords sets each entry's block hash and time from the block
// records of snap, read with one iterator in ascending order: a page's
// blocks are near each other, so each seek after the first mostly steps
// within the data block the previous one loaded (a point read each
// would walk every level again: it was a page's largest cost). Entries
// are in one block order, descending when backward.
func blockRecords(snap *pebble.Snapshot, entries []Entry, backward bool) error {
	if len(entries) == 0 {
		return nil
	}
	lo, hi := entries[0].Number, entries[len(entries)-1].Number
	if backward {
		lo, hi = hi, lo
	}
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: numKey(pfxHash, lo), UpperBound: numKey(pfxHash, hi+1)})
	if err != nil {
		return fmt.Errorf("addrindex: iterate: %w", err)
	}
	defer it.Close()
	var (
		key  = make([]byte, 0, 9)
		hash common.Hash
		time uint64
		have = false
		last uint64
	)
	for j := range entries {
		i := j
		if backward {
			i = len(entries) - 1 - j
		}
		e := &entries[i]
		if !have || e.Number != last {
			key = binary.BigEndian.AppendUint64(append(key[:0], pfxHash), e.Number)
			if !it.SeekGE(key) || !bytes.Equal(it.Key(), key) {
				if err := it.Error(); err != nil {
					return fmt.Errorf("addrindex: iterate: %w", err)
				}
				return fmt.Errorf("%w: entry of block %d without its block record", ErrCorrupt, e.Number)
			}
			if hash, time, err = decodeBlockRecord(it.Value()); err != nil {
				return err
			}
			have, last = true, e.Number
		}
		e.BlockHash, e.Time = hash, time
	}
	return nil
}

func step(it *pebble.Iterator, backward bool) bool {
	if backward {
		return it.Prev()
	}
	return it.Next()
}

func bytesMax(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 0xff
	}
	return b
}

// BlockTxs returns the records of the transactions at positions [from,
// to) of block number (fewer where the block ends), if the index holds
// that block as hash; ok is false when it does not (not indexed yet, or
// indexed on another branch): the caller reads the block instead.
func (ix *Index) BlockTxs(number uint64, hash common.Hash, from, to int) (txs []TxInfo, ok bool, err error) {
	if from < 0 || to < from || to-from > MaxPageSize {
		return nil, false, fmt.Errorf("addrindex: transactions %d to %d: want at most %d from 0 on", from, to, MaxPageSize)
	}
	snap := ix.db.NewSnapshot()
	defer snap.Close()
	hv, closer, err := snap.Get(numKey(pfxHash, number))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("addrindex: read: %w", err)
	}
	h, _, err := decodeBlockRecord(hv)
	closer.Close()
	if err != nil || h != hash {
		return nil, false, err
	}
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: txKey(number, uint32(from)), UpperBound: txKey(number, uint32(to))})
	if err != nil {
		return nil, false, fmt.Errorf("addrindex: iterate: %w", err)
	}
	defer it.Close()
	for valid := it.First(); valid; valid = it.Next() {
		if want := txKey(number, uint32(from+len(txs))); !bytes.Equal(it.Key(), want) {
			return nil, false, fmt.Errorf("%w: block %d has no record of transaction %d", ErrCorrupt, number, from+len(txs))
		}
		t, err := decodeTxRecord(it.Value())
		if err != nil {
			return nil, false, fmt.Errorf("block %d transaction %d: %w", number, from+len(txs), err)
		}
		txs = append(txs, t)
	}
	if err := it.Error(); err != nil {
		return nil, false, fmt.Errorf("addrindex: iterate: %w", err)
	}
	return txs, true, nil
}
