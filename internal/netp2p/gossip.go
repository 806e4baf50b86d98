package netp2p

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
)

// Import retry limits: blocks waiting for their parent or for their
// Bitcoin view are held in memory, at most maxPending, and retried every
// retryEvery; one waiting for its parent is dropped (without blame) after
// maxParentWait retries.
const (
	maxPending    = 256
	retryEvery    = time.Second
	maxParentWait = 120
)

// pending is a gossiped block the chain could not insert yet.
type pending struct {
	b          *chain.Block
	from       peer.ID
	viewHeight uint32 // the Bitcoin view height the block claims
	waitView   bool   // true: ErrViewNotReady; false: unknown parent
	tries      int
}

// gossipMsg is an accepted message handed from the subscription to the
// import loop, with when its validation started and how long it took
// (the import's log line reports them: propagation's stages).
type gossipMsg struct {
	b        *chain.Block
	from     peer.ID
	received time.Time
	validate time.Duration
}

// accepted is the validator's data on an accepted message (gossipsub's
// ValidatorData): the decision with the decoded block, and its timing.
type accepted struct {
	d        Decision
	received time.Time
	validate time.Duration
}

// runGossip joins the chain's topic and runs the validator, the import
// loop and (with Config.Publisher) the publisher until ctx ends.
func (s *Service) runGossip(ctx context.Context) error {
	ps, err := pubsub.NewGossipSub(ctx, s.host,
		pubsub.WithMessageIdFn(func(m *pb.Message) string { return MessageID(m.Data) }),
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithNoAuthor(),
		pubsub.WithMaxMessageSize(pubsubMaxSize),
		pubsub.WithPeerExchange(false),
		// A publisher sends its own block to every topic peer, not only
		// its mesh (which forms at heartbeats and holds D of them): one
		// hop to each, also right after a peer connected (without it such
		// a block was lost for good: TestPublishCommitted). gossipsub
		// v0.19 does not do it by default. Static peers are not made
		// gossipsub direct peers: direct peers are sent every forwarded
		// message regardless of IDONTWANT, so each node would validate
		// more duplicates of every block.
		pubsub.WithFloodPublish(true),
	)
	if err != nil {
		return fmt.Errorf("netp2p: start gossipsub: %w", err)
	}
	name := Topic(s.cfg.GenesisHash)
	if err := ps.RegisterTopicValidator(name, s.validate); err != nil {
		return fmt.Errorf("netp2p: topic validator: %w", err)
	}
	topic, err := ps.Join(name)
	if err != nil {
		return fmt.Errorf("netp2p: join %s: %w", name, err)
	}
	defer topic.Close()
	sub, err := topic.Subscribe()
	if err != nil {
		return fmt.Errorf("netp2p: subscribe %s: %w", name, err)
	}
	defer sub.Cancel()
	waitFeed, err := s.startTxFeed(ctx, ps)
	if err != nil {
		return err
	}
	defer waitFeed()
	msgs := make(chan gossipMsg, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := sub.Next(ctx)
			if err != nil {
				return
			}
			a, ok := m.ValidatorData.(accepted)
			if m.ReceivedFrom == s.host.ID() || !ok || a.d.Block == nil {
				continue
			}
			select {
			case msgs <- gossipMsg{b: a.d.Block, from: m.ReceivedFrom, received: a.received, validate: a.validate}:
			case <-ctx.Done():
				return
			}
		}
	}()
	if s.cfg.Publisher != (common.Address{}) {
		go s.publish(ctx, topic)
	}
	s.importLoop(ctx, msgs)
	<-done
	return nil
}

// facts reads what the gate needs of the local node.
func (s *Service) facts() Facts {
	f := Facts{Head: s.cfg.Chain.Head().Number.Uint64(), Known: func(h common.Hash) bool {
		_, err := s.cfg.Chain.HeaderByHash(h)
		return err == nil
	}}
	if s.cfg.Finality != nil {
		f.Finalized = s.cfg.Finality.Finalized()
	}
	return f
}

// validate is the topic validator: it runs before a message is delivered
// or forwarded.
func (s *Service) validate(_ context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	return s.screen(from, m, &s.validating, s.m.gossip, func() pubsub.ValidationResult { return s.checkBlock(from, m) })
}

// screen is what every topic's validator does before its own checks:
// our own message (a publish) is accepted; one from a peer not ready
// is ignored; so is a copy of a message whose first copy is still being
// validated (in validating): gossipsub marks a message seen only once
// its validation ends, so every copy relayed by another peer meanwhile
// (more of them the slower validation runs on a loaded machine) would
// be decoded and checked again. The id is over the content, so the copy
// gets the first one's verdict in effect. counts takes the ignored
// messages by verdict and reason; check runs the rest.
func (s *Service) screen(from peer.ID, m *pubsub.Message, validating *sync.Map, counts *prometheus.CounterVec, check func() pubsub.ValidationResult) pubsub.ValidationResult {
	if from == s.host.ID() {
		return pubsub.ValidationAccept
	}
	if !s.peers.Ready(from) {
		counts.WithLabelValues(Ignore.String(), ReasonPeerNotReady).Inc()
		return pubsub.ValidationIgnore
	}
	id := m.ID
	if id == "" {
		id = MessageID(m.Data)
	}
	if _, busy := validating.LoadOrStore(id, struct{}{}); busy {
		counts.WithLabelValues(Ignore.String(), ReasonInFlight).Inc()
		return pubsub.ValidationIgnore
	}
	defer validating.Delete(id)
	return check()
}

// checkBlock is the block topic's own checks (the gate, doc.go's table).
func (s *Service) checkBlock(from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	start := time.Now()
	d := s.gate.Check(m.Data, s.facts())
	s.m.gossip.WithLabelValues(d.Verdict.String(), d.Reason).Inc()
	switch d.Verdict {
	case Accept:
		m.ValidatorData = accepted{d: d, received: start, validate: time.Since(start)}
		// The senders' recovery and the state reads start now, on the
		// other cores, while gossipsub forwards the message and the
		// import loop finishes the block before it.
		s.cfg.Chain.Prepare(d.Block)
		if d.Evidence != nil {
			s.m.equivocation.Inc()
			s.log.Warn("equivocation: a sequencer sealed two blocks at one height (kept as evidence; PoP fork choice decides)",
				"number", d.Evidence.Number, "sequencer", d.Evidence.Signer, "first", d.Evidence.First.Hash(),
				"second", d.Evidence.Second.Hash(), "from", from)
		}
		return pubsub.ValidationAccept
	case Reject:
		s.penalise(from, PenaltyReject, d.Reason, d.Err)
		return pubsub.ValidationReject
	default:
		if d.Reason == ReasonFarAhead {
			s.requestSync(from, d.Block.NumberU64(), d.Block.Hash())
		}
		s.log.Debug("gossip message ignored", "from", from, "reason", d.Reason, "err", d.Err)
		return pubsub.ValidationIgnore
	}
}

// Penalize lowers p's score as a rejected gossip message does
// (PenaltyReject): catch-up sync reports here the peers that answered a
// range with junk, a wrong chain or nothing (rangesync.Penalizer).
func (s *Service) Penalize(p peer.ID, reason error) {
	s.penalise(p, PenaltyReject, "sync", reason)
}

// penalise lowers from's score and disconnects it once it is banned.
func (s *Service) penalise(from peer.ID, points int, reason string, err error) {
	banned := s.peers.Penalise(from, points)
	info, _ := s.peers.Info(from)
	s.log.Info("L2 peer penalised", "peer", from, "reason", reason, "score", info.Score, "err", err)
	if banned {
		s.log.Warn("L2 peer banned: its score reached the ban threshold", "peer", from, "score", info.Score,
			"until", info.BannedUntil.Format(time.RFC3339))
		_ = s.host.Network().ClosePeer(from)
	}
}

// importLoop inserts accepted blocks one at a time, holding the ones that
// cannot be inserted yet (unknown parent, Bitcoin view not indexed) and
// retrying them every retryEvery and after every insertion.
func (s *Service) importLoop(ctx context.Context, msgs <-chan gossipMsg) {
	var held []*pending
	tick := time.NewTicker(retryEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-msgs:
			if p := s.insert(ctx, m); p != nil {
				if len(held) == maxPending {
					held = held[1:]
				}
				held = append(held, p)
			} else {
				held = s.retry(ctx, held, false)
			}
		case <-tick.C:
			held = s.retry(ctx, held, true)
		}
	}
}

// insert inserts m's block. It returns the block to hold when it cannot
// be inserted yet, nil otherwise. An inserted block gets one Info line
// with the stages of its way through this node: when its validation
// started (received_at), the validation, the wait for the import loop,
// and the insertion (execution, state commit, write); `hemi bench net`
// reads them to split propagation into its parts.
func (s *Service) insert(ctx context.Context, m gossipMsg) *pending {
	b, from := m.b, m.from
	start := time.Now()
	err := s.cfg.Chain.InsertBlock(b)
	number, hash := b.NumberU64(), b.Hash()
	switch {
	case err == nil:
		s.m.imported.Inc()
		s.peers.Reward(from, number, hash)
		attrs := []any{"number", number, "hash", hash, "from", from, "txs", len(b.Body.Txs),
			"received_at", m.received.UTC().Format(time.RFC3339Nano), "validate_ms", msOf(m.validate),
			"wait_ms", msOf(start.Sub(m.received.Add(m.validate))), "insert_ms", msOf(time.Since(start))}
		if sc := s.cfg.TxFeed.Senders; sc != nil {
			hits, misses := sc.Stats() // the node's totals so far (the feed's share of senders)
			attrs = append(attrs, "senders_cached_total", hits, "senders_recovered_total", misses)
		}
		s.log.Info("gossiped block imported", attrs...)
		return nil
	case errors.Is(err, chain.ErrKnownBlock):
		return nil
	case errors.Is(err, chain.ErrUnknownParent):
		s.m.importFails.WithLabelValues("unknown_parent").Inc()
		s.requestSync(from, number-1, b.Header.ParentHash)
		return &pending{b: b, from: from}
	case errors.Is(err, chain.ErrViewNotReady):
		s.m.importFails.WithLabelValues("view_not_ready").Inc()
		e, _ := block.DecodeExtra(b.Header.Extra) // decoded by the chain already
		return &pending{b: b, from: from, waitView: true, viewHeight: e.BitcoinHeight}
	case errors.Is(err, chain.ErrInvalidBlock):
		s.m.importFails.WithLabelValues("invalid").Inc()
		s.penalise(from, PenaltyInvalid, "invalid_block", err)
		return nil
	default:
		if ctx.Err() == nil {
			s.m.importFails.WithLabelValues("error").Inc()
			s.log.Warn("gossiped block not imported: node failure", "number", number, "hash", hash, "err", err)
		}
		return nil
	}
}

// retry tries the held blocks again, lowest number first; aging counts a
// retry tick. A block waiting for its view is penalised and dropped once
// the Bitcoin index's best header is ViewGrace above the view's height;
// one waiting for its parent is dropped after maxParentWait ticks.
func (s *Service) retry(ctx context.Context, held []*pending, aging bool) []*pending {
	if len(held) == 0 {
		return held
	}
	sortPending(held)
	kept := held[:0]
	for _, p := range held {
		if !p.waitView {
			if _, err := s.cfg.Chain.HeaderByHash(p.b.Header.ParentHash); err != nil {
				if aging {
					p.tries++
				}
				if p.tries < maxParentWait {
					kept = append(kept, p)
				}
				continue
			}
		}
		err := s.cfg.Chain.InsertBlock(p.b)
		switch {
		case errors.Is(err, chain.ErrViewNotReady):
			if s.cfg.Bitcoin != nil {
				if _, best := s.cfg.Bitcoin.BestHeader(); best >= 0 && uint64(best) >= uint64(p.viewHeight)+ViewGrace {
					s.m.importFails.WithLabelValues("view_expired").Inc()
					s.penalise(p.from, PenaltyInvalid, "view_expired",
						fmt.Errorf("block %d: Bitcoin view at height %d still unknown with the best header at %d: %w", p.b.NumberU64(), p.viewHeight, best, err))
					continue
				}
			}
			p.waitView = true
			kept = append(kept, p)
		case errors.Is(err, chain.ErrUnknownParent):
			p.waitView = false
			kept = append(kept, p)
		default:
			// Inserted, known, invalid or failed: dropped after
			// insert's own handling.
			s.insertResult(ctx, p, err)
		}
	}
	if aging {
		// A catch-up that was busy when a block was held is asked for
		// again, for the highest block still waiting for its parent.
		for i := len(kept) - 1; i >= 0; i-- {
			if p := kept[i]; !p.waitView {
				s.requestSync(p.from, p.b.NumberU64()-1, p.b.Header.ParentHash)
				break
			}
		}
	}
	return kept
}

// insertResult handles an InsertBlock result for a held block as insert
// does for a new one.
func (s *Service) insertResult(ctx context.Context, p *pending, err error) {
	number, hash := p.b.NumberU64(), p.b.Hash()
	switch {
	case err == nil:
		s.m.imported.Inc()
		s.peers.Reward(p.from, number, hash)
	case errors.Is(err, chain.ErrKnownBlock):
	case errors.Is(err, chain.ErrInvalidBlock):
		s.m.importFails.WithLabelValues("invalid").Inc()
		s.penalise(p.from, PenaltyInvalid, "invalid_block", err)
	default:
		if ctx.Err() == nil {
			s.m.importFails.WithLabelValues("error").Inc()
			s.log.Warn("gossiped block not imported: node failure", "number", number, "hash", hash, "err", err)
		}
	}
}

// requestSync starts a catch-up to (number, hash) from peer from, unless
// one is running. Without a Syncer it only says so.
func (s *Service) requestSync(from peer.ID, number uint64, hash common.Hash) {
	syncer := s.getSyncer()
	if syncer == nil {
		if s.syncing.CompareAndSwap(false, true) { // warn once per minute at most
			s.log.Warn("gossiped block does not connect and no catch-up sync is configured: holding it until its parent arrives",
				"number", number, "hash", hash, "from", from)
			s.goLife(func(ctx context.Context) {
				select {
				case <-ctx.Done():
				case <-time.After(time.Minute):
				}
				s.syncing.Store(false)
			})
		}
		return
	}
	if !s.syncing.CompareAndSwap(false, true) {
		return
	}
	s.m.syncRequests.Inc()
	s.goLife(func(ctx context.Context) {
		defer s.syncing.Store(false)
		s.log.Info("catching up: gossip is ahead of the chain", "to", number, "hash", hash, "from", from, "head", s.cfg.Chain.Head().Number)
		if err := syncer.SyncTo(ctx, from, number, hash); err != nil && ctx.Err() == nil {
			s.log.Warn("catch-up sync failed", "to", number, "from", from, "err", err)
		}
	})
}

// PublishCommitted hands the service a block this member sealed as soon
// as its raft group committed it, before the member stores it
// (ha.Publisher). DESIGN 9 lets a committed block be gossiped; doing it
// at once takes the leader's own storing of the block (state commit,
// batch, fsync) and the re-reading of it out of the propagation path:
// followers validate and execute while the leader writes. The block is
// published once (its head later finds it seen). It never blocks the
// caller (raft's FSM): a block that finds the queue full is published
// from its head as before. Without Config.Publisher it does nothing.
func (s *Service) PublishCommitted(b *chain.Block) {
	if s.cfg.Publisher == (common.Address{}) || b == nil || b.Header == nil || b.Body == nil || b.Header.Number == nil {
		return
	}
	select {
	case s.committed <- b:
	default:
	}
}

// publish publishes the blocks PublishCommitted hands it and every new
// canonical head sealed by Config.Publisher that this node did not
// receive by gossip or publish already.
func (s *Service) publish(ctx context.Context, topic *pubsub.Topic) {
	heads := s.cfg.Chain.Subscribe(ctx, s.cfg.Chain.Head().Number.Uint64()+1)
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-s.committed:
			if !s.gate.Seen(b.Hash()) {
				s.publishBlock(ctx, topic, b, "commit")
			}
		case h, ok := <-heads:
			if !ok {
				return
			}
			if s.gate.Seen(h.Hash()) {
				continue
			}
			b, _, ok := s.cfg.Chain.Recent(h.Hash())
			if !ok {
				var err error
				if b, err = s.cfg.Chain.BlockByHash(h.Hash()); err != nil {
					s.log.Warn("publish: block not readable", "number", h.Number, "hash", h.Hash(), "err", err)
					continue
				}
			}
			s.publishBlock(ctx, topic, b, "head")
		}
	}
}

// publishBlock publishes b if Config.Publisher sealed it (else counts it
// as not published: another member's block). It waits for the topic to
// have peers first (a message published before any peer announced the
// topic reaches no one) and skips a block more than MaxAhead below the
// chain's head (a node catching up publishes nothing old). via says
// which path handed it over (commit or head), for the log.
func (s *Service) publishBlock(ctx context.Context, topic *pubsub.Topic, b *chain.Block, via string) {
	h := b.Header
	signer, err := block.Signer(h)
	if err != nil || signer != s.cfg.Publisher {
		s.m.notPublished.Inc()
		return
	}
	for len(topic.ListPeers()) == 0 && h.Number.Uint64()+MaxAhead >= s.cfg.Chain.Head().Number.Uint64() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	if h.Number.Uint64()+MaxAhead < s.cfg.Chain.Head().Number.Uint64() {
		return
	}
	data, err := EncodeBlock(b)
	if err != nil {
		s.log.Error("publish: block does not encode", "number", h.Number, "hash", h.Hash(), "err", err)
		return
	}
	s.gate.markLocal(h, signer)
	if err := topic.Publish(ctx, data); err != nil {
		if ctx.Err() == nil {
			s.log.Warn("publish failed", "number", h.Number, "hash", h.Hash(), "err", err)
		}
		return
	}
	s.m.published.Inc()
	s.log.Info("block published", "number", h.Number, "hash", h.Hash(), "bytes", len(data), "via", via,
		"topic_peers", len(topic.ListPeers()))
}

// msOf is d in milliseconds with microsecond precision, for log fields.
func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
