package chaindb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/wal"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/ethdb"

	"github.com/hemi-go/hemi/internal/pebblelog"
)

func open(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(Options{Dir: dir, CacheMB: 16})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// keys lists what an iterator yields.
func keys(t *testing.T, it ethdb.Iterator) []string {
	t.Helper()
	defer it.Release()
	var out []string
	for it.Next() {
		out = append(out, string(it.Key())+"="+string(it.Value()))
	}
	if err := it.Error(); err != nil {
		t.Fatal(err)
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestKeyValueStore(t *testing.T) {
	db := open(t, t.TempDir())
	for _, kv := range [][2]string{{"a1", "x"}, {"a2", "y"}, {"a3", ""}, {"b1", "z"}, {"\xff\xff1", "f"}} {
		if err := db.Put([]byte(kv[0]), []byte(kv[1])); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		prefix string
		start  string
		want   []string
	}{
		{"prefix", "a", "", []string{"a1=x", "a2=y", "a3="}},
		{"prefix and start", "a", "2", []string{"a2=y", "a3="}},
		{"start past the prefix's keys", "a", "9", nil},
		{"no prefix", "", "", []string{"a1=x", "a2=y", "a3=", "b1=z", "\xff\xff1=f"}},
		{"prefix of 0xff bytes has no upper bound", "\xff\xff", "", []string{"\xff\xff1=f"}},
		{"absent prefix", "c", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := keys(t, db.NewIterator([]byte(tc.prefix), []byte(tc.start))); !equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	if v, err := db.Get([]byte("a3")); err != nil || v == nil || len(v) != 0 {
		t.Fatalf("empty value: %q, %v; want an empty non-nil slice", v, err)
	}
	if _, err := db.Get([]byte("zz")); !errors.Is(err, pebble.ErrNotFound) {
		t.Fatalf("missing key: %v, want pebble.ErrNotFound", err)
	}
	if ok, err := db.Has([]byte("a1")); !ok || err != nil {
		t.Fatalf("Has(a1) = %v, %v", ok, err)
	}
	if ok, err := db.Has([]byte("zz")); ok || err != nil {
		t.Fatalf("Has(zz) = %v, %v", ok, err)
	}
	if err := db.Delete([]byte("a1")); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteRange([]byte("a3"), nil); err != nil { // nil: to the end
		t.Fatal(err)
	}
	if got, want := keys(t, db.NewIterator(nil, nil)), []string{"a2=y"}; !equal(got, want) {
		t.Fatalf("after the deletes: %q, want %q", got, want)
	}
	if err := db.SyncKeyValue(); err != nil {
		t.Fatal(err)
	}
	if err := db.Compact(nil, nil); err != nil {
		t.Fatal(err)
	}
	if s, err := db.Stat(); err != nil || s == "" {
		t.Fatalf("Stat: %q, %v", s, err)
	}
}

// TestBatch: a batch writes nothing until Write, counts its size, and
// replays its operations in order (rawdb's and hashdb's use).
func TestBatch(t *testing.T) {
	db := open(t, t.TempDir())
	if err := db.Put([]byte("k0"), []byte("old")); err != nil {
		t.Fatal(err)
	}
	b := db.NewBatchWithSize(64)
	defer b.Close()
	_ = b.Put([]byte("k1"), []byte("v1"))
	_ = b.Delete([]byte("k0"))
	_ = b.Put([]byte("k2"), []byte("v2"))
	_ = b.DeleteRange([]byte("k2"), []byte("k3"))
	if got, want := b.ValueSize(), 4+2+4+4; got != want {
		t.Fatalf("ValueSize %d, want %d", got, want)
	}
	if ok, _ := db.Has([]byte("k1")); ok {
		t.Fatal("a batch wrote before Write")
	}
	mem := rawdb.NewMemoryDatabase()
	_ = mem.Put([]byte("k0"), []byte("old"))
	if err := b.Replay(mem); err != nil {
		t.Fatal(err)
	}
	if err := b.Write(); err != nil {
		t.Fatal(err)
	}
	want := []string{"k1=v1"}
	if got := keys(t, db.NewIterator(nil, nil)); !equal(got, want) {
		t.Fatalf("written: %q, want %q", got, want)
	}
	if got := keys(t, mem.NewIterator(nil, nil)); !equal(got, want) {
		t.Fatalf("replayed: %q, want %q", got, want)
	}
	b.Reset()
	if b.ValueSize() != 0 {
		t.Fatal("Reset kept the size")
	}
}

// TestClosed: every operation on a closed database fails with an error,
// and Close may be called again.
func TestClosed(t *testing.T) {
	db := open(t, t.TempDir())
	b := db.NewBatch()
	_ = b.Put([]byte("k"), []byte("v"))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	checks := map[string]error{
		"Put":    db.Put([]byte("k"), nil),
		"Delete": db.Delete([]byte("k")),
		"Sync":   db.SyncKeyValue(),
		"Write":  b.Write(),
	}
	_, checks["Get"] = db.Get([]byte("k"))
	_, checks["Has"] = db.Has([]byte("k"))
	for name, err := range checks {
		if !errors.Is(err, pebble.ErrClosed) {
			t.Errorf("%s on a closed database: %v, want pebble.ErrClosed", name, err)
		}
	}
}

// TestCloseFlushes: Close leaves nothing in the write-ahead log, and the
// database reopens with every write.
func TestCloseFlushes(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	for i := range 100 {
		if err := db.Put([]byte{byte(i)}, bytes.Repeat([]byte{byte(i)}, 10)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	n, err := pebblelog.ReplayedKeys(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("the next open replays %d keys from the write-ahead log, want 0", n)
	}
	db = open(t, dir)
	if v, err := db.Get([]byte{99}); err != nil || !bytes.Equal(v, bytes.Repeat([]byte{99}, 10)) {
		t.Fatalf("after reopen: %x, %v", v, err)
	}
}

// TestL0Compaction: flushes of hash keys (each an L0 sublevel spanning
// the key space) run no compaction below L0CompactionThreshold/2
// sublevels, and L0 is compacted once it passes the threshold, so reads
// never face an unbounded L0.
func TestL0Compaction(t *testing.T) {
	db := open(t, t.TempDir())
	rng := rand.New(rand.NewPCG(7, 8))
	flush := func() {
		t.Helper()
		b := db.NewBatch()
		k := make([]byte, 32)
		for range 500 {
			for i := range k {
				k[i] = byte(rng.Uint32())
			}
			_ = b.Put(k, make([]byte, 100))
		}
		if err := b.Write(); err != nil {
			t.Fatal(err)
		}
		if err := db.db.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	below := L0CompactionThreshold/2 - 1
	for range below {
		flush()
	}
	m := db.db.Metrics()
	if m.Compact.Count != 0 || m.Compact.NumInProgress != 0 {
		t.Fatalf("after %d flushes: %d compactions, %d running; want none", below, m.Compact.Count, m.Compact.NumInProgress)
	}
	if got := m.Levels[0].Sublevels; got != int32(below) {
		t.Fatalf("L0 has %d sublevels after %d flushes of hash keys, want one each", got, below)
	}
	for range L0CompactionThreshold - below + 1 {
		flush()
	}
	deadline := time.Now().Add(time.Minute)
	for {
		m = db.db.Metrics()
		if m.Compact.Count > 0 || m.Compact.NumInProgress > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no compaction with %d L0 sublevels (threshold %d)", m.Levels[0].Sublevels, L0CompactionThreshold)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// logFiles counts dir's write-ahead logs.
func logFiles(t *testing.T, dir string) int {
	t.Helper()
	logs, err := wal.Scan(wal.Dir{FS: vfs.Default, Dirname: dir})
	if err != nil {
		t.Fatal(err)
	}
	return len(logs)
}

// TestCloseRemovesRecycledLogs: after writes that filled several
// memtables, pebble holds their logs for reuse; Close leaves only the
// newest, and the data reopens whole.
func TestCloseRemovesRecycledLogs(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir) // 2 MiB memtables
	val := bytes.Repeat([]byte{7}, 1000)
	for i := range 20_000 {
		if err := db.Put(binary.BigEndian.AppendUint32(nil, uint32(i)), val); err != nil {
			t.Fatal(err)
		}
	}
	if n := logFiles(t, dir); n < 3 {
		t.Fatalf("%d write-ahead logs after 20 MB of writes: the test needs recycled ones", n)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if n := logFiles(t, dir); n != 1 {
		t.Fatalf("%d write-ahead logs after Close, want 1", n)
	}
	db = open(t, dir)
	for _, i := range []uint32{0, 9_999, 19_999} {
		if v, err := db.Get(binary.BigEndian.AppendUint32(nil, i)); err != nil || !bytes.Equal(v, val) {
			t.Fatalf("key %d after reopen: %d bytes, %v", i, len(v), err)
		}
	}
}
