package index

import (
	"testing"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/pop"
)

func vsizeOf(tx *wire.MsgTx) int64 {
	w := blockchain.GetTransactionWeight(btcutil.NewTx(tx))
	return (w + 3) / 4
}

// payRate spends op (value in) paying back at about rate sat/vB.
func payRate(op wire.OutPoint, in, rate int64) *wire.MsgTx {
	tx := spend([]wire.OutPoint{op}, &wire.TxOut{Value: in, PkScript: script(99)})
	tx.TxOut[0].Value = in - rate*vsizeOf(tx)
	return tx
}

func TestFeeEstimator(t *testing.T) {
	params := &chaincfg.RegressionNetParams
	g := newGen(params)
	gh := params.GenesisBlock.BlockHash()
	const cb = 50_0000_0000
	bs := g.chain(t, gh, 5, script(1)) // 5 coinbases to spend
	op := func(i int) wire.OutPoint { return wire.OutPoint{Hash: bs[i].Transactions[0].TxHash()} }
	// Block 5: rates 2, 10, 30 with equal vsize: median 10.
	b5 := g.block(t, bs[4].BlockHash(), script(2), payRate(op(0), cb, 2), payRate(op(1), cb, 10), payRate(op(2), cb, 30))
	// Block 6: one tx at 50 sat/vB and a PoP publication at 500, which
	// does not count; block 7: empty.
	ks := pop.Keystone{Version: pop.KeystoneVersion, L2Number: 25}
	popTx := payRate(op(4), cb, 500)
	popTx.AddTxOut(&wire.TxOut{PkScript: ks.Script()})
	b6 := g.block(t, b5.BlockHash(), script(2), payRate(op(3), cb, 50), popTx)
	b7 := g.block(t, b6.BlockHash(), script(2))
	bs = append(bs, b5, b6, b7)
	ix := openTest(t, t.TempDir(), params)
	feed(t, ix, bs)

	f := NewFeeEstimator(ix, 3, 0)
	bf, err := f.BlockFees(b5.BlockHash())
	if err != nil {
		t.Fatal(err)
	}
	if bf.Txs != 3 || bf.Sampled != 3 || bf.Median != 10 || bf.Height != 6 {
		t.Fatalf("block 5 stats %+v", bf)
	}
	tests := []struct {
		name   string
		target int
		want   int64
	}{
		{"next block pays the highest recent median", 1, 50},
		{"two blocks", 2, 10},
		{"empty block in the window gives the floor", 3, 1},
		{"beyond the window", 50, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, tip, err := f.Estimate(tc.target)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || tip != b7.BlockHash() {
				t.Fatalf("estimate %d as of %s, want %d", got, tip, tc.want)
			}
		})
	}
	if _, _, err := f.Estimate(0); err == nil {
		t.Fatal("target 0 accepted")
	}
	if bf, _ := f.BlockFees(b6.BlockHash()); bf.Txs != 1 || bf.Median != 50 {
		t.Fatalf("block 6 stats %+v: the PoP tx counted", bf)
	}
	// Sampling: at most 1 tx measured per block.
	small := NewFeeEstimator(ix, 3, 1)
	if bf, _ := small.BlockFees(b5.BlockHash()); bf.Sampled != 1 || bf.Median != 2 {
		t.Fatalf("sampled stats %+v", bf)
	}
}

func TestWeightedMedian(t *testing.T) {
	tests := []struct {
		name string
		s    []feeSample
		want int64
	}{
		{"none", nil, 0},
		{"one", []feeSample{{2.5, 100}}, 3},
		{"a hair above a whole rate does not creep up", []feeSample{{404.0 / 201, 201}}, 2},
		{"below half rounds down", []feeSample{{1.4, 100}}, 1},
		{"weighted by size", []feeSample{{1, 100}, {50, 1000}, {5, 100}}, 50},
		{"exact half", []feeSample{{4, 100}, {8, 100}}, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := weightedMedian(tc.s); got != tc.want {
				t.Fatalf("%d, want %d", got, tc.want)
			}
		})
	}
}
