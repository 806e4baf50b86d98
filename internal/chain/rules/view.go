package rules

import (
	"fmt"
	"math/big"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/hemi-go/hemi/internal/chain/block"
)

// Views is what the Bitcoin view rule asks of a Bitcoin index: facts
// about headers it never forgets.
type Views interface {
	// ViewWork returns the height and cumulative work of block hash; a
	// block not indexed is an error wrapping ErrViewNotReady.
	ViewWork(hash chainhash.Hash) (height int32, work *big.Int, err error)
	// Contains reports whether ancestor is descendant or one of its
	// ancestors.
	Contains(ancestor, descendant chainhash.Hash) (bool, error)
	// TipHeight is the height of the index's most-work chain.
	TipHeight() int32
}

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
// A Views error is returned wrapped; a view the index lacks must wrap
// ErrViewNotReady.
func (r *Rules) CheckView(btc Views, parentExtra *block.Extra, extra block.Extra) error {
	height, work, err := btc.ViewWork(extra.BitcoinHash)
	if err != nil {
		return fmt.Errorf("view %s: %w", extra.BitcoinHash, err)
	}
	if height < 0 || uint32(height) != extra.BitcoinHeight {
		return fmt.Errorf("%w: view %s is at height %d, the header says %d", ErrBadView, extra.BitcoinHash, height, extra.BitcoinHeight)
	}
	if tip := btc.TipHeight(); int64(height)+int64(r.ViewLag) > int64(tip) {
		return fmt.Errorf("%w: view height %d is less than %d blocks below the Bitcoin tip %d", ErrViewNotReady, height, r.ViewLag, tip)
	}
	if parentExtra == nil || parentExtra.BitcoinHash == extra.BitcoinHash {
		return nil
	}
	fwd, err := btc.Contains(parentExtra.BitcoinHash, extra.BitcoinHash)
	if err != nil {
		return fmt.Errorf("parent view %s: %w", parentExtra.BitcoinHash, err)
	}
	if fwd {
		return nil
	}
	_, pwork, err := btc.ViewWork(parentExtra.BitcoinHash)
	if err != nil {
		return fmt.Errorf("parent view %s: %w", parentExtra.BitcoinHash, err)
	}
	if work.Cmp(pwork) <= 0 {
		return fmt.Errorf("%w: view %s@%d neither extends the parent's view %s@%d nor has more work (backwards or onto a lighter branch)",
			ErrBadView, extra.BitcoinHash, height, parentExtra.BitcoinHash, parentExtra.BitcoinHeight)
	}
	return nil
}
