package chain

import (
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/btc/indextest"
	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/node/indexadapt"
)

// BenchmarkRewardDerivation derives the system transactions of a block
// that pays a keystone published by 10 P2WPKH keys (each spending an
// output created in the same Bitcoin block) and of its parent, which pays
// nothing (the view update alone), on the same chain and view, and
// reports the cost of a paying block as a ratio of a plain one.
func BenchmarkRewardDerivation(b *testing.B) {
	const delay, publishers = 5, 10
	w := txgen.NewWallet([]byte("reward bench"))
	ix := indextest.Open(b, regtest, b.TempDir())
	ch := txgen.NewChain(regtest)
	var blocks []*wire.MsgBlock
	mine := func(spec txgen.BlockSpec) {
		blk, err := ch.NextBlock(spec)
		if err != nil {
			b.Fatal(err)
		}
		blocks = append(blocks, blk)
		indextest.Feed(b, ix, []*wire.MsgBlock{blk})
	}
	for range 4 {
		mine(txgen.BlockSpec{PayTo: mustScript(b, w.Key(0), txgen.P2WPKH)})
	}
	gen := testGenesis(b, viewAt(b, indexadapt.NewChain(ix), blocks[0]))
	gen.Config.PoP.RewardDelay = delay
	seq := newHarness(b, ix, "", gen)
	v2 := viewAt(b, seq.btc, blocks[1])
	for range 25 + delay - 2 {
		seq.mine(v2)
	}
	ks, err := seq.chain.KeystoneAt(25)
	if err != nil {
		b.Fatal(err)
	}
	cb := blocks[0].Transactions[0]
	fund := txgen.Spend{Inputs: []txgen.UTXO{{OutPoint: wire.OutPoint{Hash: cb.TxHash()}, Value: cb.TxOut[0].Value, Key: w.Key(0), Kind: txgen.P2WPKH}},
		Change: mustScript(b, w.Key(0), txgen.P2WPKH), FeeRate: 1}
	for i := range publishers {
		fund.Outputs = append(fund.Outputs, wire.NewTxOut(1_000_000, mustScript(b, w.Key(uint32(1+i)), txgen.P2WPKH)))
	}
	fundTx, _, _, err := fund.Build()
	if err != nil {
		b.Fatal(err)
	}
	if err := txgen.Sign(fundTx, fund.Inputs); err != nil {
		b.Fatal(err)
	}
	txs := []*wire.MsgTx{fundTx}
	for i := range publishers {
		u := txgen.UTXO{OutPoint: wire.OutPoint{Hash: fundTx.TxHash(), Index: uint32(i)}, Value: 1_000_000, Key: w.Key(uint32(1 + i)), Kind: txgen.P2WPKH}
		tx, _ := popSpend(b, u, ks.K)
		txs = append(txs, tx)
	}
	mine(txgen.BlockSpec{PayTo: mustScript(b, w.Key(0), txgen.P2WPKH), Txs: txs})
	mine(txgen.BlockSpec{PayTo: mustScript(b, w.Key(0), txgen.P2WPKH)})
	mine(txgen.BlockSpec{PayTo: mustScript(b, w.Key(0), txgen.P2WPKH)})
	v5 := viewAt(b, seq.btc, blocks[4])
	seq.mine(v5)
	parent := seq.chain.Head() // block 29: its child pays keystone 25
	grand, err := seq.chain.HeaderByNumber(parent.Number.Uint64() - 1)
	if err != nil {
		b.Fatal(err)
	}
	if got, err := seq.chain.deriveSystemTxs(parent, v5); err != nil || len(got) != 1+publishers {
		b.Fatalf("paying block: %d system txs, %v", len(got), err)
	}
	time1 := func(p *types.Header) time.Duration {
		start := time.Now()
		for range b.N {
			if _, err := seq.chain.deriveSystemTxs(p, v5); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	b.ResetTimer()
	paying, plain := time1(parent), time1(grand)
	b.StopTimer()
	b.ReportMetric(float64(paying.Microseconds())/float64(b.N), "paying_µs/op")
	b.ReportMetric(float64(plain.Microseconds())/float64(b.N), "plain_µs/op")
	b.ReportMetric(float64(paying)/float64(plain), "ratio")
}
