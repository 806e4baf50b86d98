package netp2p

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/lru"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/event"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hemi-go/hemi/internal/chain"
)

// Defaults of TxFeedConfig.
const (
	// DefaultTxBatchDelay is how long the announcer collects what its
	// pool accepted before sealing a batch: short, so that a transaction
	// sent just before a block is built still reaches the followers
	// before the block, long enough that a burst is one batch.
	DefaultTxBatchDelay = 20 * time.Millisecond
	// txFeedQueue bounds the accepted batches waiting for the recovery
	// worker; a batch that finds it full is dropped (its transactions'
	// senders are then recovered by their block, as without the feed).
	txFeedQueue = 64
	// txAnnounced is how many transaction hashes the announcer remembers
	// so that it announces each once.
	txAnnounced = 65536
)

// TxSource is the pool whose accepted transactions a sequencer
// announces (*txpool.Pool): SubscribeTransactions delivers
// core.NewTxsEvent as transactions become pending. The event feed blocks
// the pool until every subscriber took an event, so the announcer's loop
// only collects.
type TxSource interface {
	SubscribeTransactions(ch chan<- core.NewTxsEvent) event.Subscription
}

// TxFeedConfig configures the pending-transaction feed (doc.go).
type TxFeedConfig struct {
	// Pool and Key make this node an announcer: it seals, with Key (a
	// sequencer's seal key of the genesis set), batches of the
	// transactions Pool accepted. Either nil: it announces nothing.
	Pool TxSource
	Key  *ecdsa.PrivateKey
	// Senders is the cache the chain's insertion looks in
	// (chain.Config.SenderCache): the senders of accepted batches'
	// transactions are recovered into it in the background, on one
	// worker. nil: batches are validated and relayed only.
	Senders *chain.SenderCache
	// Signer recovers the senders (types.LatestSigner of the chain's
	// config). Required with Senders.
	Signer types.Signer
	// Delay is how long the announcer collects before sealing a batch
	// (default DefaultTxBatchDelay).
	Delay time.Duration
}

// TxTopic is the pending-transaction feed's gossipsub topic of the chain
// whose genesis hash is g (a second topic beside Topic's blocks).
func TxTopic(g common.Hash) string {
	return "/hemi/txs/1/" + g.Hex()
}

// txFeed is the feed's state inside the Service.
type txFeed struct {
	gate  *TxGate
	queue chan *TxBatch
	// validating holds the ids of the batch messages being validated.
	validating sync.Map
	// topic is the joined topic (nil before Run).
	topic atomic.Pointer[pubsub.Topic]
}

// startTxFeed joins the feed's topic on ps and runs, until ctx ends,
// the delivery of accepted batches to the recovery worker, the worker
// (with Config.TxFeed.Senders) and the announcer (with Pool and Key).
// The returned function waits for them.
func (s *Service) startTxFeed(ctx context.Context, ps *pubsub.PubSub) (func(), error) {
	name := TxTopic(s.cfg.GenesisHash)
	if err := ps.RegisterTopicValidator(name, s.validateTxBatch); err != nil {
		return nil, fmt.Errorf("netp2p: transaction feed validator: %w", err)
	}
	topic, err := ps.Join(name)
	if err != nil {
		return nil, fmt.Errorf("netp2p: join %s: %w", name, err)
	}
	sub, err := topic.Subscribe()
	if err != nil {
		topic.Close()
		return nil, fmt.Errorf("netp2p: subscribe %s: %w", name, err)
	}
	s.feed.topic.Store(topic)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // deliver: accepted batches to the worker
		defer wg.Done()
		for {
			m, err := sub.Next(ctx)
			if err != nil {
				return
			}
			d, ok := m.ValidatorData.(TxDecision)
			if m.ReceivedFrom == s.host.ID() || !ok || d.Batch == nil || s.cfg.TxFeed.Senders == nil {
				continue
			}
			select {
			case s.feed.queue <- d.Batch:
			default:
				s.m.txFeedDropped.Inc()
			}
		}
	}()
	if s.cfg.TxFeed.Senders != nil {
		wg.Add(1)
		go func() { defer wg.Done(); s.recoverFeed(ctx) }()
	}
	if s.cfg.TxFeed.Pool != nil && s.cfg.TxFeed.Key != nil {
		wg.Add(1)
		go func() { defer wg.Done(); s.announce(ctx, topic) }()
	}
	return func() {
		wg.Wait()
		sub.Cancel()
		topic.Close()
	}, nil
}

// validateTxBatch is the feed topic's validator (doc.go's table).
func (s *Service) validateTxBatch(_ context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	return s.screen(from, m, &s.feed.validating, s.m.txBatches, func() pubsub.ValidationResult { return s.checkTxBatch(from, m) })
}

// checkTxBatch is the feed topic's own checks (TxGate).
func (s *Service) checkTxBatch(from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	d := s.feed.gate.Check(m.Data, time.Now())
	s.m.txBatches.WithLabelValues(d.Verdict.String(), d.Reason).Inc()
	switch d.Verdict {
	case Accept:
		m.ValidatorData = d
		return pubsub.ValidationAccept
	case Reject:
		s.penalise(from, PenaltyReject, "tx_batch_"+d.Reason, d.Err)
		return pubsub.ValidationReject
	default:
		s.log.Debug("transaction batch ignored", "from", from, "reason", d.Reason, "err", d.Err)
		return pubsub.ValidationIgnore
	}
}

// recoverFeed is the feed's one recovery worker: it recovers the sender
// of each transaction of the accepted batches that the cache does not
// hold yet. One goroutine, not one per core: it runs between blocks and
// must not compete with an insertion for the cores.
func (s *Service) recoverFeed(ctx context.Context) {
	sc, signer := s.cfg.TxFeed.Senders, s.cfg.TxFeed.Signer
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-s.feed.queue:
			for _, tx := range b.Txs {
				if ctx.Err() != nil {
					return
				}
				if sc.Contains(tx.Hash()) {
					continue
				}
				if _, err := sc.Add(signer, tx); err != nil {
					s.m.txFeedBad.Inc()
					continue
				}
				s.m.txFeedRecovered.Inc()
			}
		}
	}
}

// announce collects the transactions the pool accepts and publishes
// them in batches: Delay after the first of a batch, or at once when
// MaxTxBatchTxs are waiting. Each transaction is announced once.
func (s *Service) announce(ctx context.Context, topic *pubsub.Topic) {
	key := s.cfg.TxFeed.Key
	if addr := crypto.PubkeyToAddress(key.PublicKey); !slices.Contains(s.cfg.Sequencers, addr) {
		s.log.Warn("transaction feed off: the seal key is not a sequencer of the genesis, peers would refuse its batches", "address", addr)
		return
	}
	events := make(chan core.NewTxsEvent, 256)
	sub := s.cfg.TxFeed.Pool.SubscribeTransactions(events)
	defer sub.Unsubscribe()
	announced := lru.NewBasicLRU[common.Hash, struct{}](txAnnounced)
	var batch []*types.Transaction
	var flush <-chan time.Time
	var timer *time.Timer
	for {
		select {
		case <-ctx.Done():
			return
		case err := <-sub.Err():
			if err != nil && ctx.Err() == nil {
				s.log.Warn("transaction feed: pool subscription ended", "err", err)
			}
			return
		case ev := <-events:
			for _, tx := range ev.Txs {
				if announced.Contains(tx.Hash()) {
					continue
				}
				announced.Add(tx.Hash(), struct{}{})
				batch = append(batch, tx)
				if len(batch) == MaxTxBatchTxs {
					s.publishTxBatch(ctx, topic, batch)
					batch = nil
				}
			}
			if len(batch) > 0 && flush == nil {
				timer = time.NewTimer(s.cfg.TxFeed.Delay)
				flush = timer.C
			}
			if len(batch) == 0 && timer != nil {
				timer.Stop()
				timer, flush = nil, nil
			}
		case <-flush:
			s.publishTxBatch(ctx, topic, batch)
			batch, timer, flush = nil, nil, nil
		}
	}
}

// publishTxBatch seals and publishes one batch. A batch published while
// the topic has no peer reaches no one; nothing waits for one (the
// transactions' blocks carry them anyway).
func (s *Service) publishTxBatch(ctx context.Context, topic *pubsub.Topic, txs []*types.Transaction) {
	if len(txs) == 0 || len(topic.ListPeers()) == 0 {
		return
	}
	now := time.Now()
	data, hash, err := SealTxBatch(s.cfg.GenesisHash, s.cfg.TxFeed.Key, now, txs)
	if err != nil {
		s.log.Warn("transaction batch not sealed", "txs", len(txs), "err", err)
		return
	}
	s.feed.gate.MarkLocal(hash)
	if err := topic.Publish(ctx, data); err != nil {
		if ctx.Err() == nil {
			s.log.Warn("transaction batch not published", "txs", len(txs), "err", err)
		}
		return
	}
	s.m.txBatchesPublished.Inc()
	s.log.Debug("transaction batch published", "txs", len(txs), "bytes", len(data))
}
