package index

import (
	"cmp"
	"reflect"
	"slices"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// TestSpendsIn: for every height range, SpendsIn returns exactly the
// spent outputs of Outputs whose spend lies in the range, in spend order,
// as of the main chain and as of a side fork that spends other outputs
// at the same heights; and it reads one record per spend in the range,
// plus one lookup each, not the script's history.
func TestSpendsIn(t *testing.T) {
	params := &chaincfg.RegressionNetParams
	g := newGen(params)
	ix := openTest(t, t.TempDir(), params)
	defer ix.Close()
	vault, other := script(7), script(8)
	base := g.chain(t, params.GenesisBlock.BlockHash(), 3, other)
	feed(t, ix, base)
	// Block 4 creates 12 vault outputs (4 transactions of 3).
	var created []wire.OutPoint
	var txs []*wire.MsgTx
	for i := range 4 {
		tx := spend([]wire.OutPoint{{Hash: chainhash.Hash{9, byte(i)}}},
			wire.NewTxOut(int64(1000+i), vault), wire.NewTxOut(int64(2000+i), vault), wire.NewTxOut(int64(3000+i), vault))
		txs = append(txs, tx)
		for v := range 3 {
			created = append(created, wire.OutPoint{Hash: tx.TxHash(), Index: uint32(v)})
		}
	}
	b4 := g.block(t, base[2].BlockHash(), other, txs...)
	feed(t, ix, []*wire.MsgBlock{b4})
	// Blocks 5..8 (main) spend outputs 0..7, two per block, one of them
	// with a second input; the side fork 5..6 spends outputs 8..11.
	grow := func(parent *wire.MsgBlock, first, n int) []*wire.MsgBlock {
		var out []*wire.MsgBlock
		for h := range n {
			a, b := created[first+2*h], created[first+2*h+1]
			blk := g.block(t, parent.BlockHash(), other,
				spend([]wire.OutPoint{a}, wire.NewTxOut(1, other)),
				spend([]wire.OutPoint{{Hash: chainhash.Hash{8, byte(first), byte(h)}}, b}, wire.NewTxOut(1, other)))
			out = append(out, blk)
			parent = blk
		}
		return out
	}
	main := grow(b4, 0, 4)
	feed(t, ix, main)
	mustTip(t, ix, main[3].BlockHash(), 8)
	side := grow(b4, 8, 2)
	feed(t, ix, side)
	if err := ix.IndexFork(side[1].BlockHash()); err != nil {
		t.Fatal(err)
	}
	for _, asOf := range []chainhash.Hash{main[3].BlockHash(), side[1].BlockHash()} {
		all, err := ix.Outputs(vault, 0, 0, asOf)
		if err != nil {
			t.Fatal(err)
		}
		var spent []Output
		for _, o := range all {
			if o.Spent {
				spent = append(spent, o)
			}
		}
		slices.SortFunc(spent, func(a, b Output) int {
			return cmp.Or(cmp.Compare(a.Spend.Height, b.Spend.Height), cmp.Compare(a.Spend.Index, b.Spend.Index), cmp.Compare(a.Spend.Input, b.Spend.Input))
		})
		if len(spent) == 0 {
			t.Fatal("nothing spent")
		}
		for from := int32(-1); from <= 10; from++ {
			for to := from - 1; to <= 10; to++ {
				r := ix.Reads()
				got, err := ix.SpendsIn(vault, from, to, asOf)
				if err != nil {
					t.Fatal(err)
				}
				reads := ix.Reads() - r
				var want []Output
				for _, o := range spent {
					if o.Spend.Height >= from && o.Spend.Height <= to {
						want = append(want, o)
					}
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("as of %s, %d..%d:\n got %+v\nwant %+v", asOf, from, to, got, want)
				}
				// Each change record of the range (block 4's 12
				// creations, two spends per block of either fork), and a
				// lookup per spend returned.
				var records int
				for h := max(from, 0); h <= to; h++ {
					switch {
					case h == 4:
						records += 12
					case h == 5 || h == 6:
						records += 4
					case h == 7 || h == 8:
						records += 2
					}
				}
				if reads > uint64(records+len(want)) {
					t.Fatalf("as of %s, %d..%d: %d reads for %d records and %d spends", asOf, from, to, reads, records, len(want))
				}
			}
		}
	}
	if _, err := ix.SpendsIn(vault, 0, 10, chainhash.Hash{1}); err == nil {
		t.Fatal("an unknown as-of block gave no error")
	}
}
