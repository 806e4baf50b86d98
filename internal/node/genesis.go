package node

import (
	"errors"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/chain/genesis"
)

// Genesis says which L2 genesis a node opens. Until genesis files exist
// (DESIGN 9), a network's genesis is the devnet genesis anchored at a
// chosen Bitcoin block, with the network's parameters (config [l2]).
// Zero values take the genesis defaults.
type Genesis struct {
	// BTCHeight is the height of the Bitcoin block (on the index's
	// most-work chain) that is the genesis's Bitcoin view.
	BTCHeight int32
	// Time is the genesis timestamp in Unix seconds (0: the Bitcoin
	// block's timestamp).
	Time uint64
	// Sequencers may seal blocks (empty: the node's own key's address).
	Sequencers []common.Address
	// Network is the Bitcoin network's name (btc.network).
	Network string
	// BlockTime, KeystoneInterval, SuperfinalDepth and RewardDelay are
	// the genesis config's (genesis.Config, genesis.PoPConfig).
	BlockTime        time.Duration
	KeystoneInterval uint64
	SuperfinalDepth  uint32
	RewardDelay      uint64
}

// GenesisSpec is g's genesis as read from btc, sealed by g.Sequencers or
// self (the node's key's address). The Bitcoin block g.BTCHeight must be
// indexed (WaitIndexed).
func GenesisSpec(g Genesis, btc *Bitcoin, self common.Address) (*genesis.Spec, error) {
	view, err := btc.MainChainAt(g.BTCHeight)
	if err != nil {
		return nil, fmt.Errorf("L2 genesis view at Bitcoin height %d: %w", g.BTCHeight, err)
	}
	seqs := g.Sequencers
	if len(seqs) == 0 {
		if self == (common.Address{}) {
			return nil, errors.New("l2.sequencers is empty: a node without --sequencer must name the sequencer addresses")
		}
		seqs = []common.Address{self}
	}
	ts := g.Time
	if ts == 0 {
		ts = uint64(view.Header.Timestamp.Unix())
	}
	spec, _, err := genesis.DevnetSpec(seqs[0], view, ts)
	if err != nil {
		return nil, err
	}
	spec.Config.Sequencers = seqs
	spec.Config.BitcoinNetwork = g.Network
	if g.BlockTime > 0 {
		spec.Config.BlockTime = g.BlockTime
	}
	if g.KeystoneInterval > 0 {
		spec.Config.KeystoneInterval = g.KeystoneInterval
	}
	if g.SuperfinalDepth > 0 {
		spec.Config.PoP.SuperfinalDepth = g.SuperfinalDepth
	}
	spec.Config.PoP.RewardDelay = g.RewardDelay
	if err := spec.Config.Validate(); err != nil {
		return nil, err
	}
	return spec, nil
}
