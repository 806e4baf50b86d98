package index

import (
	"crypto/sha256"
	"encoding/binary"
	"runtime"
	"testing"
)

// testOut is a distinct output for the cache tests.
func testOut(i int, height int32) utxo {
	var u utxo
	binary.BigEndian.PutUint64(u.txid[:], uint64(i))
	u.txid = sha256.Sum256(u.txid[:])
	u.sh = sha256.Sum256(u.txid[:8])
	u.height, u.pos, u.vout, u.value = height, uint32(i), uint32(i%3), int64(i)*1000+1<<40
	return u
}

// TestMainSetMemory: the budget's estimate of an entry covers what the
// map really takes, so UTXOCacheBytes bounds the cache's memory.
func TestMainSetMemory(t *testing.T) {
	const n = 200_000
	outs := make([]utxo, n)
	for i := range outs {
		outs[i] = testOut(i, int32(i/1000))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := newMainSet(nil, 1<<40)
	for i := range outs {
		s.add(nil, &outs[i])
	}
	s.flushed() // the entries become clean, the change lists go
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%.1f bytes per cached output (estimate %d)", per, outEntryBytes)
	if per > outEntryBytes {
		t.Fatalf("a cached output takes %.1f bytes, the budget counts %d", per, outEntryBytes)
	}
	runtime.KeepAlive(s)
	runtime.KeepAlive(outs)
}
