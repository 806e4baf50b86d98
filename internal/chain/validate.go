package chain

import (
	"errors"
	"math/big"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/rules"
	"github.com/hemi-go/hemi/internal/hvm"
)

// Rules are the chain's consensus rules: the header and seal rules
// (rules.Rules, pure and shared with the verifier) and the Bitcoin view
// rule over this node's Bitcoin index (CheckIndexedView). The embedded
// rules.Rules methods are promoted unchanged: nothing here shadows them.
type Rules struct{ rules.Rules }

// CheckIndexedView applies the Bitcoin view rule (rules.Rules.CheckView)
// over this node's index and returns the view's header, read once.
func (r *Rules) CheckIndexedView(btc Bitcoin, parentExtra *block.Extra, extra block.Extra) (hvm.Header, error) {
	v := &viewFacts{Bitcoin: btc, want: extra.BitcoinHash}
	if err := r.Rules.CheckView(v, parentExtra, extra); err != nil {
		return hvm.Header{}, err
	}
	return v.header, nil
}

// viewFacts adapts Bitcoin to rules.Views, keeping the header of the
// block's own view for CheckIndexedView to return.
type viewFacts struct {
	Bitcoin
	want   chainhash.Hash
	header hvm.Header
}

var _ rules.Views = (*viewFacts)(nil)

// ViewWork returns the height and cumulative work of an indexed block.
func (v *viewFacts) ViewWork(hash chainhash.Hash) (int32, *big.Int, error) {
	vh, work, err := v.ViewHeader(hash)
	if err != nil {
		return 0, nil, err
	}
	if hash == v.want {
		v.header = vh
	}
	return vh.Height, work, nil
}

// isNotReady reports whether err means "wait" rather than "reject".
func isNotReady(err error) bool { return errors.Is(err, ErrViewNotReady) }
