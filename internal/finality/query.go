package finality

import (
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/event"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/finality/tracker"
	"github.com/hemi-go/hemi/internal/pop"
)

// Heads returns the newest safe and finalized canonical blocks (0, the
// genesis, while none is): finalized is the tag (never back), safe the
// newest published keystone but never below finalized.
func (s *Service) Heads() Heads {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.headsLocked()
}

// Safe is the newest canonical block with at least one Bitcoin
// confirmation (the RPC "safe" tag).
func (s *Service) Safe() uint64 { return s.Heads().Safe }

// Finalized is the finalized tag: the newest canonical block ever
// superfinal, never moving back (package doc, "Tags"; the RPC
// "finalized" tag).
func (s *Service) Finalized() uint64 { return s.Heads().Finalized }

// Finality returns the finality of canonical L2 block number.
func (s *Service) Finality(number uint64) (*BlockFinality, error) {
	if s.chain == nil {
		return nil, ErrNotReady
	}
	h, err := s.chain.HeaderByNumber(number)
	if err != nil {
		if errors.Is(err, chain.ErrNotFound) {
			return nil, fmt.Errorf("block %d: %w", number, ErrNotFound)
		}
		return nil, err
	}
	out := &BlockFinality{Number: number, Hash: h.Hash(), KeystoneNumber: s.chain.CoveringKeystone(number)}
	k, err := s.chain.KeystoneAt(out.KeystoneNumber)
	switch {
	case errors.Is(err, chain.ErrNotFound):
		s.mu.Lock()
		out.Status = tracker.Status{Depth: s.depth}
		out.Finalized = number <= s.floor.number
		s.mu.Unlock()
		return out, nil
	case err != nil:
		return nil, err
	}
	out.KeystoneExists, out.KeystoneID, out.KeystoneHash = true, k.ID, k.Hash
	out.Status = s.KeystoneStatus(k)
	out.Finalized = number <= s.floorNumber()
	out.SuperfinalityLost = out.Finalized && !out.Superfinal && number > 0
	return out, nil
}

// KeystoneStatus is the finality of keystone k (of any branch): the
// tracker's, or for a keystone it has not been told about, that of its
// own publications.
func (s *Service) KeystoneStatus(k *pop.L2Keystone) tracker.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.tr.Status(k.ID)
	if !st.Known {
		st = s.tr.OwnStatus(k.ID)
	}
	return st
}

// Publications returns the canonical publications of keystone id itself.
func (s *Service) KeystonePublications(id [32]byte) []pop.Publication {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tr.Publications(id)
}

// Prefer implements chain.ForkChoice with the rule in the package doc. It
// refuses until the service has caught up with the Bitcoin tip of
// start-up; then it reconsiders the side branches itself.
func (s *Service) Prefer(current, candidate []tracker.KeystoneRef) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.caughtUp {
		return false
	}
	// Never below the finalized tag, even when a deep Bitcoin reorg
	// made the blocks under it not superfinal any more.
	if len(current) > 0 && current[0].Number <= s.floor.number {
		return false
	}
	return s.tr.Prefer(s.table, current, candidate)
}

// SubscribeKeystones delivers the new canonical keystones each time the
// head reaches them (after an L2 reorg, those of the new branch), oldest
// first.
func (s *Service) SubscribeKeystones(ch chan<- []*pop.L2Keystone) event.Subscription {
	return s.keystoneFeed.Subscribe(ch)
}

// SubscribeHeads delivers the safe and finalized heads when they change.
func (s *Service) SubscribeHeads(ch chan<- Heads) event.Subscription {
	return s.headsFeed.Subscribe(ch)
}
