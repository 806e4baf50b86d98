package chain

import (
	"math/rand/v2"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestStateFlushesDeferCompaction: the chain's flushes of trie nodes
// (hash keys, so each memtable flush is an L0 sublevel spanning the key
// space) run no compaction until L0 has several sublevels. go-ethereum's
// wrapper, which the chain used to open its database with, compacts L0
// after every flush, each compaction rewriting all of Lbase: about 5% of the
// l2-import benchmark's CPU.
func TestStateFlushesDeferCompaction(t *testing.T) {
	_, _, h := crashSetup(t, t.TempDir())
	if err := h.chain.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := h.cfg
	cfg.CacheMB = 16 // memtables of 2 MiB
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	metrics := func() (flushes, compactions, running int) {
		t.Helper()
		s, err := c.kv.Stat()
		if err != nil {
			t.Fatal(err)
		}
		return statInt(t, s, `Flushes: (\d+)`), statInt(t, s, `Compactions: (\d+)`), statInt(t, s, `in progress: (\d+)`)
	}
	f0, _, _ := metrics()
	rng := rand.New(rand.NewPCG(5, 6))
	key, val := make([]byte, 32), make([]byte, 200)
	const flushes = 4
	deadline := time.Now().Add(time.Minute)
	for {
		f, _, _ := metrics()
		if f-f0 >= flushes {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d flushes after a minute of writes, want %d", f-f0, flushes)
		}
		b := c.db.NewBatch()
		for range 1000 {
			for i := range key {
				key[i] = byte(rng.Uint32())
			}
			if err := b.Put(key, val); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Write(); err != nil {
			t.Fatal(err)
		}
	}
	if f, done, running := metrics(); done+running != 0 {
		t.Fatalf("%d memtable flushes of hash keys ran %d compactions (%d running), want none", f-f0, done, running)
	}
}

// statInt is the first number re matches in pebble's metrics text.
func statInt(t *testing.T, s, re string) int {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no %q in the database's metrics:\n%s", re, s)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return n
}
