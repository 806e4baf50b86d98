package node_test

import (
	"context"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/hemi-go/hemi/internal/chain/genesis"
)

// TestP2PTxFeed: transactions a sequencer's pool accepts are announced
// on the feed, and the follower, which recovered their senders in the
// background, finds every one in its sender cache when it inserts the
// block that holds them (no sender recovered inside the insertion);
// the blocks and state roots equal the sequencer's. The transfers are
// sent right after a new head, so the block that takes them is a block
// time away and the feed has that long (tens of milliseconds needed).
func TestP2PTxFeed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	svc := bitcoinLayer(t, ctx, 4)
	spec := p2pSpec(t, svc)
	seq, fol := p2pPair(t, svc, spec)
	if fol.Senders == nil {
		t.Fatal("a follower with networking has no sender cache")
	}
	runNode(t, ctx, seq)
	runNode(t, ctx, fol)
	waitFor(t, 120*time.Second, "the follower to import 2 blocks", func() bool { return fol.Chain.Head().Number.Uint64() >= 2 })

	accs, err := genesis.DevAccounts(genesis.DevMnemonic, 4)
	if err != nil {
		t.Fatal(err)
	}
	chainID := new(big.Int).SetUint64(spec.Config.ChainID)
	signer := types.LatestSignerForChainID(chainID)
	to := common.HexToAddress("0x000000000000000000000000000000000000dEaD")
	var txs []*types.Transaction
	for i := range 40 {
		a := accs[i%len(accs)]
		tx, err := types.SignNewTx(a.Key, signer, &types.DynamicFeeTx{ChainID: chainID, Nonce: uint64(i / len(accs)), To: &to,
			Value: big.NewInt(1), Gas: params.TxGas, GasFeeCap: big.NewInt(100 * params.GWei), GasTipCap: big.NewInt(params.GWei)})
		if err != nil {
			t.Fatal(err)
		}
		txs = append(txs, tx)
	}
	hits0, misses0 := fol.Senders.Stats()
	heads := seq.Chain.Subscribe(ctx, seq.Chain.Head().Number.Uint64()+1)
	<-heads // a block was just sealed: the next is a block time away
	for i, err := range seq.Pool.Add(txs) {
		if err != nil {
			t.Fatalf("tx %d: %v", i, err)
		}
	}
	var last uint64
	waitFor(t, 60*time.Second, "the follower to import the block(s) with the 40 transfers", func() bool {
		for _, tx := range txs {
			loc, err := fol.Chain.TxLookup(tx.Hash())
			if err != nil {
				return false
			}
			last = max(last, loc.BlockNumber)
		}
		return true
	}, func() string {
		h, m := fol.Senders.Stats()
		return fmt.Sprintf("cache hits %d misses %d len %d", h, m, fol.Senders.Len())
	})
	hits, misses := fol.Senders.Stats()
	if hits-hits0 != uint64(len(txs)) || misses != misses0 {
		t.Fatalf("follower's insertions: %d senders from the cache, %d recovered; want all %d from the cache", hits-hits0, misses-misses0, len(txs))
	}
	sameBlocks(t, seq, fol, last)
}
