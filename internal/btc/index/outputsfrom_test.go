package index

import (
	"reflect"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// TestOutputsFrom: from every output's position, OutputsFrom returns the
// suffix of Outputs that starts there, cut at toHeight and max, as of the
// main chain and as of a side fork whose blocks pay the same script at
// the same heights (their records sit between the main chain's).
func TestOutputsFrom(t *testing.T) {
	params := &chaincfg.RegressionNetParams
	g := newGen(params)
	ix := openTest(t, t.TempDir(), params)
	defer ix.Close()
	vault, other := script(7), script(8)
	base := g.chain(t, params.GenesisBlock.BlockHash(), 3, other)
	feed(t, ix, base)
	// Blocks 4..8: block h holds h-3 transactions, each paying the vault
	// in outputs 0 and 2 (output 1 pays another script); block 6 none.
	grow := func(parent *wire.MsgBlock, seed byte, n int) []*wire.MsgBlock {
		var out []*wire.MsgBlock
		for h := 4; h < 4+n; h++ {
			var txs []*wire.MsgTx
			for i := 0; h != 6 && i < h-3; i++ {
				prev := wire.OutPoint{Hash: chainhash.Hash{seed, byte(h), byte(i)}}
				txs = append(txs, spend([]wire.OutPoint{prev},
					wire.NewTxOut(int64(1000*h+i), vault), wire.NewTxOut(5, other), wire.NewTxOut(int64(2000*h+i), vault)))
			}
			b := g.block(t, parent.BlockHash(), other, txs...)
			out = append(out, b)
			parent = b
		}
		return out
	}
	main := grow(base[2], 1, 5)
	feed(t, ix, main)
	mustTip(t, ix, main[4].BlockHash(), 8)
	side := grow(base[2], 2, 3) // heights 4..6, less work: indexed on request
	feed(t, ix, side)
	if err := ix.IndexFork(side[2].BlockHash()); err != nil {
		t.Fatal(err)
	}
	for _, asOf := range []chainhash.Hash{main[4].BlockHash(), side[2].BlockHash()} {
		all, err := ix.Outputs(vault, 0, 0, asOf)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) == 0 {
			t.Fatal("no outputs")
		}
		for i, o := range all {
			for _, toHeight := range []int32{o.Height, 7, 100} {
				for _, max := range []int{1, 3, 1000} {
					got, err := ix.OutputsFrom(vault, o.Height, o.Index, o.Outpoint.Index, toHeight, max, asOf)
					if err != nil {
						t.Fatal(err)
					}
					var want []Output
					for _, w := range all[i:] {
						if w.Height <= toHeight && len(want) < max {
							want = append(want, w)
						}
					}
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("as of %s from output %d (%d,%d,%d) to %d max %d:\n got %d outputs\nwant %d",
							asOf, i, o.Height, o.Index, o.Outpoint.Index, toHeight, max, len(got), len(want))
					}
				}
			}
		}
		// From the start of a height (position 0, output 0), and a height
		// past the range.
		got, err := ix.OutputsFrom(vault, 5, 0, 0, 100, 0, asOf)
		if err != nil {
			t.Fatal(err)
		}
		var want []Output
		for _, w := range all {
			if w.Height >= 5 {
				want = append(want, w)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("from height 5: %d outputs, want %d", len(got), len(want))
		}
		if got, err := ix.OutputsFrom(vault, 9, 0, 0, 8, 0, asOf); err != nil || len(got) != 0 {
			t.Fatalf("empty range: %v %v", got, err)
		}
	}
}
