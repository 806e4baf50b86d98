package chaindb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/ethereum/go-ethereum/ethdb"

	"github.com/hemi-go/hemi/internal/pebblelog"
)

// L0CompactionThreshold is the chain database's: pebble compacts L0 into
// Lbase once L0 has L0CompactionThreshold/2 sublevels. Every memtable
// flush of the chain is one sublevel spanning the whole key space (trie
// nodes are keyed by their hash), so every such compaction rewrites all
// of Lbase. go-ethereum's wrapper sets 2, a compaction after every flush,
// which kept about 5% of the l2-import benchmark's CPU (ERC-20 kind) in
// compactions that a later flush made redo; with 32, Lbase is rewritten
// once per 16 flushes (512 MiB of writes with the default 256 MiB cache)
// and a read that misses the caches checks at most 16 more bloom filters.
const L0CompactionThreshold = 32

// L0StopWritesThreshold stops writes when L0 has this many sublevels,
// far above the compaction trigger, so a burst of flushes slows nothing
// while its compaction runs.
const L0StopWritesThreshold = 4 * L0CompactionThreshold

// memTables is how many memtables share half of the cache, as in
// go-ethereum's wrapper.
const memTables = 4

// Options configures Open.
type Options struct {
	// Dir is the database directory.
	Dir string
	// CacheMB is the block cache; memtables take half of it, in four
	// (at least 16).
	CacheMB int
	// Handles is the most open files (at least 16).
	Handles int
	// Logger receives pebble's messages (at Debug; errors at Warn).
	Logger *slog.Logger
}

// DB is an ethdb.KeyValueStore over pebble. Writes are not synced;
// SyncKeyValue makes every earlier write durable.
type DB struct {
	db  *pebble.DB
	dir string

	mu     sync.RWMutex // guards closed against operations in flight
	closed bool
}

var _ ethdb.KeyValueStore = (*DB)(nil)

// pebbleOptions are go-ethereum's (ethdb/pebble.New: memtables, bloom
// filters, file sizes, compaction concurrency, no read-triggered
// compactions, format) with the chain's L0 thresholds.
func pebbleOptions(o Options) *pebble.Options {
	cache := max(o.CacheMB, 16)
	po := &pebble.Options{
		Cache:                       pebble.NewCache(int64(cache) << 20),
		MaxOpenFiles:                max(o.Handles, 16),
		MemTableSize:                uint64(cache) << 20 / 2 / memTables,
		MemTableStopWritesThreshold: memTables * 2,
		CompactionConcurrencyRange:  func() (int, int) { return 1, runtime.NumCPU() },
		L0CompactionThreshold:       L0CompactionThreshold,
		L0StopWritesThreshold:       L0StopWritesThreshold,
		WALBytesPerSync:             5 * ethdb.IdealBatchSize,
		FormatMajorVersion:          pebble.FormatFlushableIngest,
		Logger:                      pebblelog.Logger{Log: o.Logger},
		TargetFileSizes:             [7]int64{16 << 20, 4 << 20, 8 << 20, 16 << 20, 32 << 20, 64 << 20, 128 << 20},
	}
	for i := range 6 {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	po.Experimental.ReadSamplingMultiplier = -1
	po.Experimental.L0CompactionConcurrency = 1
	po.Experimental.CompactionDebtConcurrency = 1 << 28
	return po
}

// Open opens (or creates) the database in o.Dir.
func Open(o Options) (*DB, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	po := pebbleOptions(o)
	defer po.Cache.Unref() // the database holds its own reference
	db, err := pebble.Open(o.Dir, po)
	if err != nil {
		return nil, err
	}
	return &DB{db: db, dir: o.Dir}, nil
}

// enter starts an operation; it fails once the database is closed.
func (d *DB) enter() error {
	d.mu.RLock()
	if d.closed {
		d.mu.RUnlock()
		return pebble.ErrClosed
	}
	return nil
}

func (d *DB) leave() { d.mu.RUnlock() }

// Close flushes the memtables into tables, so the next open replays no
// write-ahead log (go-ethereum's wrapper closes without flushing, and a
// long node's restart replayed up to eight memtables), closes the
// database and tidies its write-ahead logs (pebblelog.Close). Later calls
// do nothing.
func (d *DB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	return pebblelog.Close(d.db, d.dir)
}

// Has reports whether key is stored.
func (d *DB) Has(key []byte) (bool, error) {
	if err := d.enter(); err != nil {
		return false, err
	}
	defer d.leave()
	_, closer, err := d.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, closer.Close()
}

// Get returns a copy of key's value, or pebble.ErrNotFound.
func (d *DB) Get(key []byte) ([]byte, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	v, closer, err := d.db.Get(key)
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), v...)
	if out == nil {
		out = []byte{}
	}
	return out, closer.Close()
}

// Put stores key's value.
func (d *DB) Put(key, value []byte) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	return d.db.Set(key, value, pebble.NoSync)
}

// Delete removes key.
func (d *DB) Delete(key []byte) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	return d.db.Delete(key, pebble.NoSync)
}

// DeleteRange removes the keys in [start, end); a nil end is after every
// key the chain writes (ethdb.MaximumKey, as go-ethereum's wrapper).
func (d *DB) DeleteRange(start, end []byte) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	if end == nil {
		end = ethdb.MaximumKey
	}
	return d.db.DeleteRange(start, end, pebble.NoSync)
}

// Stat returns pebble's metrics as text.
func (d *DB) Stat() (string, error) {
	if err := d.enter(); err != nil {
		return "", err
	}
	defer d.leave()
	return d.db.Metrics().String(), nil
}

// Compact compacts [start, limit) (nil: the whole database).
func (d *DB) Compact(start, limit []byte) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	if limit == nil {
		limit = ethdb.MaximumKey
	}
	return d.db.Compact(context.Background(), start, limit, true)
}

// SyncKeyValue makes every earlier write durable: a synced empty log
// record syncs the write-ahead log up to it.
func (d *DB) SyncKeyValue() error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	b := d.db.NewBatch()
	if err := b.LogData(nil, nil); err != nil {
		return err
	}
	return d.db.Apply(b, pebble.Sync)
}

// NewBatch returns an empty batch.
func (d *DB) NewBatch() ethdb.Batch { return &batch{b: d.db.NewBatch(), db: d} }

// NewBatchWithSize returns an empty batch with size bytes preallocated.
func (d *DB) NewBatchWithSize(size int) ethdb.Batch {
	return &batch{b: d.db.NewBatchWithSize(size), db: d}
}

// batch buffers writes until Write; not safe for concurrent use.
type batch struct {
	b    *pebble.Batch
	db   *DB
	size int
}

func (b *batch) Put(key, value []byte) error {
	if err := b.b.Set(key, value, nil); err != nil {
		return err
	}
	b.size += len(key) + len(value)
	return nil
}

func (b *batch) Delete(key []byte) error {
	if err := b.b.Delete(key, nil); err != nil {
		return err
	}
	b.size += len(key)
	return nil
}

func (b *batch) DeleteRange(start, end []byte) error {
	if end == nil {
		end = ethdb.MaximumKey
	}
	if err := b.b.DeleteRange(start, end, nil); err != nil {
		return err
	}
	b.size += len(start) + len(end)
	return nil
}

// ValueSize is the bytes of keys and values buffered.
func (b *batch) ValueSize() int { return b.size }

// Write commits the batch (not synced).
func (b *batch) Write() error {
	if err := b.db.enter(); err != nil {
		return err
	}
	defer b.db.leave()
	return b.b.Commit(pebble.NoSync)
}

func (b *batch) Reset() {
	b.b.Reset()
	b.size = 0
}

// Replay writes the batch's operations, in order, into w.
func (b *batch) Replay(w ethdb.KeyValueWriter) error {
	r := b.b.Reader()
	for {
		kind, k, v, ok, err := r.Next()
		if !ok || err != nil {
			return err
		}
		switch kind {
		case pebble.InternalKeyKindSet:
			err = w.Put(k, v)
		case pebble.InternalKeyKindDelete:
			err = w.Delete(k)
		case pebble.InternalKeyKindRangeDelete:
			rd, ok := w.(ethdb.KeyValueRangeDeleter)
			if !ok {
				return errors.New("chaindb: replay: the writer cannot delete a range")
			}
			err = rd.DeleteRange(k, v)
		default:
			return fmt.Errorf("chaindb: replay: operation kind %v", kind)
		}
		if err != nil {
			return err
		}
	}
}

func (b *batch) Close() { b.b.Close() }

// NewIterator iterates the keys with prefix from prefix||start on, in
// order.
func (d *DB) NewIterator(prefix, start []byte) ethdb.Iterator {
	lower := append(append(make([]byte, 0, len(prefix)+len(start)), prefix...), start...)
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upperBound(prefix)})
	if err != nil {
		return &iterator{err: err}
	}
	it.First()
	return &iterator{it: it, first: true}
}

// upperBound is the smallest key above every key with prefix (nil: none).
func upperBound(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xff {
			limit := append([]byte(nil), prefix[:i+1]...)
			limit[i]++
			return limit
		}
	}
	return nil
}

type iterator struct {
	it       *pebble.Iterator
	err      error // NewIter's
	first    bool  // positioned by First, not yet returned by Next
	released bool
}

func (i *iterator) Next() bool {
	if i.it == nil {
		return false
	}
	if i.first {
		i.first = false
		return i.it.Valid()
	}
	return i.it.Next()
}

func (i *iterator) Error() error {
	if i.it == nil {
		return i.err
	}
	return i.it.Error()
}

func (i *iterator) Key() []byte {
	if i.it == nil || !i.it.Valid() {
		return nil
	}
	return i.it.Key()
}

func (i *iterator) Value() []byte {
	if i.it == nil || !i.it.Valid() {
		return nil
	}
	return i.it.Value()
}

func (i *iterator) Release() {
	if i.it != nil && !i.released {
		i.it.Close()
		i.released = true
	}
}
