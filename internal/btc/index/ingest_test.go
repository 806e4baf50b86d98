package index

import (
	"bytes"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// TestIngestMatchesBatch: the same writes reach the database alike
// through an ingested table and through a batch (sets, merges, deletes
// and single deletes of rows an earlier batch set), spread over many
// arena chunks; a reset writer reuses its chunks; and writes holding two
// of one key are refused by ingestion (one sequence number per table)
// and go the batch path.
func TestIngestMatchesBatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	type op struct {
		kind byte // s set, m merge, d delete, x single delete
		k, v []byte
	}
	key := func(i int) []byte {
		k := make([]byte, 1+32+4)
		k[0] = pfxChange
		k[1] = byte(i % 7) // long shared prefixes, as a script's records
		be.PutUint32(k[33:], uint32(i))
		return k
	}
	var first, second []op
	for i := range 20_000 {
		first = append(first, op{'s', key(i), bytes.Repeat([]byte{byte(i)}, 1+rng.IntN(300))})
	}
	for i := range 20_000 {
		switch rng.IntN(4) {
		case 0:
			second = append(second, op{'x', key(i), nil})
		case 1:
			second = append(second, op{'d', key(i), nil})
		case 2:
			second = append(second, op{'s', key(i), []byte("new")})
		}
		if i%10 == 0 {
			var sh [32]byte
			be.PutUint32(sh[:], uint32(i))
			second = append(second, op{'m', balanceKey(&sh), be.AppendUint64(nil, uint64(i))})
		}
		second = append(second, op{'s', key(20_000 + i), bytes.Repeat([]byte{'n'}, 1+rng.IntN(300))})
	}
	fill := func(w *entryWriter, ops []op) {
		w.reset()
		for i := len(ops) - 1; i >= 0; i-- { // unsorted
			o := ops[i]
			switch o.kind {
			case 's':
				w.put(o.k, o.v)
			case 'm':
				w.merge(o.k, o.v)
			case 'd':
				w.del(o.k)
			case 'x':
				w.singleDel(o.k)
			}
		}
	}
	open := func(dir string) (*pebble.DB, *ingester) {
		o := pebbleOptions(&Config{Logger: slog.New(slog.DiscardHandler), CacheSize: 8 << 20, MemTableSize: 4 << 20})
		db, err := pebble.Open(dir, o)
		if err != nil {
			t.Fatal(err)
		}
		g, err := newIngester(db, dir, o)
		if err != nil {
			t.Fatal(err)
		}
		return db, g
	}
	viaBatch, _ := open(t.TempDir())
	defer viaBatch.Close()
	ingDir := t.TempDir()
	viaIngest, g := open(ingDir)
	defer viaIngest.Close()

	w := newEntryWriter()
	for round, ops := range [][]op{first, second} {
		fill(w, ops)
		b := viaBatch.NewBatch()
		w.writeTo(b)
		if err := b.Commit(pebble.Sync); err != nil {
			t.Fatal(err)
		}
		_ = b.Close()
		fill(w, ops)
		if round == 0 && len(w.chunks) < 3 {
			t.Fatalf("%d bytes in %d arena chunks: the test wants several", w.size(), len(w.chunks))
		}
		chunks := len(w.chunks)
		if ok, err := g.ingest(w); !ok || err != nil {
			t.Fatalf("round %d: ingest = %v, %v", round, ok, err)
		}
		if len(w.chunks) != chunks {
			t.Fatalf("round %d: %d chunks after a refill, %d before", round, len(w.chunks), chunks)
		}
	}
	if left, _ := os.ReadDir(filepath.Join(ingDir, ingestDirName)); len(left) != 0 {
		t.Fatalf("%d tables left in the ingest directory", len(left))
	}
	dump := func(db *pebble.DB) map[string]string {
		m := map[string]string{}
		it, err := db.NewIter(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		for ok := it.First(); ok; ok = it.Next() {
			m[string(it.Key())] = string(it.Value())
		}
		return m
	}
	a, b := dump(viaBatch), dump(viaIngest)
	if len(a) != len(b) || len(a) < 30_000 {
		t.Fatalf("batch path holds %d keys, ingestion %d", len(a), len(b))
	}
	for k, v := range a {
		if b[k] != v {
			t.Fatalf("key %x: batch %x, ingestion %x", k, v, b[k])
		}
	}

	w.reset()
	w.put(key(1), []byte("a"))
	w.put(key(1), []byte("b"))
	if ok, err := g.ingest(w); ok || err != nil {
		t.Fatalf("ingest of two writes of one key = %v, %v, want refused", ok, err)
	}
}

// TestSyncIngestsFullBatches: a sync whose batches fill up commits them
// as ingested tables, and the index answers, also after a reopen, as the
// blocks say.
func TestSyncIngestsFullBatches(t *testing.T) {
	bs := realisticChain(t, newGen(regtest), 40, 30)
	dir := t.TempDir()
	cfg := Config{Dir: dir, Params: regtest, MaxBatchDelay: time.Second, BatchBytes: 256 << 10,
		Now: func() time.Time { return time.Unix(1_900_000_000, 0) }}
	ix, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	feed(t, ix, bs)
	mustTip(t, ix, bs[len(bs)-1].BlockHash(), int32(len(bs)))
	if ix.ingester.seq < 3 {
		t.Fatalf("%d batches ingested, want several", ix.ingester.seq)
	}
	// The ingested tables never overlap the memtable, which holds the
	// blocks and headers (see the key layout): pebble took none of them
	// as a flushable ingest, which flushes the memtable with it.
	if m := ix.db.Metrics(); m.Flush.AsIngestCount != 0 {
		t.Fatalf("%d of %d ingestions overlapped the memtable and flushed it", m.Flush.AsIngestCount, ix.ingester.seq)
	}
	verifyAt(t, ix, bs)
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ix, err = Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	mustTip(t, ix, bs[len(bs)-1].BlockHash(), int32(len(bs)))
	verifyAt(t, ix, bs)
}
