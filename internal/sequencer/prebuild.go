package sequencer

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/hvm"
)

// slot is the next block, built ahead of its tick: the system
// transactions and the transactions pending so far already executed, so
// that at the tick only what arrived since is executed before the roots
// are computed, the header sealed and the block committed. It is only
// used by the sequencer's loop goroutine.
type slot struct {
	b       *chain.Builder
	parent  common.Hash
	time    uint64
	view    hvm.Header
	baseFee *big.Int
	steps   int // increments before the tick
}

// openSlot starts the block on head with the view ChooseView picks now
// and the timestamp it will have at its tick.
func (s *Sequencer) openSlot(head *types.Header, view hvm.Header, ts uint64) (*slot, error) {
	baseFee := eip1559.CalcBaseFee(s.cfg.Chain.Config().ChainConfig, head)
	b, err := s.cfg.Chain.NewBuilder(chain.BuildParams{
		Parent:   head,
		Time:     ts,
		View:     view,
		Coinbase: s.cfg.Coinbase,
		Txs:      Order(s.cfg.Pool.Pending(baseFee), baseFee),
	})
	if err != nil {
		return nil, err
	}
	return &slot{b: b, parent: head.Hash(), time: ts, view: view, baseFee: baseFee}, nil
}

// extend executes the pool's pending transactions the slot has not
// executed yet: per sender those from the slot state's nonce on, in the
// order Order gives them. Transactions skipped now (a nonce gap, a fee
// cap below the base fee) are tried again at the next step.
func (sl *slot) extend(p Pool) {
	if sl.b.Full() {
		return
	}
	if pending := p.PendingFrom(sl.baseFee, sl.b.Nonce); len(pending) > 0 {
		sl.b.Add(Order(pending, sl.baseFee))
	}
}

// prebuild is one step ahead of the tick: it opens the slot for the
// block after head (when none is open, or the open one is on another
// parent) and executes what the pool holds now. A view that is not
// ready yet leaves the slot closed; the tick's build reports it.
func (s *Sequencer) prebuild(sl *slot, head *types.Header) *slot {
	if sl != nil && sl.parent != head.Hash() {
		sl.b.Discard()
		sl = nil
	}
	if sl == nil {
		view, err := s.chooseView(head)
		if err != nil {
			return nil
		}
		ts := Timestamp(head.Time, NextDue(head.Time, s.cfg.BlockTime))
		if sl, err = s.openSlot(head, view, ts); err != nil {
			s.log.Debug("cannot build ahead of the tick", "number", head.Number.Uint64()+1, "err", err)
			return nil
		}
	} else {
		sl.extend(s.cfg.Pool)
	}
	sl.steps++
	return sl
}

// chooseView is ChooseView for the block after head.
func (s *Sequencer) chooseView(head *types.Header) (hvm.Header, error) {
	var parent *block.Extra
	if e, err := block.DecodeExtra(head.Extra); err == nil {
		parent = &e
	} else if head.Number.Sign() != 0 {
		return hvm.Header{}, fmt.Errorf("sequencer: head %d extra: %w", head.Number, err)
	}
	view, err := ChooseView(s.cfg.Chain.Rules(), s.cfg.Bitcoin, parent, s.cfg.ViewLag)
	if err != nil {
		return hvm.Header{}, fmt.Errorf("sequencer: choose view for block %d: %w", head.Number.Uint64()+1, err)
	}
	return view, nil
}
