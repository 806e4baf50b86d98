package finality

import (
	"context"
	"errors"
	"fmt"

	"github.com/hemi-go/hemi/internal/finality/tracker"
)

// load opens the saved state (Config.Dir) and restores the tracker, the
// canonical keystones and the finalized tag from it, and returns the
// first index event to apply: the one after the saved position, or,
// with nothing usable saved, startSeq's. The Bitcoin half is dropped and
// rebuilt when the index is not the one it was built from (its event at
// the saved position differs, or it has fewer events); the rest is
// checked against the chain by syncCanonical (an L2 reorg while down)
// and here (the finalized tag). Its cost grows with the saved
// publications and keystones, not with the chains' lengths.
func (s *Service) load(ctx context.Context) (uint64, error) {
	if s.cfg.Dir == "" {
		return s.startSeq()
	}
	gen, err := s.chain.HeaderByNumber(0)
	if err != nil {
		return 0, fmt.Errorf("finality: L2 genesis: %w", err)
	}
	if s.store, err = openStore(s.cfg.Dir, s.log); err != nil {
		return 0, err
	}
	if err := s.store.open(gen.Hash(), s.log); err != nil {
		return 0, err
	}
	sv, err := s.store.load()
	if err != nil {
		return 0, fmt.Errorf("%w (delete %s to rebuild it from the Bitcoin index)", err, s.cfg.Dir)
	}
	if sv.pos != nil {
		why, err := s.checkIndex(ctx, sv.pos)
		if err != nil {
			return 0, err
		}
		if why != "" {
			s.log.Warn("saved finality state does not match the Bitcoin index; rebuilding its Bitcoin half", "why", why)
			if err := s.store.resetBitcoin(); err != nil {
				return 0, err
			}
			sv.pos, sv.state.Blocks = nil, nil
			sv.state.HasTip, sv.state.TipHeight, sv.state.TipHash = false, 0, [32]byte{}
		}
	}
	tr, err := tracker.Restore(s.depth, sv.state)
	if err != nil {
		return 0, fmt.Errorf("%w (delete %s to rebuild it from the Bitcoin index)", err, s.cfg.Dir)
	}
	iv := s.chain.Config().KeystoneInterval
	canon := sv.canon
	for i, k := range canon {
		if k.number != uint64(i+1)*iv {
			canon = canon[:i] // a gap: syncCanonical reads the rest again
			break
		}
	}
	if f := sv.floor; f.number > 0 {
		if h, err := s.chain.HeaderByNumber(f.number); err != nil || h.Hash() != f.hash {
			s.log.Error("the saved finalized block is not canonical in the chain database; the finalized tag starts again from the Bitcoin index",
				"finalized", f.number, "hash", f.hash, "err", err)
			sv.floor = floorRec{}
			if err := s.store.putFloor(sv.floor); err != nil {
				return 0, err
			}
		}
	}
	s.mu.Lock()
	s.tr, s.canon, s.floor = tr, canon, sv.floor
	s.mu.Unlock()
	s.metrics.keystones.Set(float64(tr.Keystones()))
	if sv.pos == nil {
		return s.startSeq()
	}
	s.pos = *sv.pos
	return sv.pos.next, nil
}

// checkIndex says why the index is not the one pos was built from ("" if
// it is): it has fewer events, or another event at pos.last's sequence.
// One event is read, whatever the chain's length.
func (s *Service) checkIndex(ctx context.Context, pos *btcPos) (string, error) {
	tipHash, _ := s.cfg.Index.BlockTip()
	n, err := s.cfg.Index.SeqAfter(tipHash)
	if err != nil {
		return "", fmt.Errorf("finality: Bitcoin tip %s: %w", tipHash, err)
	}
	if pos.next > n {
		return fmt.Sprintf("saved at event %d, the index has %d", pos.next, n), nil
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	select {
	case ev, ok := <-s.cfg.Index.Subscribe(cctx, pos.last.Seq):
		if !ok {
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			return "", errors.New("finality: index event stream closed")
		}
		if ev != pos.last {
			return fmt.Sprintf("event %d is %s %s at %d, saved %s %s at %d", ev.Seq, ev.Kind, ev.Hash, ev.Height,
				pos.last.Kind, pos.last.Hash, pos.last.Height), nil
		}
		return "", nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
