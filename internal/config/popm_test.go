package config

import (
	"errors"
	"strings"
	"testing"
)

func TestValidatePoPM(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(p *PoPM)
		want   string
	}{
		{"defaults", func(*PoPM) {}, ""},
		{"p2tr", func(p *PoPM) { p.Wallet = "P2TR" }, ""},
		{"unknown wallet", func(p *PoPM) { p.Wallet = "p2pkh" }, "popm.wallet"},
		{"http url", func(p *PoPM) { p.L2URL = "http://127.0.0.1:8545" }, "popm.l2_url"},
		{"fee target 0", func(p *PoPM) { p.FeeTarget = 0 }, "popm.fee_target"},
		{"fee target too far", func(p *PoPM) { p.FeeTarget = 2000 }, "popm.fee_target"},
		{"no fee cap", func(p *PoPM) { p.MaxFeeRate = 0 }, "popm.max_fee_rate"},
		{"bump never", func(p *PoPM) { p.BumpBlocks = 0 }, "popm.bump_blocks"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mutate(&c.PoPM)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %s", err, tc.want)
			}
		})
	}
}
