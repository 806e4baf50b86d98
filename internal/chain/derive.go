package chain

import (
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/hvm"
)

// DeriveSystemTxs returns the system transactions L2 block number must
// carry, in order, given its Bitcoin view (DESIGN 3.3): first the
// Bitcoin view update (genesis.DeriveViewUpdate), then the PoP rewards
// (DeriveRewards) for rewarded, the publications of the keystone this
// block pays (RewardedKeystone) as of view. rewarded is ignored unless
// the block pays a keystone under p and interval, so a caller passing
// publications to a block that pays none cannot change the result. It is
// a pure function of its arguments, so every node derives the same list.
// Tunnel deposits will go between the view update and the rewards.
func DeriveSystemTxs(p *genesis.PoPConfig, interval, number uint64, view hvm.Header, rewarded []Publication) ([]*block.SystemTx, error) {
	up, err := genesis.DeriveViewUpdate(view, number)
	if err != nil {
		return nil, fmt.Errorf("%w: view update: %w", ErrBadView, err)
	}
	out := []*block.SystemTx{up}
	if _, ok := RewardedKeystone(p, interval, number); ok {
		out = append(out, DeriveRewards(p, rewarded)...)
	}
	return out, nil
}

// deriveSystemTxs derives the system transactions of the child of parent
// whose Bitcoin view is vh. When the child pays a keystone K, K is the
// ancestor at that number on parent's own branch (so a side branch pays
// its own keystones) and its publications are read as of vh, so the
// answer does not change when vh is later reorged out of Bitcoin's best
// chain. Publishers are looked up only for the publications that could
// be paid (ResolvePublishers), so a flood of publications costs index
// entries, not transaction reads. Publications of an id no keystone of the branch has are never
// asked for: they pay nothing. Verification and building both call it,
// so a sequencer and a follower derive the same list.
func (c *Chain) deriveSystemTxs(parent *types.Header, vh hvm.Header) ([]*block.SystemTx, error) {
	number := parent.Number.Uint64() + 1
	var pubs []Publication
	if k, ok := RewardedKeystone(&c.cfg.PoP, c.cfg.KeystoneInterval, number); ok {
		kh, err := c.ancestor(parent, k)
		if err != nil {
			return nil, err
		}
		ks, err := c.keystoneFor(kh)
		if err != nil {
			return nil, err
		}
		if pubs, err = c.cfg.Bitcoin.Publications(ks.ID, vh.Hash); err != nil {
			return nil, fmt.Errorf("chain: publications of keystone %d as of %s: %w", k, vh.Hash, err)
		}
		pubs, err = ResolvePublishers(&c.cfg.PoP, pubs, func(txid chainhash.Hash) (*common.Address, error) {
			return c.cfg.Bitcoin.Publisher(txid, vh.Hash)
		})
		if err != nil {
			return nil, fmt.Errorf("chain: publishers of keystone %d as of %s: %w", k, vh.Hash, err)
		}
	}
	return DeriveSystemTxs(&c.cfg.PoP, c.cfg.KeystoneInterval, number, vh, pubs)
}
