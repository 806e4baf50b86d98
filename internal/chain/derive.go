package chain

import (
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/pop"
)

// Deriver derives one kind of a block's system transactions from its
// Bitcoin view (DESIGN 3.3). The chain runs the derivers of
// Config.Derivers in order and concatenates their results, so each kind
// of Bitcoin-derived work (the view update, PoP rewards, later the
// tunnel's deposits and payout markers) is a deriver the assembly
// installs, and the chain imports none of their packages.
//
// A deriver must be a pure function of the Derivation and of what it
// reads through it as of d.View (never the Bitcoin tip), so that a
// sequencer and every follower derive the same list; building and
// verification both call it. An error fails the block's build or
// insertion; an error wrapping ErrViewNotReady means "not yet".
type Deriver interface {
	Derive(d *Derivation) ([]*block.SystemTx, error)
}

// Derivation is what a Deriver knows of the block it derives for.
type Derivation struct {
	// Parent is the block's parent, Number its number (Parent's + 1).
	Parent *types.Header
	Number uint64
	// View is the block's Bitcoin view.
	View hvm.Header
	// Bitcoin is the chain's Bitcoin (Config.Bitcoin); read it as of
	// View.
	Bitcoin Bitcoin
	// Keystone returns the keystone at number (a keystone number at or
	// below Parent's) on Parent's own branch, so a side branch derives
	// from its own keystones.
	Keystone func(number uint64) (*pop.L2Keystone, error)
}

// DefaultDerivers is the derivation of DESIGN 3.3 as it stands today:
// the Bitcoin view update, then the PoP rewards under p and interval.
// Tunnel deposits, payout markers and vault-spend flags will go between
// the two, in that order. ConfigFromSpec installs it; an assembly may
// install its own list (internal/node does).
func DefaultDerivers(p *genesis.PoPConfig, interval uint64) []Deriver {
	return []Deriver{ViewUpdate{}, &PoPRewards{PoP: *p, Interval: interval}}
}

// ViewUpdate derives the first system transaction of every block: the
// Bitcoin view update (genesis.DeriveViewUpdate).
type ViewUpdate struct{}

// Derive returns the view update of d.Number to d.View.
func (ViewUpdate) Derive(d *Derivation) ([]*block.SystemTx, error) {
	up, err := genesis.DeriveViewUpdate(d.View, d.Number)
	if err != nil {
		return nil, fmt.Errorf("%w: view update: %w", ErrBadView, err)
	}
	return []*block.SystemTx{up}, nil
}

// PoPRewards derives the PoP reward system transactions (DeriveRewards)
// of the blocks that pay a keystone (RewardedKeystone under PoP and
// Interval).
type PoPRewards struct {
	PoP      genesis.PoPConfig
	Interval uint64
}

// Derive pays the keystone d.Number pays, if any: K is the ancestor at
// that number on the parent's own branch (so a side branch pays its own
// keystones) and its publications are read as of d.View, so the answer
// does not change when d.View is later reorged out of Bitcoin's best
// chain. Publishers are looked up only for the publications that could
// be paid (ResolvePublishers), so a flood of publications costs index
// entries, not transaction reads. Publications of an id no keystone of
// the branch has are never asked for: they pay nothing.
func (r *PoPRewards) Derive(d *Derivation) ([]*block.SystemTx, error) {
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
		return nil, fmt.Errorf("chain: publications of keystone %d as of %s: %w", k, vh.Hash, err)
	}
	pubs, err = ResolvePublishers(&r.PoP, pubs, func(txid chainhash.Hash) (*common.Address, error) {
		return d.Bitcoin.Publisher(txid, vh.Hash)
	})
	if err != nil {
		return nil, fmt.Errorf("chain: publishers of keystone %d as of %s: %w", k, vh.Hash, err)
	}
	return DeriveRewards(&r.PoP, pubs), nil
}

// DeriveSystemTxs returns the system transactions L2 block number must
// carry under DefaultDerivers, in order, given its Bitcoin view (DESIGN
// 3.3): first the Bitcoin view update (genesis.DeriveViewUpdate), then
// the PoP rewards (DeriveRewards) for rewarded, the publications of the
// keystone this block pays (RewardedKeystone) as of view. rewarded is
// ignored unless the block pays a keystone under p and interval, so a
// caller passing publications to a block that pays none cannot change
// the result. It is a pure function of its arguments, so every node
// derives the same list.
func DeriveSystemTxs(p *genesis.PoPConfig, interval, number uint64, view hvm.Header, rewarded []pop.Publication) ([]*block.SystemTx, error) {
	out, err := ViewUpdate{}.Derive(&Derivation{Number: number, View: view})
	if err != nil {
		return nil, err
	}
	if _, ok := RewardedKeystone(p, interval, number); ok {
		out = append(out, DeriveRewards(p, rewarded)...)
	}
	return out, nil
}

// deriveSystemTxs derives the system transactions of the child of parent
// whose Bitcoin view is vh: Config.Derivers in order. Verification and
// building both call it, so a sequencer and a follower derive the same
// list.
func (c *Chain) deriveSystemTxs(parent *types.Header, vh hvm.Header) ([]*block.SystemTx, error) {
	d := &Derivation{Parent: parent, Number: parent.Number.Uint64() + 1, View: vh, Bitcoin: c.cfg.Bitcoin,
		Keystone: func(number uint64) (*pop.L2Keystone, error) {
			kh, err := c.ancestor(parent, number)
			if err != nil {
				return nil, err
			}
			return c.keystoneFor(kh)
		}}
	var out []*block.SystemTx
	for _, dv := range c.cfg.Derivers {
		txs, err := dv.Derive(d)
		if err != nil {
			return nil, err
		}
		out = append(out, txs...)
	}
	return out, nil
}
