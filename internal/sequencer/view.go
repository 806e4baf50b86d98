package sequencer

import (
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/hvm"
)

// Bitcoin is what the sequencer asks of the Bitcoin index: the chain's
// view rules plus the block at a height of the most-work chain.
//
// Concurrency: called from the build loop only, concurrently with the
// index's own writers; answers may move between calls (the rules check
// every choice again).
type Bitcoin interface {
	chain.Bitcoin
	// MainChainAt returns the header of the connected (most-work,
	// indexed) chain's block at height; an error wrapping
	// chain.ErrViewNotReady if there is none. internal/node adapts the
	// index (node.Bitcoin).
	MainChainAt(height int32) (hvm.Header, error)
}

// ChooseView picks the Bitcoin view of the block after parent (DESIGN
// 3.4): the connected chain's block lag below its tip, if the view rules
// (chain.Rules.CheckIndexedView, the same rule every node applies) accept it after
// the parent's view; otherwise the parent's view again, if that is still
// acceptable (the tip fell back after a Bitcoin reorg onto a shorter
// chain with more work, or the candidate is on a lighter branch).
// It does no I/O of its own: everything comes from btc, which the caller
// owns. An error wrapping chain.ErrViewNotReady means no view is
// acceptable yet: wait for Bitcoin.
func ChooseView(rules *chain.Rules, btc Bitcoin, parent *block.Extra, lag uint32) (hvm.Header, error) {
	tip := btc.TipHeight()
	height := int64(tip) - int64(lag)
	var candErr error
	if height < 0 {
		candErr = fmt.Errorf("%w: Bitcoin tip %d is less than %d blocks high", chain.ErrViewNotReady, tip, lag)
	} else if cand, err := btc.MainChainAt(int32(height)); err != nil {
		candErr = err
	} else {
		vh, err := rules.CheckIndexedView(btc, parent, block.Extra{BitcoinHeight: uint32(cand.Height), BitcoinHash: cand.Hash})
		if err == nil {
			return vh, nil
		}
		candErr = err
	}
	if parent == nil {
		return hvm.Header{}, candErr
	}
	vh, err := rules.CheckIndexedView(btc, parent, *parent)
	if err != nil {
		return hvm.Header{}, fmt.Errorf("candidate: %w; parent's view %s: %w", candErr, chainhash.Hash(parent.BitcoinHash), err)
	}
	return vh, nil
}
