package genesis

import (
	"errors"
	"strings"
	"testing"
)

// TestSystemGasBudget: the worst case of a block's system transactions
// is derived from the genesis parameters, and a configuration whose
// worst case is above half the gas limit is refused, naming the field
// to change and the value that fits.
func TestSystemGasBudget(t *testing.T) {
	dev := func() Config {
		c := DevnetConfig(SystemAddress)
		c.Tunnel = devTunnel(t)
		return c
	}
	c := dev()
	if err := c.Validate(); err != nil {
		t.Fatalf("the devnet with its tunnel: %v", err)
	}
	// 1,000,000 view + 8,000 fee rate + 27,000 cursor + 24 x 235,000
	// deposits + (6,549,000 batch + 16 x 28,000 flags + 27,000 shortfall)
	// + 10 x 50,000 rewards.
	g := c.SystemGas()
	want := SystemGas{View: 1_000_000, FeeRate: 8_000, Deposits: 5_667_000, Withdrawals: 7_024_000, Rewards: 500_000}
	if g != want || g.Total() != 14_199_000 || c.SystemGasBudget() != 15_000_000 {
		t.Fatalf("worst case %+v (total %d), budget %d; want %+v", g, g.Total(), c.SystemGasBudget(), want)
	}
	noTunnel := DevnetConfig(SystemAddress)
	if g := noTunnel.SystemGas(); g.Total() != 1_500_000 {
		t.Fatalf("without a tunnel: %+v", g)
	}

	tests := []struct {
		name  string
		mut   func(*Config)
		field string
		want  string
	}{
		{name: "27 deposits fit", mut: func(c *Config) { c.Tunnel.MaxDepositsPerBlock = 27 }},
		{name: "28 deposits do not", mut: func(c *Config) { c.Tunnel.MaxDepositsPerBlock = 28 },
			field: "tunnel.max_deposits_per_block", want: "at most 27 deposits per block fit"},
		{name: "64 deposits (the old default)", mut: func(c *Config) { c.Tunnel.MaxDepositsPerBlock = 64 },
			field: "tunnel.max_deposits_per_block", want: "could ask for 23599000 gas"},
		{name: "a larger gas limit fits more", mut: func(c *Config) { c.Tunnel.MaxDepositsPerBlock, c.GasLimit = 64, 47_198_000 }},
		{name: "just under it does not", mut: func(c *Config) { c.Tunnel.MaxDepositsPerBlock, c.GasLimit = 64, 47_197_999 },
			field: "tunnel.max_deposits_per_block", want: "raise gas_limit to 47198000"},
		{name: "fewer rewards leave room for more deposits", mut: func(c *Config) { c.Tunnel.MaxDepositsPerBlock, c.PoP.RewardDelay = 29, 0 }},
		{name: "a gas limit too small for one deposit", mut: func(c *Config) { c.GasLimit = 16_000_000 },
			field: "gas_limit", want: "even with one deposit per block"},
		{name: "rewards without a tunnel", mut: func(c *Config) { c.Tunnel, c.PoP.MaxRewarded = nil, 281 },
			field: "pop.max_rewarded", want: "at most 280 rewards per keystone fit"},
		{name: "280 rewards without a tunnel", mut: func(c *Config) { c.Tunnel, c.PoP.MaxRewarded = nil, 280 }},
		{name: "view update alone", mut: func(c *Config) { c.Tunnel, c.PoP.RewardDelay, c.GasLimit = nil, 0, 1_999_999 },
			field: "gas_limit", want: "raise it to at least 2000000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dev()
			tc.mut(&c)
			err := c.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				if g := c.SystemGas(); g.Total() > c.SystemGasBudget() {
					t.Fatalf("accepted %d above the budget %d", g.Total(), c.SystemGasBudget())
				}
				return
			}
			var fe *FieldError
			if !errors.Is(err, ErrConfig) || !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a *FieldError of ErrConfig on %s saying %q", err, tc.field, tc.want)
			}
			if !strings.Contains(err.Error(), "half the gas limit") {
				t.Fatalf("%v does not say the budget", err)
			}
		})
	}
}
