package index

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hemi-go/hemi/internal/pebblelog"
)

// Config configures an Index. It is read once by Open.
type Config struct {
	// Dir is the pebble database directory; it is created if missing.
	Dir string

	// Params are the network's consensus parameters (genesis, PoW limit,
	// retarget rules, checkpoints). Required.
	Params *chaincfg.Params

	// Logger receives the index's logs; nil discards them.
	Logger *slog.Logger

	// Registerer, when set, gets the index's Prometheus metrics.
	Registerer prometheus.Registerer

	// CacheSize is pebble's block cache in bytes (default 64 MiB).
	CacheSize int64

	// MemTableSize is pebble's memtable size in bytes (default 32 MiB).
	// During a sync it holds only headers and raw blocks (the indexes
	// are ingested as tables), and two of it may wait for their flush.
	MemTableSize uint64

	// PendingBytes bounds the memory held by decoded blocks that arrived
	// ahead of the block tip (default 64 MiB). Beyond it, early blocks
	// are decoded again from disk when they connect.
	PendingBytes int

	// BatchBytes is the estimated memtable size at which the connector
	// commits a batch of contiguous blocks (default 33 MiB, about 11 MB of
	// entries; such a batch is ingested as a table, see ingest.go, or,
	// when it cannot be, taken by pebble as a flushable batch, which
	// skips the memtable). A batch always holds whole blocks.
	BatchBytes int

	// MaxBatchDelay bounds how long connected blocks may wait in an
	// uncommitted batch while more blocks are expected (default 1s). A
	// batch that reaches the best header, or holds a reorg, is committed
	// at once.
	MaxBatchDelay time.Duration

	// UTXOCacheBytes bounds the memory of the connector's cache of
	// unspent outputs and script balances (default 256 MiB, about 1.8
	// million outputs). Misses read the database, so it trades memory
	// for sync speed only: a sync whose unspent set fits never reads it.
	UTXOCacheBytes int

	// ChangeMemoBytes bounds the memory of the memo of per-script change
	// sets that answers Balance and UTXOs as of a view other than the
	// stored set's tip (default DefaultChangeMemoBytes; negative: no
	// memo). Without room, an address's change records above the view
	// are read again by each such query; see "Per-script unspent set".
	ChangeMemoBytes int

	// Now is the clock used by the header time checks (default time.Now).
	Now func() time.Time
}

func (c *Config) setDefaults() error {
	if c.Dir == "" {
		return errors.New("index: Config.Dir is empty: set the database directory")
	}
	if c.Params == nil {
		return errors.New("index: Config.Params is nil: set the network parameters")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.CacheSize <= 0 {
		c.CacheSize = 64 << 20
	}
	if c.MemTableSize == 0 {
		c.MemTableSize = 32 << 20
	}
	if c.PendingBytes <= 0 {
		c.PendingBytes = 64 << 20
	}
	if c.BatchBytes <= 0 {
		c.BatchBytes = 33 << 20
	}
	if c.MaxBatchDelay <= 0 {
		c.MaxBatchDelay = time.Second
	}
	if c.UTXOCacheBytes <= 0 {
		c.UTXOCacheBytes = 256 << 20
	}
	if c.ChangeMemoBytes == 0 {
		c.ChangeMemoBytes = DefaultChangeMemoBytes
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Index is the Bitcoin header chain, block store and indexes. It is safe for
// concurrent use. See the package documentation for its invariants.
type Index struct {
	cfg    Config
	params *chaincfg.Params
	log    *slog.Logger
	db     *pebble.DB
	m      *metrics

	blocksPerRetarget   int32
	minRetargetTimespan int64
	maxRetargetTimespan int64
	timeSource          clockTime

	// closeMu guards closed; every operation touching db holds it for
	// reading so Close waits for them.
	closeMu sync.RWMutex
	closed  bool
	done    chan struct{}
	wg      sync.WaitGroup

	// mu guards the header tree and the connected chain.
	mu       sync.RWMutex
	byHash   map[chainhash.Hash]*node
	nodes    []*node // by id
	hdrChain []*node // best header chain, by height
	main     []*node // connected chain, by height

	// connMu is held by the one goroutine connecting blocks; kick asks it
	// to look again.
	connMu  sync.Mutex
	kick    atomic.Bool
	nextSeq uint64     // next event sequence number; connMu
	open    *openBatch // staged blocks; connMu
	// writers are reused by open batches, two so that one can stage
	// while the other's batch commits in the background (connMu).
	writers [2]*entryWriter
	// inflight is the batch committing in the background, nil when
	// none; its result arrives on inflightDone (connMu).
	inflight     *openBatch
	inflightDone chan error
	timerArmed   bool // a flushLater is pending; connMu
	batchBytes   int
	// ingester takes full batches as sstables (ingest.go); used by
	// whoever commits, one at a time.
	ingester *ingester

	// utxos is the current unspent set as staged by the connector
	// (connMu); snap is the database as of the connected chain, read by
	// queries of the current set (mu).
	utxos *mainSet
	// utxoSeen is what utxoMetrics published of utxos' counters (connMu).
	utxoSeen struct{ misses, evicted uint64 }
	setTip   *node // the block the stored unspent set is at (mu)
	snap     *pebble.Snapshot
	reads    atomic.Uint64 // see Reads

	// snapGen counts snapshot replacements (mu); memo holds change sets
	// computed as of snapGen (nil when Config.ChangeMemoBytes < 0).
	snapGen uint64
	memo    *changeMemo

	pendMu       sync.Mutex
	pending      map[uint32]*blockData
	pendingBytes int

	// published is the sequence number after the newest event whose
	// effects are visible to queries; evNotify is closed when it grows.
	published atomic.Uint64
	evMu      sync.Mutex
	evNotify  chan struct{}
}

// Open opens (or creates) the index in cfg.Dir, loads the header tree,
// brings every index up to the block tip and returns the index ready for
// use. Close it when done.
func Open(cfg Config) (*Index, error) {
	start := time.Now()
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	p := cfg.Params
	tts := int64(p.TargetTimespan / time.Second)
	ttb := int64(p.TargetTimePerBlock / time.Second)
	if ttb <= 0 || tts <= 0 || p.RetargetAdjustmentFactor <= 0 || p.GenesisBlock == nil {
		return nil, fmt.Errorf("index: network %q parameters lack retarget settings or genesis", p.Name)
	}
	ix := &Index{
		cfg:                 cfg,
		params:              p,
		log:                 cfg.Logger,
		m:                   newMetrics(cfg.Registerer),
		blocksPerRetarget:   int32(tts / ttb),
		minRetargetTimespan: tts / p.RetargetAdjustmentFactor,
		maxRetargetTimespan: tts * p.RetargetAdjustmentFactor,
		timeSource:          clockTime{now: cfg.Now},
		done:                make(chan struct{}),
		byHash:              make(map[chainhash.Hash]*node),
		pending:             make(map[uint32]*blockData),
		evNotify:            make(chan struct{}),
		batchBytes:          cfg.BatchBytes,
	}
	if cfg.ChangeMemoBytes > 0 {
		ix.memo = newChangeMemo(cfg.ChangeMemoBytes)
	}
	popts := pebbleOptions(&cfg)
	db, err := pebble.Open(cfg.Dir, popts)
	if err != nil && (strings.Contains(err.Error(), "merger name from file") ||
		strings.Contains(err.Error(), "comparer name from file")) {
		// A database of format 1 has comparer hemi.btcindex.v1 and
		// pebble's default merger; pebble refuses it before we can
		// read m.
		return nil, formatError(cfg.Dir, 1)
	}
	if err != nil {
		return nil, fmt.Errorf("index: open database %s: %w", cfg.Dir, err)
	}
	ix.db = db
	if ix.ingester, err = newIngester(db, cfg.Dir, popts); err != nil {
		_ = db.Close()
		return nil, err
	}
	ix.utxos = newMainSet(db, cfg.UTXOCacheBytes)
	if err := ix.load(); err != nil {
		_ = db.Close()
		return nil, err
	}
	if err := ix.catchUp(); err != nil {
		_ = db.Close()
		return nil, err
	}
	ix.connMu.Lock()
	err = ix.replaySet()
	ix.connMu.Unlock()
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	// Blocks stored but not yet connected when the process stopped.
	ix.connMu.Lock()
	err = ix.connectLoop(true)
	ix.connMu.Unlock()
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	ix.mu.Lock()
	if ix.snap == nil {
		ix.replaceSnap(db.NewSnapshot())
	}
	ix.mu.Unlock()
	tip := ix.main[len(ix.main)-1]
	best := ix.hdrChain[len(ix.hdrChain)-1]
	ix.m.headerHeight.Set(float64(best.height))
	ix.m.blockHeight.Set(float64(tip.height))
	ix.log.Info("bitcoin index opened", "dir", cfg.Dir, "network", p.Name,
		"headers", best.height, "blocks", tip.height, "tip", tip.hash, "took", time.Since(start).Round(time.Microsecond))
	return ix, nil
}

// replaceSnap makes snap the queries' snapshot and returns the one it
// replaces, for the caller to close after releasing ix.mu. Every change to
// what a query as of a view reads from the stored set (the snapshot, the
// set tip, the connected chain, the indexed flags) is published here under
// ix.mu's write lock, so the new generation invalidates every memoized
// change set. Headers accepted meanwhile change nothing a memoized set
// depends on: a new node is neither in an existing view (its ancestors
// are older) nor connected until the next replacement. ix.mu held.
func (ix *Index) replaceSnap(snap *pebble.Snapshot) *pebble.Snapshot {
	old := ix.snap
	ix.snap = snap
	ix.snapGen++
	if ix.memo != nil {
		ix.memo.purge()
	}
	return old
}

// pebbleOptions tunes pebble for the index's write pattern: large
// batches of random keys, ingested as tables during a sync. Compression
// is off (block data and hashes barely compress and snappy cost more CPU
// than anything else in flushes), and L0 may hold many sublevels (one per
// ingested batch: the keys are hashes, so every batch spans the key
// space) before compacting, so a sync does not spend its CPU on
// compactions it would redo minutes later. Pebble compacts L0 into Lbase
// once it has L0CompactionThreshold/2 sublevels; with 64 (32 before, 16
// before that), a 500,000-transaction sync's 27 ingested batches run no
// compaction (one before: 15% of its CPU in a profile), and a longer
// sync rewrites Lbase half as often as with 32. Raw blocks are flushed
// into L0 tables of their own key range (keys.go), which these
// compactions leave alone. The reads that miss the unspent set's cache
// check one bloom filter per sublevel, a small cost next to the
// rewrites. Committed
// batches wait in memory (on the Go heap) until pebble flushes them; two
// memtables' worth may wait before commits stall, which keeps a sync that
// outruns the flushes within its memory budget (with four, the waiting
// batches and the garbage collector's headroom for them took the peak
// RSS of a 5M-transaction sync past 1 GiB).
func pebbleOptions(cfg *Config) *pebble.Options {
	o := &pebble.Options{
		CacheSize:                   cfg.CacheSize,
		MemTableSize:                cfg.MemTableSize,
		MemTableStopWritesThreshold: 2,
		L0CompactionThreshold:       64,
		L0StopWritesThreshold:       200,
		LBaseMaxBytes:               256 << 20,
		MaxOpenFiles:                1000,
		Logger:                      pebblelog.Logger{Log: cfg.Logger},
		Comparer:                    comparer,
		Merger:                      balanceMerger,
	}
	for i := range o.Levels {
		o.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
		o.Levels[i].FilterPolicy = filterPolicy
		o.Levels[i].FilterType = pebble.TableFilter
	}
	return o
}

// enter registers an operation that uses the database; leave ends it.
func (ix *Index) enter() error {
	ix.closeMu.RLock()
	if ix.closed {
		ix.closeMu.RUnlock()
		return ErrClosed
	}
	return nil
}

func (ix *Index) leave() { ix.closeMu.RUnlock() }

// writeOpts returns the options for header batches: unsynced. Headers
// lost to a crash are fetched again from peers, and the next synced
// connect commit makes every earlier write durable (the write-ahead log
// is sequential).
func (ix *Index) writeOpts() *pebble.WriteOptions { return pebble.NoSync }

// Close stops the subscribers, waits for running operations, syncs the
// write-ahead log, flushes the memtables and closes the database. It is
// safe to call twice. The flush is what keeps the next start short:
// pebble closes without flushing, and its next open replays every
// unflushed write from the log (up to two memtables,
// MemTableStopWritesThreshold, 128 MiB by default) before the index
// loads; a clean stop writes them to a table instead, so the next open
// replays nothing (and tidies the logs: pebblelog.Close). After a crash
// the replay still happens, bounded by the same sizes.
func (ix *Index) Close() error {
	ix.closeMu.Lock()
	if ix.closed {
		ix.closeMu.Unlock()
		return nil
	}
	ix.closed = true
	close(ix.done)
	ix.closeMu.Unlock()
	ix.wg.Wait()

	ix.connMu.Lock()
	defer ix.connMu.Unlock()
	err := ix.commitOpen()
	closeSnapshot(ix.snap)
	ix.snap = nil
	if serr := ix.db.LogData(nil, pebble.Sync); err == nil {
		err = serr
	}
	if err == nil {
		err = pebblelog.Close(ix.db, ix.cfg.Dir)
	} else {
		err = errors.Join(err, ix.db.Close())
	}
	if err != nil {
		return fmt.Errorf("index: close database: %w", err)
	}
	ix.log.Info("bitcoin index closed")
	return nil
}

// maxPresizedHeaders bounds the header map and slice load sizes ahead
// (4 times Bitcoin's headers today).
const maxPresizedHeaders = 1 << 22

// load reads the header tree, the connected chain and the event sequence.
func (ix *Index) load() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()

	// The format first: a database of another format may hold none of
	// this format's header records and would look empty.
	empty, err := ix.checkFormat()
	if err != nil {
		return err
	}
	it, err := ix.db.NewIter(&pebble.IterOptions{LowerBound: []byte{pfxHeader}, UpperBound: []byte{pfxHeader + 1}})
	if err != nil {
		return fmt.Errorf("index: read headers: %w", err)
	}
	// Sized for every stored header at once (ids are dense from 0), so
	// loading does not grow the map and slice step by step; a corrupt
	// last id is bounded here and refused by insertLoaded.
	if it.Last() && len(ix.nodes) == 0 {
		if last, err := decodeIDKey(pfxHeader, it.Key()); err == nil {
			n := min(int(last)+1, maxPresizedHeaders)
			ix.nodes = make([]*node, 0, n)
			ix.byHash = make(map[chainhash.Hash]*node, n)
		}
	}
	if err := ix.loadHeaders(it); err != nil {
		return err
	}
	if err := ix.loadIndexed(); err != nil {
		return err
	}

	if len(ix.nodes) == 0 {
		if !empty {
			return fmt.Errorf("%w: the database has a format record but no headers", ErrCorrupt)
		}
		if err := ix.initGenesis(); err != nil {
			return err
		}
	}

	// Best header chain: the most-work node; ties go to the older id.
	best := ix.nodes[0]
	for _, n := range ix.nodes {
		if n.work.cmp(best.work) > 0 {
			best = n
		}
	}
	ix.setHeaderChain(best)

	// Connected chain: the canonical index's tip and its ancestors.
	tip := ix.nodes[0]
	if v, closer, err := ix.db.Get(tipKey(canonIndexName)); err == nil {
		id, hash, derr := decodeTip(v)
		_ = closer.Close()
		if derr != nil {
			return derr
		}
		if int(id) >= len(ix.nodes) || ix.nodes[id].hash != hash {
			return fmt.Errorf("%w: block tip %s (id %d) is not a known header", ErrCorrupt, hash, id)
		}
		tip = ix.nodes[id]
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("index: read block tip: %w", err)
	}
	ix.main = make([]*node, tip.height+1, max(int(tip.height)+1, len(ix.hdrChain)))
	for n := tip; n != nil; n = n.parent {
		ix.main[n.height] = n
	}

	// The stored unspent set's tip: a block of the connected chain.
	v, closer, err := ix.db.Get(tipKey(utxoIndexName))
	if err != nil {
		return fmt.Errorf("index: read unspent set tip: %w", err)
	}
	id, hash, err := decodeTip(v)
	_ = closer.Close()
	if err != nil {
		return err
	}
	if int(id) >= len(ix.nodes) || ix.nodes[id].hash != hash || !ix.onMain(ix.nodes[id]) {
		return fmt.Errorf("%w: unspent set tip %s (id %d) is not a connected block", ErrCorrupt, hash, id)
	}
	ix.setTip = ix.nodes[id]

	// Event sequence: one past the newest stored event.
	ix.nextSeq = 0
	eit, err := ix.db.NewIter(&pebble.IterOptions{LowerBound: []byte{pfxEvent}, UpperBound: []byte{pfxEvent + 1}})
	if err != nil {
		return fmt.Errorf("index: read events: %w", err)
	}
	if eit.Last() {
		seq, err := decodeEventKey(eit.Key())
		if err != nil {
			_ = eit.Close()
			return err
		}
		ix.nextSeq = seq + 1
	}
	if err := eit.Close(); err != nil {
		return fmt.Errorf("index: read events: %w", err)
	}
	ix.published.Store(ix.nextSeq)
	return nil
}

// initGenesis stores the network's genesis header and block in an empty
// database and makes it the connected tip. The genesis block's
// transactions are not indexed: its coinbase cannot be spent.
func (ix *Index) initGenesis() error {
	g := ix.params.GenesisBlock
	raw, err := serializeBlock(g)
	if err != nil {
		return fmt.Errorf("index: encode genesis: %w", err)
	}
	flags := statusHaveData | statusIndexed
	b := ix.db.NewBatch()
	defer b.Close()
	_ = b.Set(idKey(pfxHeader, 0), encodeHeaderRecord(&g.Header, flags), nil)
	_ = b.Set(idKey(pfxBlock, 0), raw, nil)
	_ = b.Set(idKey(pfxIndexed, 0), nil, nil)
	hash := g.BlockHash()
	_ = b.Set(heightKey(0), encodeCanon(0, &hash), nil)
	for _, name := range indexNames {
		_ = b.Set(tipKey(name), encodeTip(0, &hash), nil)
	}
	_ = b.Set(tipKey(utxoIndexName), encodeTip(0, &hash), nil)
	_ = b.Set(formatKey, be.AppendUint32(nil, formatVersion), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("index: store genesis: %w", err)
	}
	// Out of the memtable, so the first sync batch's ingested table
	// does not overlap it (see the key layout in keys.go).
	if err := ix.db.Flush(); err != nil {
		return fmt.Errorf("index: store genesis: %w", err)
	}
	return ix.insertLoaded(&g.Header, g.BlockHash(), 0, flags)
}

// formatVersion is the on-disk format, stored under formatKey when the
// database is created. Version 2 added the per-script unspent set;
// version 3 moved headers and blocks below the tables a connect writes
// and the indexed flag into its own table (see the key layout in keys.go).
// A database of another version (version 1 had no format key) cannot be
// upgraded in place.
const formatVersion = 3

// FormatVersion is the on-disk format this build reads and writes, for
// whoever keeps data directories around (the benchmarks' caches name it,
// so a new format builds a new directory instead of failing on ErrFormat).
const FormatVersion = formatVersion

var formatKey = []byte{pfxMeta, 'f', 'o', 'r', 'm', 'a', 't'}

// checkFormat refuses a database written in another format, naming the
// fix, instead of answering from tables it lacks. It reports whether the
// database is empty (no format record and no key at all: a new one).
func (ix *Index) checkFormat() (bool, error) {
	v, closer, err := ix.db.Get(formatKey)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		it, err := ix.db.NewIter(nil)
		if err != nil {
			return false, fmt.Errorf("index: read format: %w", err)
		}
		empty := !it.First()
		if err := it.Close(); err != nil {
			return false, fmt.Errorf("index: read format: %w", err)
		}
		if empty {
			return true, nil
		}
		// Format 1 had no format record.
		return false, formatError(ix.cfg.Dir, 1)
	case err != nil:
		return false, fmt.Errorf("index: read format: %w", err)
	}
	defer closer.Close()
	if len(v) != 4 {
		return false, fmt.Errorf("%w: format record is %d bytes", ErrCorrupt, len(v))
	}
	if got := be.Uint32(v); got != formatVersion {
		return false, formatError(ix.cfg.Dir, got)
	}
	return false, nil
}

// loadIndexed sets the indexed flag of the blocks the i table names.
// ix.mu held.
func (ix *Index) loadIndexed() error {
	it, err := ix.db.NewIter(&pebble.IterOptions{LowerBound: []byte{pfxIndexed}, UpperBound: []byte{pfxIndexed + 1}})
	if err != nil {
		return fmt.Errorf("index: read indexed blocks: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		id, err := decodeIDKey(pfxIndexed, it.Key())
		if err != nil {
			_ = it.Close()
			return err
		}
		if int(id) >= len(ix.nodes) {
			_ = it.Close()
			return fmt.Errorf("%w: indexed block id %d has no header", ErrCorrupt, id)
		}
		ix.nodes[id].setFlag(statusIndexed)
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("index: read indexed blocks: %w", err)
	}
	return nil
}

func formatError(dir string, got uint32) error {
	return fmt.Errorf("%w: the Bitcoin index in %s has format %d, this build reads format %d; reindex: delete %s and restart (the node syncs Bitcoin again from its peers)",
		ErrFormat, dir, got, formatVersion, dir)
}
