package genesis

import (
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

func TestPoPConfigDefaults(t *testing.T) {
	c := DevnetConfig(common.Address{1})
	p := c.PoP
	if p.SuperfinalDepth != DevnetSuperfinalDepth || p.RewardDelay != DefaultRewardDelay ||
		p.Reward.Cmp(big.NewInt(1e18)) != 0 || p.MaxRewarded != DefaultMaxRewarded ||
		len(p.ForkTable) != 9 || len(p.RewardTable) != 6 || !p.RewardsOn() {
		t.Fatalf("devnet pop config %+v", p)
	}
	// The defaults are fresh values: changing one config's table or
	// reward must not change another's.
	p.ForkTable[0], p.RewardTable[0] = 1, 1
	p.Reward.SetInt64(1)
	if d := DevnetConfig(common.Address{1}).PoP; d.ForkTable[0] != 100 || d.RewardTable[0] != 100 || d.Reward.Cmp(big.NewInt(1e18)) != 0 {
		t.Fatal("DevnetConfig shares its PoP tables")
	}
	if DefaultPoPConfig(DefaultSuperfinalDepth).SuperfinalDepth != 10 {
		t.Fatal("mainnet-like superfinal depth")
	}
}

func TestPoPConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		mut  func(*Config)
		ok   bool
	}{
		{name: "devnet defaults", ok: true},
		{name: "rewards off ignores reward fields", ok: true, mut: func(c *Config) {
			c.PoP.RewardDelay, c.PoP.Reward, c.PoP.RewardTable, c.PoP.MaxRewarded = 0, nil, nil, 0
		}},
		{name: "reward table of one entry", ok: true, mut: func(c *Config) { c.PoP.RewardTable = []uint32{100} }},
		{name: "flat tables", ok: true, mut: func(c *Config) { c.PoP.RewardTable, c.PoP.ForkTable = []uint32{50, 50}, []uint32{7} }},
		{name: "superfinal depth 0", mut: func(c *Config) { c.PoP.SuperfinalDepth = 0 }},
		{name: "fork table empty", mut: func(c *Config) { c.PoP.ForkTable = nil }},
		{name: "fork table increasing", mut: func(c *Config) { c.PoP.ForkTable = []uint32{100, 90, 95} }},
		{name: "nil reward with rewards on", mut: func(c *Config) { c.PoP.Reward = nil }},
		{name: "zero reward", mut: func(c *Config) { c.PoP.Reward = new(big.Int) }},
		{name: "negative reward", mut: func(c *Config) { c.PoP.Reward = big.NewInt(-1) }},
		{name: "reward beyond 248 bits", mut: func(c *Config) { c.PoP.Reward = new(big.Int).Lsh(big.NewInt(1), 250) }},
		{name: "reward table empty", mut: func(c *Config) { c.PoP.RewardTable = nil }},
		{name: "reward table increasing", mut: func(c *Config) { c.PoP.RewardTable = []uint32{80, 100} }},
		{name: "reward table above 100%", mut: func(c *Config) { c.PoP.RewardTable = []uint32{150, 100} }},
		{name: "max rewarded 0 with rewards on", mut: func(c *Config) { c.PoP.MaxRewarded = 0 }},
		{name: "max rewarded negative", mut: func(c *Config) { c.PoP.RewardDelay, c.PoP.MaxRewarded = 0, -1 }},
		{name: "rewards do not fit the gas limit", mut: func(c *Config) {
			c.PoP.MaxRewarded = int((c.GasLimit-ViewUpdateGas)/RewardGas) + 1
		}},
		// The view update and the rewards must fit the system gas
		// budget, half the gas limit (tunnelgas.go).
		{name: "rewards do not fit the system gas budget", mut: func(c *Config) {
			c.PoP.MaxRewarded = int((c.SystemGasBudget()-ViewUpdateGas)/RewardGas) + 1
		}},
		{name: "rewards exactly fit the system gas budget", ok: true, mut: func(c *Config) {
			c.PoP.MaxRewarded = int((c.SystemGasBudget() - ViewUpdateGas) / RewardGas)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DevnetConfig(common.Address{1})
			if tc.mut != nil {
				tc.mut(&c)
			}
			err := c.Validate()
			if tc.ok && err != nil {
				t.Fatal(err)
			}
			if !tc.ok && !errors.Is(err, ErrConfig) {
				t.Fatalf("got %v, want ErrConfig", err)
			}
		})
	}
}
