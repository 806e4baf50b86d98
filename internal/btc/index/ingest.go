package index

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Full sync batches are ingested as sstables instead of committed as
// batches. A batch that large is a flushable batch for pebble anyway (it
// skips the memtable and becomes one L0 table at the next flush), so the
// only thing the batch path adds is the write-ahead log: every byte of it
// written once more, plus the copy into the batch's encoding. Writing the
// already sorted entries straight into an sstable and ingesting it gives
// the same L0 table without either. Ingestion is atomic and durable when
// it returns (the table is synced, then the manifest edit or, when it
// lands above the memtables, its WAL record), so Invariant 1 holds as for
// a synced batch: the tip and events in the table are published only
// after that. The WAL is synced first, because blocks and headers are
// written unsynced before they connect and the table must never survive
// a crash that loses them.
//
// An ingested table gives all its entries one sequence number, so it
// cannot hold two writes of one key; a batch that does (a reorg's
// rewritten heights, a repeated coinbase txid's replaced rows) goes the
// batch path. ingestDir holds the table between its writing and its
// ingestion; Open empties it (a crash may leave a table behind).

// ingestDirName is the directory, inside the database directory, where
// tables are written before their ingestion.
const ingestDirName = "ingest"

// ingester writes and ingests sstables into one database.
type ingester struct {
	db   *pebble.DB
	dir  string
	opts sstable.WriterOptions
	seq  uint64
}

// newIngester prepares ingestion into db, opened in dbDir with opts.
func newIngester(db *pebble.DB, dbDir string, opts *pebble.Options) (*ingester, error) {
	dir := filepath.Join(dbDir, ingestDirName)
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("index: empty %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	o := opts.Clone()
	o.EnsureDefaults()
	return &ingester{db: db, dir: dir, opts: o.MakeWriterOptions(0, db.TableFormat())}, nil
}

// ingest writes w's entries into one table and ingests it. It reports
// false, having written nothing, when w holds two writes of one key. One
// caller at a time.
func (g *ingester) ingest(w *entryWriter) (bool, error) {
	w.sort()
	if w.hasDupKeys() {
		return false, nil
	}
	g.seq++
	path := filepath.Join(g.dir, fmt.Sprintf("%06d.sst", g.seq))
	if err := w.writeSST(path, g.opts); err != nil {
		_ = os.Remove(path)
		return true, fmt.Errorf("index: write table %s: %w", path, err)
	}
	// The table must not outlive the unsynced writes before it.
	if err := g.db.LogData(nil, pebble.Sync); err != nil {
		_ = os.Remove(path)
		return true, fmt.Errorf("index: sync before ingestion: %w", err)
	}
	err := g.db.Ingest(context.Background(), []string{path})
	// Pebble linked (or copied) the table into the database.
	_ = os.Remove(path)
	if err != nil {
		return true, fmt.Errorf("index: ingest table: %w", err)
	}
	return true, nil
}

// writeSST writes the sorted entries (see sort) to a new sstable at path,
// synced.
func (w *entryWriter) writeSST(path string, opts sstable.WriterOptions) error {
	f, err := vfs.Default.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	sw := sstable.NewWriter(newBufferedWritable(f), opts)
	raw := sw.Raw()
	for i := range w.refs {
		r := &w.refs[i]
		k := w.key(r)
		kind := pebble.InternalKeyKindSet
		switch {
		case r.sdel:
			kind = pebble.InternalKeyKindSingleDelete
		case r.del:
			kind = pebble.InternalKeyKindDelete
		case r.mrg:
			kind = pebble.InternalKeyKindMerge
		}
		if err := raw.Add(pebble.MakeInternalKey(k, 0, kind), w.val(r), false); err != nil {
			_ = sw.Close()
			return err
		}
	}
	// Close finishes the table and syncs it.
	return sw.Close()
}

// ingestWriteBuffer is the write buffer of a table being written for
// ingestion. Pebble's own file writable buffers 4 KiB, one data block, so
// a table cost one write system call per block: a tenth of a sync's CPU
// in a profile (system calls are dear in a VM). One large buffer makes
// them a few hundred per table.
const ingestWriteBuffer = 1 << 20

// bufferedWritable is an objstorage.Writable over a file with a large
// write buffer; Finish flushes, syncs and closes it.
type bufferedWritable struct {
	f  vfs.File
	bw *bufio.Writer
}

var _ objstorage.Writable = (*bufferedWritable)(nil)

func newBufferedWritable(f vfs.File) *bufferedWritable {
	return &bufferedWritable{f: f, bw: bufio.NewWriterSize(f, ingestWriteBuffer)}
}

func (w *bufferedWritable) Write(p []byte) error {
	_, err := w.bw.Write(p)
	return err
}

func (w *bufferedWritable) Finish() error {
	err := w.bw.Flush()
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (w *bufferedWritable) Abort() { _ = w.f.Close() }
