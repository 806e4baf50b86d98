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
	switch {
	case p.SuperfinalDepth == 0:
		return fieldErr(ErrConfig, "pop.superfinal_depth", "must be >= 1; set it to the Bitcoin confirmations at which an L2 block is superfinal (%d on mainnet-like networks, %d on a devnet)",
			DefaultSuperfinalDepth, DevnetSuperfinalDepth)
	case len(p.ForkTable) == 0:
		return fieldErr(ErrConfig, "pop.fork_table", "is empty; list the fork-choice points by publication delay, e.g. %v", DefaultForkTable())
	case p.MaxRewarded < 0:
		return fieldErr(ErrConfig, "pop.max_rewarded", "%d is negative; set the publications paid per keystone (default %d)", p.MaxRewarded, DefaultMaxRewarded)
	case p.RewardDelay > MaxJSONInt:
		return fieldErr(ErrConfig, "pop.reward_delay", "%d is above %d; set the L2 blocks between a keystone and the block paying its publishers (default %d)", p.RewardDelay, uint64(MaxJSONInt), DefaultRewardDelay)
	}
	if err := nonIncreasing("pop.fork_table", p.ForkTable); err != nil {
		return err
	}
	if !p.RewardsOn() {
		return nil
	}
	const on = "with rewards on (pop.reward_delay %d): %s"
	switch {
	case p.Reward == nil || p.Reward.Sign() <= 0:
		return fieldErr(ErrConfig, "pop.reward", on, p.RewardDelay, fmt.Sprintf("must be positive; set the reward in wei (default \"%v\") or set pop.reward_delay to 0", DefaultReward()))
	case p.Reward.BitLen() > 248:
		// Reward * 100 (percent) must stay within 256 bits.
		return fieldErr(ErrConfig, "pop.reward", "%v is too large: at most 2^248-1 wei", p.Reward)
	case len(p.RewardTable) == 0:
		return fieldErr(ErrConfig, "pop.reward_table", on, p.RewardDelay, fmt.Sprintf("is empty; list the percent of the reward by publication delay, e.g. %v", DefaultRewardTable()))
	case p.MaxRewarded == 0:
		return fieldErr(ErrConfig, "pop.max_rewarded", on, p.RewardDelay, "is 0; set it to the publications paid per keystone, or set pop.reward_delay to 0 to turn rewards off")
	}
	for d, pct := range p.RewardTable {
		if pct > 100 {
			return fieldErr(ErrConfig, fmt.Sprintf("pop.reward_table[%d]", d), "%d%% is above 100; a publication earns at most the whole reward", pct)
		}
	}
	if err := nonIncreasing("pop.reward_table", p.RewardTable); err != nil {
		return err
	}
	need := new(big.Int).SetUint64(RewardGas)
	need.Mul(need, big.NewInt(int64(p.MaxRewarded)))
	need.Add(need, new(big.Int).SetUint64(ViewUpdateGas))
	if need.Cmp(new(big.Int).SetUint64(gasLimit)) > 0 {
		return fieldErr(ErrConfig, "pop.max_rewarded", "%d: the view update and %d rewards need %v gas, above the block gas limit %d; lower it or raise gas_limit",
			p.MaxRewarded, p.MaxRewarded, need, gasLimit)
	}
	return nil
}

// nonIncreasing rejects a table with an entry above its predecessor: a
// later publication never scores more than an earlier one.
func nonIncreasing(name string, t []uint32) error {
	for i := 1; i < len(t); i++ {
		if t[i] > t[i-1] {
			return fieldErr(ErrConfig, fmt.Sprintf("%s[%d]", name, i), "%d is above the entry before it (%d): a later publication never scores more than an earlier one; make the table non-increasing", t[i], t[i-1])
		}
	}
	return nil
}
