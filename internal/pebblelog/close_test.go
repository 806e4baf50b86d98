package pebblelog

import (
	"bytes"
	"encoding/binary"
	"os"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/wal"
)

// openSmall opens a database in dir whose 1 MiB memtables make pebble
// rotate (and then recycle) its log every MiB.
func openSmall(t *testing.T, dir string) *pebble.DB {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{Logger: replayQuiet{}, MemTableSize: 1 << 20, MemTableStopWritesThreshold: 4})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// fill writes n 1,000-byte values under big-endian keys.
func fill(t *testing.T, db *pebble.DB, n int) {
	t.Helper()
	for i := range n {
		if err := db.Set(binary.BigEndian.AppendUint32(nil, uint32(i)), value, pebble.NoSync); err != nil {
			t.Fatal(err)
		}
	}
}

var value = bytes.Repeat([]byte{7}, 1000)

// logSizes lists the sizes of dir's write-ahead logs, oldest first.
func logSizes(t *testing.T, dir string) []int64 {
	t.Helper()
	logs, err := wal.Scan(wal.Dir{FS: vfs.Default, Dirname: dir})
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, ll := range logs {
		_, path := ll.SegmentLocation(0)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fi.Size())
	}
	return out
}

func newest(sizes []int64) int64 { return sizes[len(sizes)-1] }

// reopenHas reopens dir and checks that keys 0 to n-1 hold value and
// that the open replayed want keys from the logs.
func reopenHas(t *testing.T, dir string, n int, want int64) {
	t.Helper()
	if got, err := ReplayedKeys(dir, nil); err != nil || got != want {
		t.Fatalf("the reopen replays %d keys (%v), want %d", got, err, want)
	}
	db, err := pebble.Open(dir, &pebble.Options{Logger: replayQuiet{}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, i := range []int{0, n / 2, n - 1} {
		v, closer, err := db.Get(binary.BigEndian.AppendUint32(nil, uint32(i)))
		if err != nil {
			t.Fatalf("key %d after reopen: %v", i, err)
		}
		if !bytes.Equal(v, value) {
			t.Fatalf("key %d after reopen: %d bytes", i, len(v))
		}
		closer.Close()
	}
}

// TestCloseTidiesLogs: after writes that filled several memtables,
// pebble holds their logs for reuse and its live log is a reused one, as
// long as a memtable; Close leaves one empty log, and the data reopens
// whole with nothing to replay.
func TestCloseTidiesLogs(t *testing.T) {
	dir := t.TempDir()
	db := openSmall(t, dir)
	fill(t, db, 20_000)
	// A rotation onto a reused log: a flush's rotation takes a fresh one
	// while the recycler is empty (the older logs' memtables not yet
	// flushed), so write and flush again until it reused one.
	for i := 0; i < 10 && newest(logSizes(t, dir)) < 1<<19; i++ {
		if err := db.Set([]byte("x"), nil, pebble.NoSync); err != nil {
			t.Fatal(err)
		}
		if err := db.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if sizes := logSizes(t, dir); len(sizes) < 3 || newest(sizes) < 1<<19 {
		t.Fatalf("write-ahead logs %v after 20 MB of writes: the test needs recycled ones and a reused live one", sizes)
	}
	if err := Close(db, dir); err != nil {
		t.Fatal(err)
	}
	if sizes := logSizes(t, dir); len(sizes) != 1 || sizes[0] != 0 {
		t.Fatalf("write-ahead logs %v after Close, want one empty", sizes)
	}
	reopenHas(t, dir, 20_000, 0)
}

// TestTidyKeepsUnflushedLog: a live log holding writes no flush reached
// is neither removed nor cut (the guard on Close's truncation): they
// replay at the next open.
func TestTidyKeepsUnflushedLog(t *testing.T) {
	dir := t.TempDir()
	db := openSmall(t, dir)
	fill(t, db, 5_000)
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	fill(t, db, 100) // in the live log only
	m := db.Metrics()
	if m.WAL.Size == 0 {
		t.Fatal("the live log holds nothing after 100 writes")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tidyLogs(dir, m.WAL.Files, m.WAL.Size == 0); err != nil {
		t.Fatal(err)
	}
	if sizes := logSizes(t, dir); len(sizes) != int(m.WAL.Files) || sizes[len(sizes)-1] == 0 {
		t.Fatalf("write-ahead logs %v after tidying, want the %d live ones whole", sizes, m.WAL.Files)
	}
	reopenHas(t, dir, 5_000, 100)
}

// TestCloseInMemory: a database in memory closes flushed, nothing to
// tidy.
func TestCloseInMemory(t *testing.T) {
	db, err := pebble.Open("mem", &pebble.Options{FS: vfs.NewMem(), Logger: replayQuiet{}})
	if err != nil {
		t.Fatal(err)
	}
	fill(t, db, 10)
	if err := Close(db, ""); err != nil {
		t.Fatal(err)
	}
}
