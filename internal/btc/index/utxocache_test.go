package index

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
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

// growingChain builds blocks of txs transactions that each spend one
// random unspent output (of the coinbases and earlier transactions) into
// two, so the unspent set grows by txs outputs a block, and spends are
// spread over the whole set as in the benchmark's chains.
func growingChain(tb testing.TB, g *gen, blocks, txs int) []*wire.MsgBlock {
	tb.Helper()
	rng := rand.New(rand.NewPCG(7, 8))
	var pool []wire.OutPoint
	parent := *g.params.GenesisHash
	out := make([]*wire.MsgBlock, 0, blocks)
	for bi := range blocks {
		var bt []*wire.MsgTx
		for range txs {
			if len(pool) == 0 {
				break
			}
			j := rng.IntN(len(pool))
			in := pool[j]
			pool[j] = pool[len(pool)-1]
			pool = pool[:len(pool)-1]
			bt = append(bt, spend([]wire.OutPoint{in},
				&wire.TxOut{Value: 1000, PkScript: script(uint32(rng.IntN(50)))},
				&wire.TxOut{Value: 2000, PkScript: script(uint32(rng.IntN(50)))}))
		}
		b := g.block(tb, parent, script(uint32(1000+bi)), bt...)
		for _, tx := range b.Transactions {
			h := tx.TxHash()
			for v, o := range tx.TxOut {
				if o.Value > 0 { // not the witness commitment
					pool = append(pool, wire.OutPoint{Hash: h, Index: uint32(v)})
				}
			}
		}
		parent = b.BlockHash()
		out = append(out, b)
	}
	return out
}

// TestUTXOCacheHoldsSet: while the unspent set fits Config.UTXOCacheBytes,
// the write path never reads the database, however many outputs were
// created and spent and however often the set is stored (small batches
// store it every few blocks); with a budget of a tenth of the set it
// reads, and the answers are the same. The set here ends with about
// 12,000 outputs (about 1.7 MB of cache).
func TestUTXOCacheHoldsSet(t *testing.T) {
	g := newGen(regtest)
	bs := growingChain(t, g, 60, 200)
	for _, tc := range []struct {
		name   string
		budget int
		misses bool
	}{{"fits", 2 << 20, false}, {"tenth", 170 << 10, true}} {
		t.Run(tc.name, func(t *testing.T) {
			ix, err := Open(Config{Dir: t.TempDir(), Params: regtest, MaxBatchDelay: 20 * time.Millisecond,
				BatchBytes: 256 << 10, UTXOCacheBytes: tc.budget,
				Now: func() time.Time { return time.Unix(1_900_000_000, 0) }})
			if err != nil {
				t.Fatal(err)
			}
			defer ix.Close()
			feed(t, ix, bs)
			mustTip(t, ix, bs[len(bs)-1].BlockHash(), int32(len(bs)))
			ix.connMu.Lock()
			misses, n, mem := ix.utxos.misses, len(ix.utxos.outs), ix.utxos.memBytes()
			ix.connMu.Unlock()
			t.Logf("%d cached outputs, %d bytes, %d misses", n, mem, misses)
			if got := misses > 0; got != tc.misses {
				t.Fatalf("%d database reads on the write path (budget %d bytes, %d cached outputs), want them %v", misses, tc.budget, n, tc.misses)
			}
			if mem > tc.budget {
				t.Fatalf("cache holds %d bytes, budget %d", mem, tc.budget)
			}
			// The stored set answers as the chain says: every script's
			// balance is its unspent outputs' sum.
			want := map[string]int64{}
			spent := map[wire.OutPoint]bool{}
			for _, b := range bs {
				for _, tx := range b.Transactions[1:] {
					for _, in := range tx.TxIn {
						spent[in.PreviousOutPoint] = true
					}
				}
			}
			for _, b := range bs {
				for _, tx := range b.Transactions {
					for v, o := range tx.TxOut {
						if !spent[wire.OutPoint{Hash: tx.TxHash(), Index: uint32(v)}] {
							want[string(o.PkScript)] += o.Value
						}
					}
				}
			}
			tip := bs[len(bs)-1].BlockHash()
			for s, v := range want {
				got, err := ix.Balance([]byte(s), tip)
				if err != nil || got != v {
					t.Fatalf("balance of %x = %d, %v; want %d", s, got, err, v)
				}
			}
		})
	}
}

// TestMainSetEvictsOldest: over budget after a flush, the cache drops its
// oldest outputs (the least likely to be spent soon) down to three
// quarters of the budget, and keeps the newer ones.
func TestMainSetEvictsOldest(t *testing.T) {
	const perHeight, heights = 100, 10
	s := newMainSet(nil, perHeight*heights*outEntryBytes)
	for h := range int32(heights) {
		for i := range perHeight {
			u := testOut(int(h)*perHeight+i, h+1)
			s.add(nil, &u)
		}
	}
	s.flushed()
	if s.evicted != 0 {
		t.Fatalf("evicted %d at the budget", s.evicted)
	}
	for i := range 2 * perHeight {
		u := testOut(heights*perHeight+i, heights+1)
		s.add(nil, &u)
	}
	s.flushed()
	if s.memBytes() > s.limit/4*3 {
		t.Fatalf("cache at %d bytes after eviction, want at most %d", s.memBytes(), s.limit/4*3)
	}
	minH := int32(heights + 1)
	for _, c := range s.outs {
		minH = min(minH, c.height)
	}
	// 1200 outputs over a budget of 1000: down to 750, the oldest 450
	// (heights 1..4 and half of 5) dropped.
	if s.evicted != 450 || len(s.outs) != 750 || minH != 5 {
		t.Fatalf("evicted %d, kept %d from height %d; want 450, 750 from height 5", s.evicted, len(s.outs), minH)
	}
}

// TestOutpointList checks the dirty list across chunk boundaries and
// after a reset (no earlier entry may show).
func TestOutpointList(t *testing.T) {
	var l outpointList
	for _, tc := range []struct {
		name string
		n    int
	}{
		{"empty", 0},
		{"one", 1},
		{"one chunk", outpointChunk},
		{"chunk and one", outpointChunk + 1},
		{"three chunks less one", 3*outpointChunk - 1},
		{"fewer after more", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l.reset()
			for i := range tc.n {
				l.add(&wire.OutPoint{Index: uint32(i), Hash: chainhash.Hash{byte(tc.n)}})
			}
			got := 0
			for op := range l.all() {
				if op.Index != uint32(got) || op.Hash[0] != byte(tc.n) {
					t.Fatalf("entry %d is %v", got, op)
				}
				got++
			}
			if got != tc.n {
				t.Fatalf("yielded %d of %d", got, tc.n)
			}
		})
	}
}
