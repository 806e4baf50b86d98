package genesis

import (
	"fmt"
	"math/big"

	"github.com/hemi-go/hemi/internal/finality/tracker"
)

// Defaults of PoPConfig (DESIGN 4, issue 4). DevnetConfig uses them all
// except SuperfinalDepth, which is DevnetSuperfinalDepth there.
const (
	// DefaultSuperfinalDepth is the Bitcoin confirmations at which an L2
	// block is superfinal on mainnet-like networks (DESIGN 4: 10); the
	// finality rule owns the value.
	DefaultSuperfinalDepth = tracker.DefaultSuperfinalDepth
	// DevnetSuperfinalDepth is the devnet's: regtest mines a block every
	// few seconds and nobody attacks it, so 6 confirmations keep the
	// "published -> safe -> finalized" cycle visible within a minute.
	DevnetSuperfinalDepth = 6
	// DefaultRewardDelay is the distance, in L2 blocks, between a
	// keystone and the block that pays its publishers: 50 blocks, 100 s
	// at the devnet's 2 s block time. The PoP miner broadcasts a keystone
	// within a second of its block; regtest in the devnet mines every
	// 5 s, and the view lags the Bitcoin tip by 2 blocks, so a first
	// publication enters the view about 15 s (8 L2 blocks) after the
	// keystone. The remaining ~85 s leave room for the whole
	// DefaultRewardTable (6 Bitcoin blocks, ~30 s) plus a Bitcoin reorg
	// or a few blocks of fee bumping.
	DefaultRewardDelay = 50
	// DefaultMaxRewarded caps the publications paid per keystone: 10
	// rewards per keystone (one per publisher), so a keystone mints at
	// most 10 x DefaultReward and its rewards use at most
	// 10 x RewardGas of the block gas limit.
	DefaultMaxRewarded = 10
	// RewardGas is the Gas of every PoP reward system transaction:
	// enough for an EOA (which uses none: system transactions pay no
	// intrinsic gas) and for a contract wallet's receive hook that logs
	// an event and writes a slot or two (a cold SSTORE is 22,100). A
	// recipient that needs more reverts: the receipt has status 0 and the
	// minted reward stays with SystemAddress (chain package doc, "System
	// transactions").
	RewardGas = 50_000
)

// DefaultReward is the reward for a publication in the Bitcoin block of
// a keystone's first publication: 1 ether (10^18 wei) of the L2's native
// token. On the devnet the token has no price; 1 ether is a round figure
// that shows in `cast balance` and is orders of magnitude above the L2 gas
// a publisher could spend, while the PoP transaction it rewards costs real
// satoshis on mainnet-like networks, where a network sets its own value.
func DefaultReward() *big.Int { return big.NewInt(1_000_000_000_000_000_000) }

// DefaultForkTable scores a publication in PoP fork choice by its delay
// after the competing keystone's earliest publication, in Bitcoin blocks
// (VeriBlock's shape: full points for delays 0 and 1, then decreasing,
// nothing from delay 9 on).
func DefaultForkTable() []uint32 { return []uint32{100, 100, 95, 89, 80, 69, 56, 40, 21} }

// DefaultRewardTable is the percent of Reward a publication earns by its
// delay after the keystone's first publication, in Bitcoin blocks: full
// reward in the first two blocks, then 20 points less per block, nothing
// from delay 6 on.
func DefaultRewardTable() []uint32 { return []uint32{100, 100, 80, 60, 40, 20} }

// DefaultPoPConfig is the PoP schedule with every default of this package
// and superfinality at superfinalDepth.
func DefaultPoPConfig(superfinalDepth uint32) PoPConfig {
	return PoPConfig{
		SuperfinalDepth: superfinalDepth,
		ForkTable:       DefaultForkTable(),
		RewardDelay:     DefaultRewardDelay,
		Reward:          DefaultReward(),
		RewardTable:     DefaultRewardTable(),
		MaxRewarded:     DefaultMaxRewarded,
	}
}

// RewardsOn reports whether publishers are paid at all: RewardDelay > 0.
func (p *PoPConfig) RewardsOn() bool { return p.RewardDelay > 0 }

// Validate checks p for a chain whose blocks have gasLimit and whose
// view update uses ViewUpdateGas: superfinality needs at least one
// confirmation; the fork table is non-empty and non-increasing; with
// rewards on, the reward is positive and fits 256 bits, the reward table
// is non-empty, non-increasing and within 100 percent, MaxRewarded is
// positive and the view update plus MaxRewarded rewards fit the gas
// limit. With rewards off (RewardDelay 0) the reward fields are not used
// and only MaxRewarded's sign is checked.
func (p *PoPConfig) Validate(gasLimit uint64) error {
	if p.SuperfinalDepth == 0 {
		return fmt.Errorf("%w: pop superfinal depth 0", ErrConfig)
	}
	if len(p.ForkTable) == 0 {
		return fmt.Errorf("%w: pop fork table empty", ErrConfig)
	}
	if err := nonIncreasing("pop fork table", p.ForkTable); err != nil {
		return err
	}
	if p.MaxRewarded < 0 {
		return fmt.Errorf("%w: pop max rewarded %d is negative", ErrConfig, p.MaxRewarded)
	}
	if !p.RewardsOn() {
		return nil
	}
	switch {
	case p.Reward == nil || p.Reward.Sign() <= 0:
		return fmt.Errorf("%w: pop reward must be positive when the reward delay is %d", ErrConfig, p.RewardDelay)
	case p.Reward.BitLen() > 248:
		// Reward * 100 (percent) must stay within 256 bits.
		return fmt.Errorf("%w: pop reward %v too large", ErrConfig, p.Reward)
	case len(p.RewardTable) == 0:
		return fmt.Errorf("%w: pop reward table empty with rewards on", ErrConfig)
	case p.MaxRewarded == 0:
		return fmt.Errorf("%w: pop max rewarded 0 with rewards on (set the reward delay to 0 instead)", ErrConfig)
	}
	for d, pct := range p.RewardTable {
		if pct > 100 {
			return fmt.Errorf("%w: pop reward table[%d] = %d%%, above 100", ErrConfig, d, pct)
		}
	}
	if err := nonIncreasing("pop reward table", p.RewardTable); err != nil {
		return err
	}
	need := new(big.Int).SetUint64(RewardGas)
	need.Mul(need, big.NewInt(int64(p.MaxRewarded)))
	need.Add(need, new(big.Int).SetUint64(ViewUpdateGas))
	if need.Cmp(new(big.Int).SetUint64(gasLimit)) > 0 {
		return fmt.Errorf("%w: pop max rewarded %d: the view update and %d rewards need %v gas, block gas limit %d",
			ErrConfig, p.MaxRewarded, p.MaxRewarded, need, gasLimit)
	}
	return nil
}

// nonIncreasing rejects a table with an entry above its predecessor: a
// later publication never scores more than an earlier one.
func nonIncreasing(name string, t []uint32) error {
	for i := 1; i < len(t); i++ {
		if t[i] > t[i-1] {
			return fmt.Errorf("%w: %s increases at %d (%d > %d)", ErrConfig, name, i, t[i], t[i-1])
		}
	}
	return nil
}
