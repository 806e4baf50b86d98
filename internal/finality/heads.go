package finality

import (
	"sort"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// lostLogEvery is how often the Error log repeats while finalized blocks
// are not superfinal: loud enough to be seen, not a flood per Bitcoin
// block or L2 head.
const lostLogEvery = time.Minute

// refresh recomputes the safe and finalized heads, raises (and saves) the
// finalized tag, reports finalized blocks that are not superfinal any
// more, and logs and publishes a change.
func (s *Service) refresh() {
	s.floorMu.Lock()
	defer s.floorMu.Unlock()
	s.mu.Lock()
	comp := s.computedLocked()
	floor := s.floor
	caught := s.caughtUp
	next := floor
	if comp.Finalized > floor.number {
		next = floorRec{number: comp.Finalized, hash: s.canonHashLocked(comp.Finalized)}
	}
	s.mu.Unlock()
	if next != floor {
		// Saved before anyone is told: a tag once answered must
		// survive a crash.
		if s.store != nil {
			if err := s.store.putFloor(next); err != nil {
				s.log.Error("finalized tag not saved; it stays where it was", "finalized", floor.number, "new", next.number, "err", err)
				next = floor
			}
		}
		s.mu.Lock()
		s.floor = next
		s.mu.Unlock()
	}
	s.mu.Lock()
	h := s.headsLocked()
	old := s.heads
	s.heads = h
	tip, _, _ := s.tr.Tip()
	s.mu.Unlock()
	var lost uint64
	if caught && next.number > comp.Finalized {
		lost = next.number - comp.Finalized
	}
	s.reportLost(lost, next.number, comp.Finalized, tip)
	s.metrics.safe.Set(float64(h.Safe))
	s.metrics.finalized.Set(float64(h.Finalized))
	s.metrics.btcHeight.Set(float64(tip))
	if h != old {
		s.log.Info("finality advanced", "safe", h.Safe, "finalized", h.Finalized, "btc_tip", tip)
		s.headsFeed.Send(h)
	}
}

// reportLost keeps the metric and the rate-limited Error log of finalized
// blocks that are not superfinal (DESIGN 4: a Bitcoin reorg deeper than
// the depth is reported, not followed). floorMu is held.
func (s *Service) reportLost(lost, finalized, superfinal uint64, tip int32) {
	s.metrics.lostBlocks.Set(float64(lost))
	now := s.cfg.Now()
	switch {
	case lost > 0 && !s.lost.active:
		s.metrics.lostEvents.Inc()
		s.lost.active = true
		fallthrough
	case lost > 0 && now.Sub(s.lost.lastLog) >= lostLogEvery:
		s.lost.lastLog = now
		s.log.Error("finalized blocks are not superfinal: a Bitcoin reorg deeper than the superfinal depth removed their publication; the finalized tag stays",
			"finalized", finalized, "superfinal", superfinal, "blocks", lost, "depth", s.depth, "btc_tip", tip)
	case lost == 0 && s.lost.active:
		s.lost.active = false
		s.log.Info("finalized blocks are superfinal again", "finalized", finalized, "btc_tip", tip)
	}
}

// computedLocked finds, from the tracker alone, the newest published and
// the newest superfinal canonical keystone by binary search: effective
// publications never get later towards the root, so both predicates
// hold on a prefix.
func (s *Service) computedLocked() Heads {
	var h Heads
	pub := sort.Search(len(s.canon), func(i int) bool { return !s.tr.Status(s.canon[i].id).Published })
	if pub > 0 {
		h.Safe = s.canon[pub-1].number
	}
	sf := sort.Search(pub, func(i int) bool { return !s.tr.Status(s.canon[i].id).Superfinal })
	if sf > 0 {
		h.Finalized = s.canon[sf-1].number
	}
	return h
}

// headsLocked is what the tags answer: finalized is the saved tag, which
// only refresh raises, and safe never lies below it.
func (s *Service) headsLocked() Heads {
	h := s.computedLocked()
	h.Finalized = s.floor.number
	h.Safe = max(h.Safe, h.Finalized)
	return h
}

// canonHashLocked is the hash of canonical keystone number.
func (s *Service) canonHashLocked(number uint64) common.Hash {
	iv := s.chain.Config().KeystoneInterval
	if i := number/iv - 1; number%iv == 0 && number > 0 && i < uint64(len(s.canon)) {
		return s.canon[i].hash
	}
	return common.Hash{}
}

func (s *Service) floorNumber() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.floor.number
}

// dropFloor lowers the finalized tag to below, the newest keystone still
// canonical: the chain left the finalized block, which neither fork
// choice nor the chain allow, so only a chain database replaced under
// the node gets here. It is logged at Error and saved.
func (s *Service) dropFloor(below uint64) {
	s.floorMu.Lock()
	defer s.floorMu.Unlock()
	s.mu.Lock()
	old := s.floor
	if old.number <= below {
		s.mu.Unlock()
		return
	}
	next := floorRec{number: 0}
	if below > 0 {
		next = floorRec{number: below, hash: s.canonHashLocked(below)}
	}
	s.floor = next
	s.mu.Unlock()
	s.log.Error("the finalized block left the canonical chain; the finalized tag moves back to the newest canonical keystone",
		"finalized", old.number, "hash", old.hash, "now", next.number)
	if s.store != nil {
		if err := s.store.putFloor(next); err != nil {
			s.log.Error("finalized tag not saved", "err", err)
		}
	}
}
