package index

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/cockroachdb/pebble/v2"
)

// randChain builds random blocks over a few scripts: coinbases, spends of
// one to three outputs of the branch (outputs of the same block included),
// splits, OP_RETURN outputs. Each branch keeps its own pool, so forks
// spend differently.
type randChain struct {
	g       *gen
	rng     *rand.Rand
	scripts [][]byte
	pools   map[chainhash.Hash][]poolOut // unspent outputs as of each block
}

type poolOut struct {
	op    wire.OutPoint
	value int64
}

func newRandChain(seed uint64) *randChain {
	r := &randChain{g: newGen(regtest), rng: rand.New(rand.NewPCG(seed, 7)),
		pools: map[chainhash.Hash][]poolOut{}}
	for i := range 5 {
		r.scripts = append(r.scripts, script(uint32(1000+i)))
	}
	return r
}

func (r *randChain) extend(t *testing.T, parent chainhash.Hash, n int) []*wire.MsgBlock {
	t.Helper()
	var out []*wire.MsgBlock
	for range n {
		pool := append([]poolOut(nil), r.pools[parent]...)
		var txs []*wire.MsgTx
		for range r.rng.IntN(5) {
			if len(pool) == 0 {
				break
			}
			var ins []wire.OutPoint
			var total int64
			for range 1 + r.rng.IntN(3) {
				if len(pool) == 0 {
					break
				}
				i := r.rng.IntN(len(pool))
				ins = append(ins, pool[i].op)
				total += pool[i].value
				pool[i] = pool[len(pool)-1]
				pool = pool[:len(pool)-1]
			}
			var outs []*wire.TxOut
			nout := 1 + r.rng.IntN(3)
			for range nout {
				outs = append(outs, &wire.TxOut{Value: total / int64(nout+1),
					PkScript: r.scripts[r.rng.IntN(len(r.scripts))]})
			}
			if r.rng.IntN(4) == 0 {
				outs = append(outs, &wire.TxOut{PkScript: []byte{opReturn, 0x01, 0x02}})
			}
			tx := spend(ins, outs...)
			txs = append(txs, tx)
			for v, o := range tx.TxOut {
				if o.PkScript[0] != opReturn {
					pool = append(pool, poolOut{wire.OutPoint{Hash: tx.TxHash(), Index: uint32(v)}, o.Value})
				}
			}
		}
		b := r.g.block(t, parent, r.scripts[r.rng.IntN(len(r.scripts))], txs...)
		for v, o := range b.Transactions[0].TxOut {
			if o.PkScript[0] != opReturn {
				pool = append(pool, poolOut{wire.OutPoint{Hash: b.Transactions[0].TxHash(), Index: uint32(v)}, o.Value})
			}
		}
		parent = b.BlockHash()
		r.pools[parent] = pool
		out = append(out, b)
	}
	return out
}

// checkAgainstScan compares Balance and every page of UTXOs (sizes 1, 3
// and 10) with the scan-based reference as of every block in views that
// the index has indexed, for every script.
func checkAgainstScan(t *testing.T, ix *Index, r *randChain, views []chainhash.Hash) int {
	t.Helper()
	checked := 0
	for _, v := range views {
		for _, s := range r.scripts {
			want, err := ix.balanceScan(s, v)
			if errors.Is(err, ErrNotIndexed) || errors.Is(err, ErrUnknownBlock) {
				continue
			}
			if err != nil {
				t.Fatalf("balanceScan as of %s: %v", v, err)
			}
			got, err := ix.Balance(s, v)
			if err != nil || got != want {
				t.Fatalf("Balance(%x) as of %s = %d, %v; the scan says %d", s, v, got, err, want)
			}
			for _, size := range []int{1, 3, 10} {
				for page := 0; ; page++ {
					want, err := ix.utxosScan(s, page, size, v)
					if err != nil {
						t.Fatal(err)
					}
					got, err := ix.UTXOs(s, page, size, v)
					if err != nil || !reflect.DeepEqual(got, want) {
						t.Fatalf("UTXOs(%x, page %d, size %d) as of %s:\n got %+v %v\nwant %+v", s, page, size, v, got, err, want)
					}
					if len(want) < size {
						break
					}
				}
			}
			checked++
		}
	}
	return checked
}

// TestUTXOSetMatchesScan: the per-script unspent set answers exactly as
// the full scan of every output did, as of every block of the main chain
// and of side forks, through two reorgs (one back onto blocks indexed
// before), IndexFork of a fork and of a fork of a fork, a reopen, and with
// a cache so small that nearly every spend reads the database. The memo
// of change sets is on (answers memoized before each change of the chain
// are asked again after it) and, in tiny-memo, so small that it evicts
// all the time.
func TestUTXOSetMatchesScan(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cache int
		memo  int
	}{{"cached", 0, 0}, {"tiny-cache", 1, 0}, {"tiny-memo", 0, 2 << 10}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRandChain(42)
			a := r.extend(t, *regtest.GenesisHash, 25)
			b := r.extend(t, a[16].BlockHash(), 10) // heights 18..27: reorg A -> B
			a2 := r.extend(t, a[24].BlockHash(), 6) // A reaches 31: reorg back onto A
			c := r.extend(t, a[21].BlockHash(), 3)  // side fork, never connected
			d := r.extend(t, b[5].BlockHash(), 2)   // fork of B, never connected

			dir := t.TempDir()
			cfg := Config{Dir: dir, Params: regtest, MaxBatchDelay: 20 * time.Millisecond, UTXOCacheBytes: tc.cache, ChangeMemoBytes: tc.memo,
				Now: func() time.Time { return time.Unix(1_900_000_000, 0) }}
			if tc.cache > 0 {
				// Small batches: many commits, so the tiny cache is
				// trimmed often.
				cfg.BatchBytes = 64 << 10
			}
			ix, err := Open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var all []chainhash.Hash
			for _, bs := range [][]*wire.MsgBlock{a, b, a2, c, d} {
				for _, blk := range bs {
					all = append(all, blk.BlockHash())
				}
			}
			feed(t, ix, a)
			mustTip(t, ix, a[24].BlockHash(), 25)
			checkAgainstScan(t, ix, r, all)
			feed(t, ix, b)
			mustTip(t, ix, b[9].BlockHash(), 27)
			checkAgainstScan(t, ix, r, all)
			feed(t, ix, a2)
			mustTip(t, ix, a2[5].BlockHash(), 31)
			feed(t, ix, c)
			feed(t, ix, d)
			for _, tip := range []*wire.MsgBlock{c[2], d[1]} {
				if err := ix.IndexFork(tip.BlockHash()); err != nil {
					t.Fatalf("IndexFork: %v", err)
				}
			}
			n := checkAgainstScan(t, ix, r, all)
			// 31 main blocks, 10 of B, 5 of the two forks.
			if want := (31 + 10 + 5) * len(r.scripts); n != want {
				t.Fatalf("checked %d views x scripts, want %d", n, want)
			}
			// Headers of five more blocks, two of them delivered: the
			// batches do not reach the best header, so (with room in
			// the cache) the stored set stays at 31 and queries replay
			// the blocks above it; a reopen rebuilds them from there.
			e := r.extend(t, a2[5].BlockHash(), 5)
			for _, blk := range e {
				all = append(all, blk.BlockHash())
			}
			if _, _, err := ix.AcceptHeaders(headers(e)); err != nil {
				t.Fatal(err)
			}
			feed(t, ix, e[:2])
			mustTip(t, ix, e[1].BlockHash(), 33)
			lag := func(want int32) {
				t.Helper()
				ix.mu.RLock()
				got := ix.setTip.height
				ix.mu.RUnlock()
				if tc.cache == 0 && got != want {
					t.Fatalf("stored set at height %d, want %d", got, want)
				}
			}
			lag(31)
			checkAgainstScan(t, ix, r, all)
			if err := ix.Close(); err != nil {
				t.Fatal(err)
			}
			if ix, err = Open(cfg); err != nil {
				t.Fatal(err)
			}
			defer ix.Close()
			lag(31)
			checkAgainstScan(t, ix, r, all)
			feed(t, ix, e[2:])
			mustTip(t, ix, e[4].BlockHash(), 36)
			lag(36)
			checkAgainstScan(t, ix, r, all)
		})
	}
}

// TestOldFormatRefused: a datadir of the format before the unspent set
// is refused with the fix named, not answered from: one made by that
// build (pebble's default merger, no format record), and one whose
// format record says another version.
func TestOldFormatRefused(t *testing.T) {
	t.Run("format-1 datadir", func(t *testing.T) {
		dir := t.TempDir()
		cfg := Config{Dir: dir, Params: regtest}
		if err := cfg.setDefaults(); err != nil {
			t.Fatal(err)
		}
		o := pebbleOptions(&cfg)
		o.Merger = pebble.DefaultMerger
		v1 := *o.Comparer
		v1.Name = "hemi.btcindex.v1"
		o.Comparer = &v1
		db, err := pebble.Open(dir, o)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Set(idKey(pfxHeader, 0), encodeHeaderRecord(&regtest.GenesisBlock.Header, statusHaveData|statusIndexed), pebble.Sync); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		checkFormatError(t, dir)
	})
	// A format-2 datadir (before headers and blocks moved below the
	// connect batches' tables): its header records are under 'h', so
	// without the format check first it would look empty and be
	// initialised over.
	t.Run("format-2 datadir", func(t *testing.T) {
		dir := t.TempDir()
		db := openRawDB(t, dir)
		b := db.NewBatch()
		_ = b.Set(idKey('h', 0), encodeHeaderRecord(&regtest.GenesisBlock.Header, statusHaveData), nil)
		_ = b.Set(formatKey, be.AppendUint32(nil, 2), nil)
		if err := b.Commit(pebble.Sync); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		checkFormatError(t, dir)
	})
	t.Run("other format record", func(t *testing.T) {
		dir := t.TempDir()
		ix := openTest(t, dir, regtest)
		feed(t, ix, newGen(regtest).chain(t, *regtest.GenesisHash, 3, payM))
		if err := ix.db.Set(formatKey, be.AppendUint32(nil, formatVersion+1), pebble.Sync); err != nil {
			t.Fatal(err)
		}
		if err := ix.Close(); err != nil {
			t.Fatal(err)
		}
		checkFormatError(t, dir)
	})
}

func checkFormatError(t *testing.T, dir string) {
	t.Helper()
	ix, err := Open(Config{Dir: dir, Params: regtest})
	if err == nil {
		ix.Close()
	}
	if !errors.Is(err, ErrFormat) {
		t.Fatalf("open: %v, want ErrFormat", err)
	}
	if want := "reindex: delete " + dir; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
}
