package index

import (
	"bytes"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/cockroachdb/pebble/v2"

	"github.com/hemi-go/hemi/internal/pebblelog"
)

// realisticChain builds blocks of txsPerBlock transactions shaped like the
// benchmark's: 1-3 P2WPKH or P2TR inputs, two outputs, an OP_RETURN on some.
func realisticChain(tb testing.TB, g *gen, blocks, txsPerBlock int) []*wire.MsgBlock {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	type coin struct {
		op    wire.OutPoint
		value int64
	}
	var coins []coin
	parent := *g.params.GenesisHash
	out := make([]*wire.MsgBlock, 0, blocks)
	pay := func() []byte {
		if rng.IntN(2) == 0 {
			return script(uint32(rng.IntN(5000)))
		}
		s := make([]byte, 34)
		s[0], s[1] = 0x51, 0x20
		for i := 2; i < 34; i++ {
			s[i] = byte(rng.Uint32())
		}
		return s
	}
	for bi := 0; bi < blocks; bi++ {
		var txs []*wire.MsgTx
		for len(txs) < txsPerBlock && len(coins) > 0 {
			n := 1 + rng.IntN(3)
			if n > len(coins) {
				n = len(coins)
			}
			var ins []wire.OutPoint
			var total int64
			for range n {
				j := rng.IntN(len(coins))
				ins = append(ins, coins[j].op)
				total += coins[j].value
				coins[j] = coins[len(coins)-1]
				coins = coins[:len(coins)-1]
			}
			half := (total - 1000) / 2
			tx := spend(ins, &wire.TxOut{Value: half, PkScript: pay()}, &wire.TxOut{Value: total - 1000 - half, PkScript: pay()})
			if rng.IntN(10) == 0 {
				tx.AddTxOut(&wire.TxOut{PkScript: append([]byte{0x6a, 0x10}, bytes.Repeat([]byte{7}, 16)...)})
			}
			txs = append(txs, tx)
		}
		// Fresh coins from the previous block's outputs go to the back of
		// the pool so spends chain within the benchmark window.
		b := g.block(tb, parent, script(uint32(bi)), txs...)
		for _, tx := range b.Transactions {
			h := tx.TxHash()
			for v, o := range tx.TxOut {
				if o.Value > 2000 {
					// Split coinbases into many coins via value only.
					coins = append(coins, coin{wire.OutPoint{Hash: h, Index: uint32(v)}, o.Value})
				}
			}
		}
		// Grow the pool quickly at the start with synthetic coins: the
		// index does not validate that outpoints exist.
		for len(coins) < 3*txsPerBlock {
			var h chainhash.Hash
			for i := range h {
				h[i] = byte(rng.Uint32())
			}
			coins = append(coins, coin{wire.OutPoint{Hash: h, Index: 0}, 1e8})
		}
		parent = b.BlockHash()
		out = append(out, b)
	}
	return out
}

// benchChain returns the serialized blocks, headers and transaction count
// of a realistic chain, cached in $INDEX_BENCH_CACHE when set (generating
// 500k transactions takes a few seconds).
func benchChain(b *testing.B, g *gen, blocks, txs int) ([][]byte, []wire.BlockHeader, int) {
	cache := os.Getenv("INDEX_BENCH_CACHE")
	var raws [][]byte
	if cache != "" {
		if data, err := os.ReadFile(cache); err == nil {
			for len(data) >= 4 {
				n := int(be.Uint32(data))
				if len(data) < 4+n {
					break
				}
				raws = append(raws, data[4:4+n])
				data = data[4+n:]
			}
			if len(raws) != blocks {
				raws = nil
			}
		}
	}
	if raws == nil {
		var file []byte
		for _, blk := range realisticChain(b, g, blocks, txs) {
			var buf bytes.Buffer
			if err := blk.Serialize(&buf); err != nil {
				b.Fatal(err)
			}
			raws = append(raws, buf.Bytes())
			file = be.AppendUint32(file, uint32(buf.Len()))
			file = append(file, buf.Bytes()...)
		}
		if cache != "" {
			_ = os.WriteFile(cache, file, 0o644)
		}
	}
	hdrs := make([]wire.BlockHeader, len(raws))
	ntx := 0
	for i, raw := range raws {
		var m wire.MsgBlock
		if err := m.Deserialize(bytes.NewReader(raw)); err != nil {
			b.Fatal(err)
		}
		hdrs[i] = m.Header
		ntx += len(m.Transactions)
	}
	return raws, hdrs, ntx
}

// BenchmarkSync measures decoding, verifying, storing and indexing blocks
// delivered by two goroutines, as the P2P client does; it reports
// transactions per second and CPU nanoseconds per transaction. The chain
// has INDEX_BENCH_BLOCKS blocks of 250 transactions (default 200; 2000 is
// the 500,000-tx benchmark), cached in the file INDEX_BENCH_CACHE
// when set. INDEX_MEMTABLE_MB and INDEX_BATCH_MB override the defaults.
func BenchmarkSync(b *testing.B) {
	g := newGen(regtest)
	blocks := 200
	if v, err := strconv.Atoi(os.Getenv("INDEX_BENCH_BLOCKS")); err == nil && v > 0 {
		blocks = v
	}
	raws, hdrs, ntx := benchChain(b, g, blocks, 250)
	runtime.GC()
	b.ResetTimer()
	var elapsed, cpu time.Duration
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		ix := openTest(b, dir, regtest)
		if _, _, err := ix.AcceptHeaders(hdrs); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		cpu0 := cpuTime()
		var wg sync.WaitGroup
		workers := runtime.GOMAXPROCS(0)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < len(raws); i += workers {
					msg := new(wire.MsgBlock)
					if err := msg.Deserialize(bytes.NewReader(raws[i])); err != nil {
						b.Error(err)
						return
					}
					if err := ix.AcceptBlock(msg); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		for {
			if _, h := ix.BlockTip(); h == int32(len(raws)) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		elapsed += time.Since(start)
		cpu += cpuTime() - cpu0
		b.StopTimer()
		if _, h := ix.BlockTip(); h != int32(len(raws)) {
			b.Fatalf("tip %d", h)
		}
		if os.Getenv("INDEX_BENCH_METRICS") != "" {
			b.Log(ix.db.Metrics().String())
		}
		ix.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(ntx*b.N)/elapsed.Seconds(), "tx/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(ntx*b.N), "cpu-ns/tx")
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIndexEntries measures writing one block's index entries into a
// batch (no commit): the connector's CPU cost per block.
func BenchmarkIndexEntries(b *testing.B) {
	g := newGen(regtest)
	bs := realisticChain(b, g, 3, 1000)
	raw, bd, err := prepareBlock(bs[2])
	if err != nil {
		b.Fatal(err)
	}
	_ = raw
	db, err := pebble.Open(b.TempDir(), &pebble.Options{Logger: pebblelog.Logger{Log: slog.New(slog.DiscardHandler)}, Comparer: comparer})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	n := &node{id: 7, height: 3}
	batch := db.NewBatchWithSize(4 << 20)
	w := newEntryWriter()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		batch.Reset()
		w.reset()
		for _, x := range dataIndexes {
			x.write(w, n, bd)
		}
		w.writeTo(batch)
	}
	b.ReportMetric(float64(len(bd.txids)*b.N)/b.Elapsed().Seconds(), "tx/s")
}

// BenchmarkPrepareBlock measures encoding, hashing and verifying a block.
func BenchmarkPrepareBlock(b *testing.B) {
	g := newGen(regtest)
	bs := realisticChain(b, g, 3, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, _, err := prepareBlock(bs[2]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(bs[2].Transactions)*b.N)/b.Elapsed().Seconds(), "tx/s")
}

// syncedIndex returns an index holding a realistic chain.
func syncedIndex(b *testing.B, blocks, txs int) (*Index, []*wire.MsgBlock) {
	g := newGen(regtest)
	bs := realisticChain(b, g, blocks, txs)
	ix := openTest(b, b.TempDir(), regtest)
	b.Cleanup(func() { ix.Close() })
	feed(b, ix, bs)
	mustTip(b, ix, bs[len(bs)-1].BlockHash(), int32(len(bs)))
	return ix, bs
}

// BenchmarkQueries measures the queries the hVM precompiles make, as of
// the tip and as of an older main-chain block.
func BenchmarkQueries(b *testing.B) {
	blocks := 100
	if v, err := strconv.Atoi(os.Getenv("INDEX_BENCH_QUERY_BLOCKS")); err == nil && v > 100 {
		blocks = v
	}
	ix, bs := syncedIndex(b, blocks, 200)
	mid := bs[50].BlockHash()
	var txids []chainhash.Hash
	var scripts [][]byte
	for _, blk := range bs[40:50] {
		for _, tx := range blk.Transactions {
			txids = append(txids, tx.TxHash())
			scripts = append(scripts, tx.TxOut[0].PkScript)
		}
	}
	for _, asOf := range []struct {
		name string
		h    chainhash.Hash
	}{{"tip", chainhash.Hash{}}, {"mid", mid}} {
		b.Run("TxByID/"+asOf.name, func(b *testing.B) {
			for i := range b.N {
				if _, err := ix.TxByID(txids[i%len(txids)], asOf.h); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Balance/"+asOf.name, func(b *testing.B) {
			for i := range b.N {
				if _, err := ix.Balance(scripts[i%len(scripts)], asOf.h); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("UTXOs/"+asOf.name, func(b *testing.B) {
			for i := range b.N {
				if _, err := ix.UTXOs(scripts[i%len(scripts)], 0, 10, asOf.h); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("HeaderByHeight/"+asOf.name, func(b *testing.B) {
			for i := range b.N {
				if _, err := ix.HeaderByHeight(int32(1+i%40), asOf.h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkConnectBlock measures the steady state at the chain tip: each
// block's header then the block arrive, and the block is verified, stored,
// indexed and committed in its own batch before the next one.
func BenchmarkConnectBlock(b *testing.B) {
	const blocks = 100
	g := newGen(regtest)
	bs := realisticChain(b, g, blocks, 250)
	ntx := 0
	for _, blk := range bs {
		ntx += len(blk.Transactions)
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		ix := openTest(b, b.TempDir(), regtest)
		b.StartTimer()
		for i, blk := range bs {
			if _, _, err := ix.AcceptHeaders([]wire.BlockHeader{blk.Header}); err != nil {
				b.Fatal(err)
			}
			if err := ix.AcceptBlock(blk); err != nil {
				b.Fatal(err)
			}
			if _, h := ix.BlockTip(); h != int32(i+1) {
				b.Fatalf("block %d not connected at once", i+1)
			}
		}
		b.StopTimer()
		ix.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(blocks*b.N), "ns/block")
	b.ReportMetric(float64(ntx*b.N)/b.Elapsed().Seconds(), "tx/s")
}

// BenchmarkHeaders measures accepting headers in 2,000-header messages and
// reopening the index (loading the header tree).
func BenchmarkHeaders(b *testing.B) {
	const n = 20000
	g := newGen(regtest)
	hs := make([]wire.BlockHeader, 0, n)
	prev := *regtest.GenesisHash
	ts := regtest.GenesisBlock.Header.Timestamp
	for range n {
		ts = ts.Add(10 * time.Minute)
		h := wire.BlockHeader{Version: 0x20000000, PrevBlock: prev, MerkleRoot: chainhash.Hash{1}, Timestamp: ts, Bits: regtest.PowLimitBits}
		solve(&h)
		hs = append(hs, h)
		prev = h.BlockHash()
	}
	_ = g
	b.Run("accept", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			ix := openTest(b, b.TempDir(), regtest)
			b.StartTimer()
			for i := 0; i < n; i += 2000 {
				if _, _, err := ix.AcceptHeaders(hs[i : i+2000]); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			ix.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*b.N), "ns/header")
	})
	b.Run("reopen", func(b *testing.B) {
		dir := b.TempDir()
		ix := openTest(b, dir, regtest)
		for i := 0; i < n; i += 2000 {
			if _, _, err := ix.AcceptHeaders(hs[i : i+2000]); err != nil {
				b.Fatal(err)
			}
		}
		ix.Close()
		b.ResetTimer()
		for range b.N {
			ix := openTest(b, dir, regtest)
			b.StopTimer()
			ix.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*b.N), "ns/header")
	})
}
