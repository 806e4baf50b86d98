package chain

import (
	"errors"
	"fmt"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/rules"
	"github.com/hemi-go/hemi/internal/hvm"
)

// Rules are the chain's consensus rules: the header and seal rules
// (rules.Rules, pure and shared with the verifier) and the Bitcoin view
// rule (CheckView), which asks this node's Bitcoin index.
type Rules struct{ rules.Rules }

// CheckView applies the Bitcoin view rules (DESIGN 3.4) to a block whose
// Extra is extra and whose parent's is parentExtra (nil for the genesis
// parent, which has no view). The rules depend only on headers the index
// never forgets, so any node applies them the same way at any time, also
// to a block whose view was reorged out since:
//
//   - the view is indexed by this node (else ErrViewNotReady: wait);
//   - its height is the one the Extra record names;
//   - it is at least ViewLag blocks below this node's Bitcoin tip (else
//     ErrViewNotReady: this node's Bitcoin tip may be behind the
//     sequencer's);
//   - it is the parent's view, a descendant of it (forward along a
//     chain), or a block with strictly more cumulative work than the
//     parent's view on another branch (a switch onto the new most-work
//     chain after a Bitcoin reorg). Anything else — an ancestor of the
//     parent's view, or a branch with less work — is ErrBadView.
//
// It returns the view's header.
func (r *Rules) CheckView(btc Bitcoin, parentExtra *block.Extra, extra block.Extra) (hvm.Header, error) {
	vh, work, err := btc.ViewHeader(extra.BitcoinHash)
	if err != nil {
		return hvm.Header{}, fmt.Errorf("view %s: %w", extra.BitcoinHash, err)
	}
	if vh.Height < 0 || uint32(vh.Height) != extra.BitcoinHeight {
		return hvm.Header{}, fmt.Errorf("%w: view %s is at height %d, the header says %d", ErrBadView, vh.Hash, vh.Height, extra.BitcoinHeight)
	}
	if tip := btc.TipHeight(); int64(vh.Height)+int64(r.ViewLag) > int64(tip) {
		return hvm.Header{}, fmt.Errorf("%w: view height %d is less than %d blocks below the Bitcoin tip %d", ErrViewNotReady, vh.Height, r.ViewLag, tip)
	}
	if parentExtra == nil || parentExtra.BitcoinHash == extra.BitcoinHash {
		return vh, nil
	}
	fwd, err := btc.Contains(parentExtra.BitcoinHash, extra.BitcoinHash)
	if err != nil {
		return hvm.Header{}, fmt.Errorf("parent view %s: %w", parentExtra.BitcoinHash, err)
	}
	if fwd {
		return vh, nil
	}
	_, pwork, err := btc.ViewHeader(parentExtra.BitcoinHash)
	if err != nil {
		return hvm.Header{}, fmt.Errorf("parent view %s: %w", parentExtra.BitcoinHash, err)
	}
	if work.Cmp(pwork) <= 0 {
		return hvm.Header{}, fmt.Errorf("%w: view %s@%d neither extends the parent's view %s@%d nor has more work (backwards or onto a lighter branch)",
			ErrBadView, vh.Hash, vh.Height, parentExtra.BitcoinHash, parentExtra.BitcoinHeight)
	}
	return vh, nil
}

// isNotReady reports whether err means "wait" rather than "reject".
func isNotReady(err error) bool { return errors.Is(err, ErrViewNotReady) }
