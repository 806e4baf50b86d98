package chain

import (
	"fmt"

	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/hvm"
)

// DeriveSystemTxs returns the system transactions L2 block number must
// carry, in order, given its Bitcoin view (DESIGN 3.3). It is a pure
// function of its arguments, so every node derives the same list. Today
// the list is the Bitcoin view update alone (genesis.DeriveViewUpdate);
// tunnel deposits and PoP rewards are appended here, after it, in
// Bitcoin order, when they exist (they will take the view as their
// input as well).
func DeriveSystemTxs(number uint64, view hvm.Header) ([]*block.SystemTx, error) {
	up, err := genesis.DeriveViewUpdate(view, number)
	if err != nil {
		return nil, fmt.Errorf("%w: view update: %w", ErrBadView, err)
	}
	return []*block.SystemTx{up}, nil
}

// deriveSystemTxs derives the system transactions of the child of parent
// whose Bitcoin view is vh. It gathers what the pure derivation needs
// from the parent's branch and the Bitcoin index (PoP publications as of
// vh) and calls DeriveSystemTxs. Verification and building both call it,
// so a sequencer and a follower derive the same list.
func (c *Chain) deriveSystemTxs(parent *types.Header, vh hvm.Header) ([]*block.SystemTx, error) {
	return DeriveSystemTxs(parent.Number.Uint64()+1, vh)
}
