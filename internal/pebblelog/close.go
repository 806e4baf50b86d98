package pebblelog

import (
	"errors"
	"fmt"
	"os"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/wal"
)

// Close flushes db's memtables into tables, closes it, and leaves its
// directory dir ("" for a database in memory: nothing to tidy) with no
// write-ahead log bytes the next open has to read or delete.
//
// Why: pebble closes without flushing, so the next open would replay
// every unflushed write before serving. And pebble keeps the logs of
// flushed memtables (up to MemTableStopWritesThreshold+1 of a memtable's
// size) to reuse them; a reused log keeps the old file's length. At the
// next open, pebble starts a new log and deletes all of these in the
// background: for a node that wrote a lot (the restart benchmark's long
// node: the chain database's 8 x 30 MiB of recycled logs, the first
// time) the node's other databases opened waiting on the disk while
// 240 MB were unlinked, and its start took 2-3 times as long
// (`hemi bench net`'s restart_ratio 3.2 against 1.5 without them); with
// only its 30 MiB live log left, the unlink took 12 ms and the fsync of
// pebble's new options file waited 8 ms behind it. So after the flush, every log but the newest live ones
// is removed (pebble numbers logs in order; all below those are
// obsolete), and the newest, when no write reached it after the flush,
// is truncated to nothing (what it holds past that point is an older
// log's records, which replay skips). A failure here loses nothing:
// pebble deletes what is left at the next open.
func Close(db *pebble.DB, dir string) error {
	if err := db.Flush(); err != nil {
		return errors.Join(err, db.Close())
	}
	m := db.Metrics()
	live, empty := m.WAL.Files, m.WAL.Size == 0
	if err := db.Close(); err != nil {
		return err
	}
	if dir == "" {
		return nil
	}
	return tidyLogs(dir, live, empty)
}

// tidyLogs removes the write-ahead logs of the closed database in dir
// but the newest live ones, and truncates the newest when empty (it
// holds no record written after the last flush).
func tidyLogs(dir string, live int64, empty bool) error {
	logs, err := wal.Scan(wal.Dir{FS: vfs.Default, Dirname: dir})
	if err != nil {
		return fmt.Errorf("pebblelog: list write-ahead logs of %s: %w", dir, err)
	}
	keep := max(live, 1)
	var errs []error
	for i, ll := range logs {
		old := i < len(logs)-int(keep)
		newest := i == len(logs)-1
		if !old && !(newest && empty && keep == 1) {
			continue
		}
		for s := range ll.NumSegments() {
			fs, path := ll.SegmentLocation(s)
			if old {
				err = fs.Remove(path)
			} else {
				err = os.Truncate(path, 0)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("pebblelog: tidy write-ahead log: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}
