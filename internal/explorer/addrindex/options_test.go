package addrindex

import (
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/ethereum/go-ethereum/common"
)

// TestFlushesDeferCompaction checks pebbleOptions' L0 tuning with the
// index's write pattern: each block's entries are keyed by address, so
// each memtable flush is an L0 sublevel spanning the key space. Below
// l0CompactionThreshold/2 sublevels no compaction runs (with pebble's
// default threshold, one ran every second flush and rewrote all of
// Lbase: as much compaction as the chain's whole database in the
// l2-import benchmark), and past the threshold L0 is compacted, so a
// page of history never merges an unbounded L0.
func TestFlushesDeferCompaction(t *testing.T) {
	o := pebbleOptions(slog.New(slog.DiscardHandler))
	o.FS = vfs.NewMem()
	db, err := pebble.Open("ix", o)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(9, 10))
	block := uint64(0)
	flush := func() {
		t.Helper()
		block++
		b := db.NewBatch()
		for i := range 500 {
			var a common.Address
			for j := range a {
				a[j] = byte(rng.Uint32())
			}
			_ = b.Set(entryKey(a, block, uint32(i)), make([]byte, 80), nil)
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			t.Fatal(err)
		}
		if err := db.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	below := l0CompactionThreshold/2 - 1
	for range below {
		flush()
	}
	m := db.Metrics()
	if m.Compact.Count != 0 || m.Compact.NumInProgress != 0 {
		t.Fatalf("after %d flushes: %d compactions, %d running; want none below %d L0 sublevels",
			below, m.Compact.Count, m.Compact.NumInProgress, l0CompactionThreshold/2)
	}
	if got := m.Levels[0].Sublevels; got != int32(below) {
		t.Fatalf("L0 has %d sublevels after %d flushes of address keys, want one each", got, below)
	}
	for range l0CompactionThreshold - below + 1 {
		flush()
	}
	deadline := time.Now().Add(time.Minute)
	for {
		m = db.Metrics()
		if m.Compact.Count > 0 || m.Compact.NumInProgress > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no compaction with %d L0 sublevels (threshold %d)", m.Levels[0].Sublevels, l0CompactionThreshold)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
