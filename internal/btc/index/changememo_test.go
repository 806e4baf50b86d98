package index

import (
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// memoChain builds the hVM case the memo is for: busy holds 30 outputs
// from block 2; block 6 (of 7) pays it 2,000 outputs in one transaction
// and spends 5 of the old ones. The tip is 7, the view 5 (two below).
type memoChain struct {
	g          *gen
	bs         []*wire.MsgBlock
	busy, sink []byte
	fake       uint32
}

func (c *memoChain) fund() wire.OutPoint { // an input the index never saw: ignored
	c.fake++
	return wire.OutPoint{Hash: chainhash.Hash{0xfd, byte(c.fake), byte(c.fake >> 8)}}
}

func (c *memoChain) outs(n int) []*wire.TxOut {
	o := make([]*wire.TxOut, n)
	for i := range o {
		o[i] = &wire.TxOut{Value: int64(1000 + i), PkScript: c.busy}
	}
	return o
}

func newMemoChain(t *testing.T) *memoChain {
	c := &memoChain{g: newGen(regtest), busy: script(8000), sink: script(8001)}
	parent := *regtest.GenesisHash
	var old *wire.MsgTx
	for h := 1; h <= 7; h++ {
		var txs []*wire.MsgTx
		switch h {
		case 2:
			old = spend([]wire.OutPoint{c.fund()}, c.outs(30)...)
			txs = append(txs, old)
		case 6:
			var ins []wire.OutPoint
			for i := range 5 {
				ins = append(ins, wire.OutPoint{Hash: old.TxHash(), Index: uint32(i)})
			}
			txs = append(txs, spend([]wire.OutPoint{c.fund()}, c.outs(2000)...),
				spend(ins, &wire.TxOut{Value: 1, PkScript: c.sink}))
		}
		b := c.g.block(t, parent, payM, txs...)
		parent = b.BlockHash()
		c.bs = append(c.bs, b)
	}
	return c
}

// TestMemoReadsOnce: as of a view two blocks below the tip, the first
// Balance of an address paid 2,000 outputs above the view reads its change
// records (2 + R); the next ones read only the stored balance, and every
// page of UTXOs only its stored rows, whatever the number of calls, with
// the answers of the full scan. Concurrent first calls read the records
// once in total. Without the memo every call reads R again.
func TestMemoReadsOnce(t *testing.T) {
	c := newMemoChain(t)
	ix := openTest(t, t.TempDir(), regtest)
	defer ix.Close()
	feed(t, ix, c.bs)
	mustTip(t, ix, c.bs[6].BlockHash(), 7)
	view := c.bs[4].BlockHash() // height 5
	// R: 2,000 creations and 5 spends in block 6.
	const r = 2005

	want, err := ix.balanceScan(c.busy, view)
	if err != nil {
		t.Fatal(err)
	}
	var got int64
	balance := func() error { var err error; got, err = ix.Balance(c.busy, view); return err }
	if n := readsOf(t, ix, balance); n != 2+r || got != want {
		t.Fatalf("first Balance: %d reads (want %d), %d (scan %d)", n, 2+r, got, want)
	}
	for i := range 3 {
		if n := readsOf(t, ix, balance); n != 1 || got != want {
			t.Fatalf("Balance call %d: %d reads (want 1: the stored balance), %d (scan %d)", i+2, n, got, want)
		}
	}
	// UTXOs share the memoized set: 30 unspent as of the view, pages
	// of 10 read their 10 rows (the last one its end too).
	for p := range 4 {
		var us []UTXO
		n := readsOf(t, ix, func() error { var err error; us, err = ix.UTXOs(c.busy, p, 10, view); return err })
		ref, err := ix.utxosScan(c.busy, p, 10, view)
		if err != nil {
			t.Fatal(err)
		}
		if bound := uint64(10*(p+1) + 1); n > bound || !reflect.DeepEqual(us, ref) {
			t.Fatalf("UTXOs page %d: %d reads (bound %d without R), %d outputs, scan %d", p, n, bound, len(us), len(ref))
		}
	}

	// Another view pays its own records once; UTXOs first this time.
	view2 := c.bs[3].BlockHash() // height 4
	utxos := func() error { _, err := ix.UTXOs(c.busy, 0, 10, view2); return err }
	// Page 0 takes the 5 outputs block 6 spent from the memo, 5 rows
	// from the stored set.
	// (One seek and R steps in the records, no balance read.)
	if n := readsOf(t, ix, utxos); n != 1+r+5 {
		t.Fatalf("first UTXOs as of 4: %d reads, want %d", n, 1+r+5)
	}
	if n := readsOf(t, ix, utxos); n != 5 {
		t.Fatalf("second UTXOs as of 4: %d reads, want 5", n)
	}

	// Concurrent first calls on a fresh state: one computes, the
	// others wait for it or hit.
	purgeMemo(ix)
	const callers = 8
	before := ix.Reads()
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			b, err := ix.Balance(c.busy, view)
			if err == nil && b != want {
				err = errorf("balance %d, scan %d", b, want)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n, bound := ix.Reads()-before, uint64(2+r+(callers-1)); n != bound {
		t.Fatalf("%d concurrent Balance calls: %d reads, want %d (R once)", callers, n, bound)
	}
}

// TestMemoNotStale: answers as of views below the tip, memoized, stay
// those of the full scan after each change of the state they were
// computed from: a block connecting, a reorg (the view staying on the
// connected chain, and another view leaving it), a side fork indexed, and
// a reopen; through the blocks of busy's 2,000 outputs.
func TestMemoNotStale(t *testing.T) {
	c := newMemoChain(t)
	ix := openTest(t, t.TempDir(), regtest)
	defer func() { ix.Close() }()
	feed(t, ix, c.bs[:6])
	mustTip(t, ix, c.bs[5].BlockHash(), 6)
	var views []chainhash.Hash
	for _, b := range c.bs {
		views = append(views, b.BlockHash())
	}
	check := func(step string) {
		t.Helper()
		for _, v := range views {
			for _, s := range [][]byte{c.busy, c.sink} {
				for range 2 { // a miss, then a hit
					want, err := ix.balanceScan(s, v)
					if isErr(err, ErrNotIndexed) || isErr(err, ErrUnknownBlock) {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					got, err := ix.Balance(s, v)
					if err != nil || got != want {
						t.Fatalf("%s: Balance as of %s = %d, %v; scan %d", step, v, got, err, want)
					}
					for p := range 4 {
						ref, err := ix.utxosScan(s, p, 10, v)
						if err != nil {
							t.Fatal(err)
						}
						us, err := ix.UTXOs(s, p, 10, v)
						if err != nil || !reflect.DeepEqual(us, ref) {
							t.Fatalf("%s: UTXOs page %d as of %s: %d outputs, %v; scan %d", step, p, v, len(us), err, len(ref))
						}
					}
				}
			}
		}
	}
	check("tip 6")
	// Block 7 spends 40 of block 6's outputs and 10 of block 2's.
	var ins []wire.OutPoint
	for i := range 40 {
		ins = append(ins, wire.OutPoint{Hash: c.bs[5].Transactions[1].TxHash(), Index: uint32(i)})
	}
	for i := 10; i < 20; i++ {
		ins = append(ins, wire.OutPoint{Hash: c.bs[1].Transactions[1].TxHash(), Index: uint32(i)})
	}
	b7 := c.g.block(t, c.bs[5].BlockHash(), payM, spend(ins, &wire.TxOut{Value: 1, PkScript: c.sink}))
	views = append(views, b7.BlockHash())
	feed(t, ix, []*wire.MsgBlock{b7})
	mustTip(t, ix, b7.BlockHash(), 7)
	check("block 7 connected")
	// The other 7 (c.bs[6]) and an 8 on it: a reorg from 6; views 1-6
	// stay connected, b7 leaves.
	b8 := c.g.block(t, c.bs[6].BlockHash(), payM, spend(ins[40:], c.outs(3)...))
	views = append(views, b8.BlockHash())
	feed(t, ix, []*wire.MsgBlock{c.bs[6], b8})
	mustTip(t, ix, b8.BlockHash(), 8)
	check("reorg to 8")
	// A fork from 5 that spends busy's old outputs, indexed, not
	// connected.
	f6 := c.g.block(t, c.bs[4].BlockHash(), payM, spend(ins[40:45], c.outs(2)...))
	f7 := c.g.block(t, f6.BlockHash(), payM, spend([]wire.OutPoint{c.fund()}, c.outs(7)...))
	views = append(views, f6.BlockHash(), f7.BlockHash())
	feed(t, ix, []*wire.MsgBlock{f6, f7})
	if err := ix.IndexFork(f7.BlockHash()); err != nil {
		t.Fatal(err)
	}
	check("fork indexed")
	// Reorg onto the fork (9 on it): views 6, 7, 8 leave, f6, f7 join.
	f8 := c.g.block(t, f7.BlockHash(), payM)
	f9 := c.g.block(t, f8.BlockHash(), payM, spend(ins[45:50], c.outs(1)...))
	views = append(views, f8.BlockHash(), f9.BlockHash())
	feed(t, ix, []*wire.MsgBlock{f8, f9})
	mustTip(t, ix, f9.BlockHash(), 9)
	check("reorg onto the fork")
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ix = openTest(t, ix.cfg.Dir, regtest)
	check("reopened")
}

// TestMemoBounded: the memo keeps at most Config.ChangeMemoBytes of
// entries, dropping the least recently used, and never keeps one larger
// than the whole bound.
func TestMemoBounded(t *testing.T) {
	entry := func(adds int) *changes {
		return &changes{adds: make([]utxo, adds), gone: make([]ord, 1)}
	}
	one := entry(10).bytes()
	m := newChangeMemo(3 * one)
	keys := make([]memoKey, 5)
	for i := range keys {
		keys[i] = memoKey{sh: [32]byte{byte(i)}, view: 1, gen: 1}
		m.add(&keys[i], entry(10))
		if i == 1 {
			m.get(&keys[0]) // 0 is now more recent than 1
		}
		if n, size := m.stats(); n > 3 || size > 3*one {
			t.Fatalf("after %d adds: %d entries, %d bytes; bound %d", i+1, n, size, 3*one)
		}
	}
	for i, want := range []bool{false, false, true, true, true} { // 1 then 0 evicted
		if _, ok := m.get(&keys[i]); ok != want {
			t.Errorf("entry %d held: %v, want %v", i, ok, want)
		}
	}
	big := memoKey{sh: [32]byte{9}}
	m.add(&big, entry(4*10))
	if _, ok := m.get(&big); ok {
		t.Error("an entry larger than the bound was kept")
	}
	if n, _ := m.stats(); n != 3 {
		t.Errorf("%d entries after refusing the large one, want 3", n)
	}

	// Through the index: a memo with room for one busy entry (2,000
	// outputs created above the view, 12 bytes each).
	c := newMemoChain(t)
	cfg := Config{Dir: t.TempDir(), Params: regtest, MaxBatchDelay: 20 * time.Millisecond,
		ChangeMemoBytes: 40 << 10, Now: func() time.Time { return time.Unix(1_900_000_000, 0) }}
	ix, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	feed(t, ix, c.bs)
	mustTip(t, ix, c.bs[6].BlockHash(), 7)
	for _, b := range c.bs[:6] {
		if _, err := ix.Balance(c.busy, b.BlockHash()); err != nil {
			t.Fatal(err)
		}
		if n, size := ix.memo.stats(); size > cfg.ChangeMemoBytes || n > 1 {
			t.Fatalf("memo holds %d entries, %d bytes; bound %d", n, size, cfg.ChangeMemoBytes)
		}
	}
	// The most recent entry (view 5) is held, the view of 1 was
	// evicted: its records are read again.
	if n := readsOf(t, ix, func() error { _, err := ix.Balance(c.busy, c.bs[4].BlockHash()); return err }); n != 1 {
		t.Fatalf("Balance as of the most recent view read %d, want 1 (memoized)", n)
	}
	// The view of 1 was evicted: its records are read again.
	if n := readsOf(t, ix, func() error { _, err := ix.Balance(c.busy, c.bs[0].BlockHash()); return err }); n < 2000 {
		t.Fatalf("Balance as of an evicted view read %d, want its records again", n)
	}
}

// purgeMemo empties ix's memo, so the next query pays its change records.
func purgeMemo(ix *Index) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.memo.purge()
}
