package derive

import (
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/chain/rules"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/pop"
)

// Default is the derivation of DESIGN 3.3 as it stands today: the
// Bitcoin view update, then the PoP rewards under p and interval. Tunnel
// deposits, payout markers and vault-spend flags will go between the two,
// in that order. The assembly installs its own list (internal/node's
// chainDerivers); tests that open a bare chain install this one.
func Default(p *genesis.PoPConfig, interval uint64) []rules.Deriver {
	return []rules.Deriver{ViewUpdate{}, &PoPRewards{PoP: *p, Interval: interval}}
}

var (
	_ rules.ViewUpdater = ViewUpdate{}
	_ rules.GasBounded  = ViewUpdate{}
	_ rules.Deriver     = (*PoPRewards)(nil)
	_ rules.GasBounded  = (*PoPRewards)(nil)
)

// ViewUpdate derives the first system transaction of every block: the
// Bitcoin view update (genesis.DeriveViewUpdate).
type ViewUpdate struct{}

// Derive returns the view update of d.Number to d.View.
func (ViewUpdate) Derive(d *rules.Derivation) ([]*block.SystemTx, error) {
	up, err := genesis.DeriveViewUpdate(d.View, d.Number)
	if err != nil {
		return nil, fmt.Errorf("%w: view update: %w", rules.ErrBadView, err)
	}
	return []*block.SystemTx{up}, nil
}

// MaxGas is the view update's Gas (rules.GasBounded).
func (ViewUpdate) MaxGas() uint64 { return genesis.ViewUpdateGas }

// DerivesViewUpdate marks ViewUpdate as the view update's deriver
// (rules.ViewUpdater), which every derivation list starts with.
func (ViewUpdate) DerivesViewUpdate() {}

// PoPRewards derives the PoP reward system transactions (DeriveRewards)
// of the blocks that pay a keystone (RewardedKeystone under PoP and
// Interval).
type PoPRewards struct {
	PoP      genesis.PoPConfig
	Interval uint64
}

// MaxGas is the Gas of MaxRewarded rewards, 0 with rewards off
// (rules.GasBounded): the tunnel's derivers, before it, leave it room.
// Rewards are not capped by Derivation.GasLeft: genesis validation
// makes them fit the budget.
func (r *PoPRewards) MaxGas() uint64 {
	if !r.PoP.RewardsOn() || r.PoP.MaxRewarded <= 0 {
		return 0
	}
	return uint64(r.PoP.MaxRewarded) * genesis.RewardGas
}

// Derive pays the keystone d.Number pays, if any: K is the ancestor at
// that number on the parent's own branch (so a side branch pays its own
// keystones) and its publications are read as of d.View, so the answer
// does not change when d.View is later reorged out of Bitcoin's best
// chain. Publishers are looked up only for the publications that could
// be paid (ResolvePublishers), so a flood of publications costs index
// entries, not transaction reads. Publications of an id no keystone of
// the branch has are never asked for: they pay nothing.
func (r *PoPRewards) Derive(d *rules.Derivation) ([]*block.SystemTx, error) {
	k, ok := RewardedKeystone(&r.PoP, r.Interval, d.Number)
	if !ok {
		return nil, nil
	}
	ks, err := d.Keystone(k)
	if err != nil {
		return nil, err
	}
	vh := d.View
	pubs, err := d.Bitcoin.Publications(ks.ID, vh.Hash)
	if err != nil {
		return nil, fmt.Errorf("derive: publications of keystone %d as of %s: %w", k, vh.Hash, err)
	}
	pubs, err = ResolvePublishers(&r.PoP, pubs, func(txid chainhash.Hash) (*common.Address, error) {
		return d.Bitcoin.Publisher(txid, vh.Hash)
	})
	if err != nil {
		return nil, fmt.Errorf("derive: publishers of keystone %d as of %s: %w", k, vh.Hash, err)
	}
	return DeriveRewards(&r.PoP, pubs), nil
}

// DeriveSystemTxs returns the system transactions L2 block number must
// carry under Default, in order, given its Bitcoin view (DESIGN
// 3.3): first the Bitcoin view update (genesis.DeriveViewUpdate), then
// the PoP rewards (DeriveRewards) for rewarded, the publications of the
// keystone this block pays (RewardedKeystone) as of view. rewarded is
// ignored unless the block pays a keystone under p and interval, so a
// caller passing publications to a block that pays none cannot change
// the result. It is a pure function of its arguments, so every node
// derives the same list.
func DeriveSystemTxs(p *genesis.PoPConfig, interval, number uint64, view hvm.Header, rewarded []pop.Publication) ([]*block.SystemTx, error) {
	out, err := ViewUpdate{}.Derive(&rules.Derivation{Number: number, View: view})
	if err != nil {
		return nil, err
	}
	if _, ok := RewardedKeystone(p, interval, number); ok {
		out = append(out, DeriveRewards(p, rewarded)...)
	}
	return out, nil
}
