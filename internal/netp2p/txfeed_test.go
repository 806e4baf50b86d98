package netp2p

import (
	"context"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/event"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hemi-go/hemi/internal/chain"
)

// feedPool is a TxSource fed by hand.
type feedPool struct{ feed event.Feed }

func (p *feedPool) SubscribeTransactions(ch chan<- core.NewTxsEvent) event.Subscription {
	return p.feed.Subscribe(ch)
}

// TestTxFeed: a sequencer's service announces what its pool accepted in
// one sealed batch; a follower's service accepts it and recovers every
// sender into its cache on its worker, where a block's signer then
// finds them (the follower's own recoveries: the cache answers exactly
// what the signer computes). A batch sealed by a key outside the
// sequencer set is rejected and costs the relaying peer its score.
func TestTxFeed(t *testing.T) {
	seq, stranger := testKey("feed seq"), testKey("feed stranger")
	seqs := []common.Address{crypto.PubkeyToAddress(seq.PublicKey)}
	genesisHash := common.Hash{0x7f}
	pool := &feedPool{}
	reg, freg := prometheus.NewRegistry(), prometheus.NewRegistry()
	ms, err := New(Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, GenesisHash: genesisHash, ChainID: 7431337,
		Sequencers: seqs, Chain: newMemChain(), Publisher: seqs[0], Registerer: reg,
		TxFeed: TxFeedConfig{Pool: pool, Key: seq}})
	if err != nil {
		t.Fatal(err)
	}
	signer := types.LatestSignerForChainID(big.NewInt(7431337))
	cache := chain.NewSenderCache(0)
	fs, err := New(Config{Peers: ms.Addrs(), GenesisHash: genesisHash, ChainID: 7431337, Sequencers: seqs, Chain: newMemChain(),
		Registerer: freg, TxFeed: TxFeedConfig{Senders: cache, Signer: signer}})
	if err != nil {
		ms.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, s := range []*Service{ms, fs} {
		wg.Add(1)
		go func() { defer wg.Done(); s.Run(ctx) }()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	p := &publishPair{deadline: time.Now().Add(30 * time.Second)}
	p.waitFor(t, "the feed topic to have a peer on both sides", func() bool {
		a, b := ms.feed.topic.Load(), fs.feed.topic.Load()
		return ready(ms) && ready(fs) && a != nil && b != nil && len(a.ListPeers()) > 0 && len(b.ListPeers()) > 0
	})

	txs := testTxs(t, 50)
	pool.feed.Send(core.NewTxsEvent{Txs: txs})
	pool.feed.Send(core.NewTxsEvent{Txs: txs[:10]}) // announced already: not again
	p.waitFor(t, "the follower to recover the announced senders", func() bool { return cache.Len() == len(txs) })
	if n := gather(t, reg, "hemi_netp2p_tx_batches_published_total"); n != 1 {
		t.Fatalf("published %v batches, want 1", n)
	}
	if n := gather(t, freg, "hemi_netp2p_tx_feed_senders_recovered_total"); n != float64(len(txs)) {
		t.Fatalf("follower recovered %v senders, want %d", n, len(txs))
	}
	want, err := types.Sender(signer, txs[0])
	if err != nil {
		t.Fatal(err)
	}
	w := cache.Signer(signer)
	for _, tx := range txs {
		cp := new(types.Transaction)
		enc, _ := tx.MarshalBinary()
		if err := cp.UnmarshalBinary(enc); err != nil {
			t.Fatal(err)
		}
		if from, err := types.Sender(w, cp); err != nil || from != want {
			t.Fatalf("sender of %s from the cache: %s %v, want %s", tx.Hash(), from, err, want)
		}
	}
	if h, m := cache.Stats(); h != uint64(len(txs)) || m != 0 {
		t.Fatalf("lookups: %d hits %d misses, want %d hits", h, m, len(txs))
	}
	if n := gather(t, freg, "hemi_netp2p_sender_cache_hits_total"); n != float64(len(txs)) {
		t.Fatalf("hits metric %v, want %d", n, len(txs))
	}

	// A batch sealed by a stranger, as if ms relayed it: rejected, ms
	// penalised on the follower, nothing recovered.
	data, _, err := SealTxBatch(genesisHash, stranger, time.Now(), testTxs(t, 2)[1:])
	if err != nil {
		t.Fatal(err)
	}
	before, _ := fs.peers.Info(ms.ID())
	res := fs.validateTxBatch(ctx, ms.ID(), &pubsub.Message{Message: &pb.Message{Data: data}})
	after, _ := fs.peers.Info(ms.ID())
	if res != pubsub.ValidationReject || after.Score != before.Score-PenaltyReject {
		t.Fatalf("stranger's batch: %v, score %d -> %d; want reject and -%d", res, before.Score, after.Score, PenaltyReject)
	}
	if cache.Len() != len(txs) {
		t.Fatalf("cache holds %d after a rejected batch, want %d", cache.Len(), len(txs))
	}
}
