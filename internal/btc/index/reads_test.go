package index

import (
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// TestReadsCounted checks the read counter the benchmark relies on: it is
// still at zero after blocks connect (indexing is not counted), and every
// query adds at least one read, and one per item it returns, so a query
// that answers n items cannot report fewer than n reads. The bounds hold
// for any layout of the index, not only today's.
func TestReadsCounted(t *testing.T) {
	g := newGen(regtest)
	a, b, miss := script(1), script(2), script(3)
	bs := g.chain(t, *regtest.GenesisHash, 2, a)
	cb1 := bs[0].Transactions[0].TxHash()
	var outs []*wire.TxOut
	for range 25 {
		outs = append(outs, &wire.TxOut{Value: 1e8, PkScript: b})
	}
	tx := spend([]wire.OutPoint{{Hash: cb1}}, outs...)
	bs = append(bs, g.block(t, bs[1].BlockHash(), a, tx))

	ix := openTest(t, t.TempDir(), regtest)
	defer ix.Close()
	feed(t, ix, bs)
	mustTip(t, ix, bs[2].BlockHash(), 3)
	if n := ix.Reads(); n != 0 {
		t.Fatalf("%d reads counted before any query", n)
	}

	tests := []struct {
		name    string
		query   func() (int, error) // returns the items answered
		atLeast uint64
	}{
		{"balance of 25 outputs", func() (int, error) {
			bal, err := ix.Balance(b, chainhash.Hash{})
			if bal != 25e8 {
				t.Errorf("balance %d", bal)
			}
			return 1, err
		}, 1},
		{"utxos page of 10", func() (int, error) {
			us, err := ix.UTXOs(b, 1, 10, chainhash.Hash{})
			if len(us) != 10 {
				t.Errorf("%d utxos", len(us))
			}
			return len(us), err
		}, 10},
		{"utxos of an unknown script", func() (int, error) {
			us, err := ix.UTXOs(miss, 0, 10, chainhash.Hash{})
			return len(us), err
		}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := ix.Reads()
			items, err := tc.query()
			if err != nil {
				t.Fatal(err)
			}
			got := ix.Reads() - before
			if got < tc.atLeast || got < uint64(items) {
				t.Fatalf("%d reads for %d items, want at least %d", got, items, tc.atLeast)
			}
		})
	}
}
