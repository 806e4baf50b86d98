package index

import (
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// readsOf returns the database reads fn's queries made.
func readsOf(t *testing.T, ix *Index, fn func() error) uint64 {
	t.Helper()
	before := ix.Reads()
	if err := fn(); err != nil {
		t.Fatal(err)
	}
	return ix.Reads() - before
}

// TestQueryReadsBounded: Balance and UTXOs make as many database reads
// for an address with 5,000 past outputs (4,802 spent) as for one with
// 10, at the tip, as of a block three below it and as of a side fork
// (both addresses received one output in each block above the fork
// point: the as-of bound counts the script's changes there); page p of
// 10 reads at most 10(p+1) stored outputs. The scan over every output
// the index used before reads thousands for the busy address.
func TestQueryReadsBounded(t *testing.T) {
	busy, quiet, sink := script(7000), script(7001), script(7002)
	g := newGen(regtest)
	parent := *regtest.GenesisHash
	var bs []*wire.MsgBlock
	var prev *wire.MsgTx
	fake := uint32(0)
	fund := func() wire.OutPoint { // an input the index never saw: ignored
		fake++
		return wire.OutPoint{Hash: chainhash.Hash{0xfe, byte(fake), byte(fake >> 8)}}
	}
	add := func(txs ...*wire.MsgTx) *wire.MsgBlock {
		b := g.block(t, parent, payM, txs...)
		parent = b.BlockHash()
		bs = append(bs, b)
		return b
	}
	outs := func(s []byte, n int) []*wire.TxOut {
		o := make([]*wire.TxOut, n)
		for i := range o {
			o[i] = &wire.TxOut{Value: 5e7, PkScript: s}
		}
		return o
	}
	// Blocks 1-50: 100 outputs to busy each; 98 of the previous block's
	// spent. Block 1 also pays quiet its 10 outputs.
	for h := 1; h <= 50; h++ {
		txs := []*wire.MsgTx{spend([]wire.OutPoint{fund()}, outs(busy, 100)...)}
		if prev != nil {
			ins := make([]wire.OutPoint, 98)
			for i := range ins {
				ins[i] = wire.OutPoint{Hash: prev.TxHash(), Index: uint32(i)}
			}
			txs = append(txs, spend(ins, &wire.TxOut{Value: 1, PkScript: sink}))
		}
		if h == 1 {
			txs = append(txs, spend([]wire.OutPoint{fund()}, outs(quiet, 10)...))
		}
		prev = txs[0]
		add(txs...)
	}
	for range 4 { // 51-54: nothing for either
		add()
	}
	both := func() *wire.MsgTx {
		return spend([]wire.OutPoint{fund()}, &wire.TxOut{Value: 1e5, PkScript: busy}, &wire.TxOut{Value: 1e5, PkScript: quiet})
	}
	tip := add(both()) // 55
	// Side fork from 52: 53' and 54', one output to each.
	parent = bs[51].BlockHash()
	s1 := g.block(t, parent, payM, both())
	s2 := g.block(t, s1.BlockHash(), payM, both())

	ix := openTest(t, t.TempDir(), regtest)
	defer ix.Close()
	feed(t, ix, bs)
	mustTip(t, ix, tip.BlockHash(), 55)
	feed(t, ix, []*wire.MsgBlock{s1, s2})
	if err := ix.IndexFork(s2.BlockHash()); err != nil {
		t.Fatal(err)
	}

	views := []struct {
		name string
		asOf chainhash.Hash
		// reads of Balance and of UTXOs page 0 of 10, for either address
		balance, page0 uint64
	}{
		// One point read; ten stored outputs.
		{"tip", chainhash.Hash{}, 1, 10},
		// Plus a seek over the change records above the view and a
		// step past each: block 55's output, and those of 53' and
		// 54', which are at those heights on another fork (read and
		// skipped).
		{"tip-3", bs[51].BlockHash(), 1 + 4, 4 + 10},
		// Plus the records of 55 (undone) and of 53', 54' (replayed).
		{"side", s2.BlockHash(), 1 + 4, 4 + 10},
	}
	for _, v := range views {
		for _, s := range []struct {
			name   string
			script []byte
		}{{"busy", busy}, {"quiet", quiet}} {
			// Each measured on an empty memo: the first call as of
			// a view pays the records (TestMemoReadsOnce: the others
			// do not).
			purgeMemo(ix)
			rb := readsOf(t, ix, func() error { _, err := ix.Balance(s.script, v.asOf); return err })
			purgeMemo(ix)
			var us []UTXO
			ru := readsOf(t, ix, func() error {
				var err error
				us, err = ix.UTXOs(s.script, 0, 10, v.asOf)
				return err
			})
			if rb != v.balance || ru != v.page0 || len(us) != 10 {
				t.Errorf("%s %s: Balance %d reads (want %d), UTXOs page 0: %d reads (want %d), %d outputs",
					v.name, s.name, rb, v.balance, ru, v.page0, len(us))
			}
		}
	}

	// Page p reads at most 10(p+1) stored outputs (busy has 199 unspent
	// at the tip: pages 0-19).
	for p := range 21 {
		r := readsOf(t, ix, func() error { _, err := ix.UTXOs(busy, p, 10, chainhash.Hash{}); return err })
		if bound := uint64(10 * (p + 1)); r > bound || (p < 19 && r != bound) {
			t.Errorf("page %d: %d reads, bound %d", p, r, bound)
		}
	}

	old := readsOf(t, ix, func() error { _, err := ix.balanceScan(busy, chainhash.Hash{}); return err })
	if old < 5000 {
		t.Errorf("the scan read only %d entries for the busy address", old)
	}
	t.Logf("busy address, balance at the tip: %d reads (the scan of every output: %d)", views[0].balance, old)
}
