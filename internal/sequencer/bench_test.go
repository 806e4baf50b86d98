package sequencer

import (
	"context"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/txpool"
)

// BenchmarkBuildNext measures the sequencer's hot path: a block of 1,000
// ETH transfers from the ten dev accounts taken from the pool, ordered,
// executed, sealed and committed (pool admission included).
func BenchmarkBuildNext(b *testing.B) {
	const perAccount = 100
	e := newEnv(b, 8, 3)
	p := e.newPool("", txpool.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	s := e.newSequencer(p)
	to := common.Address{0xbe}
	nonce := uint64(0)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		var txs []*types.Transaction
		for _, a := range dev {
			for i := range uint64(perAccount) {
				txs = append(txs, e.transfer(a.Key, nonce+i, to, 1, 1))
			}
		}
		nonce += perAccount
		e.clock.Advance(2 * time.Second)
		b.StartTimer()
		for i, err := range p.Add(txs) {
			if err != nil {
				b.Fatalf("tx %d: %v", i, err)
			}
		}
		if err := p.Sync(); err != nil {
			b.Fatal(err)
		}
		blk, err := s.BuildNext()
		if err != nil {
			b.Fatal(err)
		}
		if len(blk.Body.Txs) != len(txs) {
			b.Fatalf("%d of %d txs included", len(blk.Body.Txs), len(txs))
		}
		if err := p.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*perAccount*len(dev))/b.Elapsed().Seconds(), "tx/s")
}
