package derive

import (
	"math/big"
	"slices"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/pop"
)

// RewardedKeystone returns the keystone whose publishers L2 block number
// pays: K = number - p.RewardDelay when rewards are on (RewardDelay > 0)
// and K is a positive multiple of interval.
func RewardedKeystone(p *genesis.PoPConfig, interval, number uint64) (uint64, bool) {
	if p.RewardDelay == 0 || interval == 0 || number <= p.RewardDelay {
		return 0, false
	}
	k := number - p.RewardDelay
	if k%interval != 0 {
		return 0, false
	}
	return k, true
}

// DeriveRewards returns the reward system transactions for the
// publications pubs of one keystone (all of them, as of the paying
// block's Bitcoin view, in any order). The rule:
//
//  1. Publications are taken in Bitcoin order (height, tx index, vout).
//     h0 is the height of the first one, identified or not.
//  2. A publication at height h earns p.Reward * p.RewardTable[h-h0] / 100
//     (integer division); beyond the table it earns nothing.
//  3. Each publisher address is paid once per keystone, for its earliest
//     publication; publications without a publisher earn nothing; one
//     that earns nothing does not count.
//  4. At most p.MaxRewarded are paid, the earliest first.
//
// Each reward is a system transaction from genesis.SystemAddress minting
// the amount and sending it to the publisher (Mint = Value), Gas
// genesis.RewardGas, SourceHash block.SourceHash(block.DomainPoPReward,
// txid, vout). With rewards off (p.RewardDelay 0) it returns nothing.
// Pure: no I/O, and pubs is not modified.
func DeriveRewards(p *genesis.PoPConfig, pubs []pop.Publication) []*block.SystemTx {
	if !p.RewardsOn() || p.Reward == nil || p.Reward.Sign() <= 0 || p.MaxRewarded <= 0 || len(pubs) == 0 {
		return nil
	}
	sorted := sortedPublications(pubs)
	h0 := sorted[0].Height
	paid := make(map[common.Address]bool)
	var out []*block.SystemTx
	for i := range sorted {
		pub := &sorted[i]
		amount := rewardAmount(p, h0, pub.Height)
		if amount == nil {
			break // sorted by height, table non-increasing: no later one earns
		}
		if pub.Publisher == nil || paid[*pub.Publisher] {
			continue
		}
		paid[*pub.Publisher] = true
		to := *pub.Publisher
		out = append(out, &block.SystemTx{
			SourceHash: block.SourceHash(block.DomainPoPReward, pub.Txid, uint64(pub.Vout)),
			From:       genesis.SystemAddress,
			To:         &to,
			Mint:       amount,
			Value:      new(big.Int).Set(amount),
			Gas:        genesis.RewardGas,
		})
		if len(out) == p.MaxRewarded {
			break
		}
	}
	return out
}

// sortedPublications returns a copy of pubs in Bitcoin order.
func sortedPublications(pubs []pop.Publication) []pop.Publication {
	sorted := slices.Clone(pubs)
	pop.SortPublications(sorted)
	return sorted
}

// rewardAmount is what a publication at height h earns when the first
// publication is at h0: Reward * RewardTable[h-h0] / 100, nil when that
// is nothing (beyond the table, a 0% entry, a reward that rounds to 0).
func rewardAmount(p *genesis.PoPConfig, h0, h int32) *big.Int {
	d := int64(h) - int64(h0)
	if p.Reward == nil || d < 0 || d >= int64(len(p.RewardTable)) {
		return nil
	}
	amount := new(big.Int).Mul(p.Reward, new(big.Int).SetUint64(uint64(p.RewardTable[d])))
	amount.Quo(amount, big.NewInt(100))
	if amount.Sign() <= 0 {
		return nil
	}
	return amount
}

// ResolvePublishers fills in the Publisher of the publications of one
// keystone that DeriveRewards could pay, asking who for each (who reads
// the PoP transaction; nil: not identified), and returns them in Bitcoin
// order. It stops at the first publication that earns nothing by its
// delay and once p.MaxRewarded distinct publishers are known, leaving
// the rest with a nil Publisher: they could not be paid whoever
// published them, so DeriveRewards gives the same list as with every
// publisher known, while the lookups stay bounded by the reward window
// however many publications Bitcoin holds.
func ResolvePublishers(p *genesis.PoPConfig, pubs []pop.Publication, who func(txid chainhash.Hash) (*common.Address, error)) ([]pop.Publication, error) {
	sorted := sortedPublications(pubs)
	for i := range sorted {
		sorted[i].Publisher = nil
	}
	if !p.RewardsOn() || p.MaxRewarded <= 0 || len(sorted) == 0 {
		return sorted, nil
	}
	h0 := sorted[0].Height
	seen := make(map[common.Address]bool)
	asked := make(map[chainhash.Hash]*common.Address) // a tx may publish in several outputs
	for i := range sorted {
		if len(seen) >= p.MaxRewarded || rewardAmount(p, h0, sorted[i].Height) == nil {
			break
		}
		a, ok := asked[sorted[i].Txid]
		if !ok {
			var err error
			if a, err = who(sorted[i].Txid); err != nil {
				return nil, err
			}
			asked[sorted[i].Txid] = a
		}
		if a != nil {
			cp := *a
			sorted[i].Publisher = &cp
			seen[cp] = true
		}
	}
	return sorted, nil
}
