package index

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestSyncFlushesDeferCompaction checks pebbleOptions' L0 tuning with the
// index's write pattern: batches of hash-addressed keys, each flush (or
// ingested batch) a new L0 sublevel spanning the key space. Pebble
// compacts L0 once it has L0CompactionThreshold/2 sublevels: 31 flushes,
// more than a 500,000-transaction sync's 27 ingested batches, must run no
// compaction (with the old threshold of 32 they ran one, 15% of the
// sync's CPU; with 16, two or three), and L0 must still be compacted once
// it passes the threshold.
func TestSyncFlushesDeferCompaction(t *testing.T) {
	cfg := Config{Dir: "mem", Params: regtest}
	if err := cfg.setDefaults(); err != nil {
		t.Fatal(err)
	}
	o := pebbleOptions(&cfg)
	o.FS = vfs.NewMem()
	db, err := pebble.Open("", o)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	flushes := 0
	flushBatch := func() {
		t.Helper()
		b := db.NewBatch()
		for range 500 {
			k := make([]byte, unspentKeyLen)
			k[0] = pfxUnspent
			for i := 1; i < len(k); i++ {
				k[i] = byte(rng.Uint32())
			}
			if err := b.Set(k, make([]byte, unspentValLen), nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			t.Fatal(err)
		}
		if err := db.Flush(); err != nil {
			t.Fatal(err)
		}
		flushes++
	}
	const syncFlushes = 31
	for range syncFlushes {
		flushBatch()
	}
	m := db.Metrics()
	if m.Compact.Count != 0 || m.Compact.NumInProgress != 0 {
		t.Fatalf("after %d flushes: %d compactions done, %d running; want none until L0 has %d sublevels",
			syncFlushes, m.Compact.Count, m.Compact.NumInProgress, o.L0CompactionThreshold/2)
	}
	if got := m.Levels[0].Sublevels; got != syncFlushes {
		t.Fatalf("L0 has %d sublevels after %d flushes of keys spanning the key space, want one each", got, syncFlushes)
	}
	for flushes <= o.L0CompactionThreshold {
		flushBatch()
	}
	// Compactions run in the background; wait for one to start.
	deadline := time.Now().Add(time.Minute)
	for {
		m = db.Metrics()
		if m.Compact.Count > 0 || m.Compact.NumInProgress > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no compaction after %d flushes (L0 sublevels %d, threshold %d)", flushes, m.Levels[0].Sublevels, o.L0CompactionThreshold)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
