package main

import (
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"
)

func TestParseWithdrawBTC(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint64
		err  bool
	}{
		{"0.5", 50_000_000, false},
		{"1", 100_000_000, false},
		{"40.00000001", 4_000_000_001, false},
		{".1", 10_000_000, false},
		{"0.00000001", 1, false},
		{"21000000", 2_100_000_000_000_000, false},
		{"21000000.00000001", 0, true},
		{"0.000000001", 0, true}, // 9 decimals
		{"0", 0, true},
		{"-1", 0, true},
		{"1e3", 0, true},
		{"", 0, true},
		{"abc", 0, true},
		{"1.2.3", 0, true},
	} {
		got, err := parseWithdrawBTC(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("parseWithdrawBTC(%q) = %d, %v; want %d, error %v", c.in, got, err, c.want, c.err)
		}
	}
}

func TestWithdrawRequest(t *testing.T) {
	reg := &chaincfg.RegressionNetParams
	const (
		p2wpkh = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
		p2tr   = "bcrt1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqc8gma6"
	)
	r, err := withdrawRequest("0.5", p2wpkh, 20_000, reg)
	if err != nil {
		t.Fatal(err)
	}
	if r.amountSat != 50_000_000 || r.maxFee != 20_000 || len(r.script) != 22 || r.script[0] != 0x00 {
		t.Fatalf("request %+v", r)
	}
	if r, err := withdrawRequest("0.001", p2tr, 1000, reg); err != nil || len(r.script) != 34 || r.script[0] != 0x51 {
		t.Fatalf("p2tr: %+v %v", r, err)
	}
	for _, c := range []struct{ name, amount, to, want string }{
		{"mainnet address on regtest", "0.5", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "not a regtest Bitcoin address"},
		{"garbage address", "0.5", "nope", "not a regtest"},
		{"at the dust limit", "0.00020294", p2wpkh, "dust limit (294 sat)"},
		{"max fee over amount", "0.0001", p2wpkh, "dust limit"},
		{"bad amount", "0,5", p2wpkh, "amount"},
	} {
		_, err := withdrawRequest(c.amount, c.to, 20_000, reg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to say %q", c.name, err, c.want)
		}
	}
	// Just above the dust limit passes.
	if _, err := withdrawRequest("0.00020295", p2wpkh, 20_000, reg); err != nil {
		t.Fatalf("one sat above dust + max fee: %v", err)
	}
}

func TestWithdrawKeyNeverFromAFlag(t *testing.T) {
	for _, f := range withdrawCommand().Flags {
		for _, n := range f.Names() {
			if n == "key" || n == "private-key" || n == "l2-key" {
				t.Fatalf("withdraw has a --%s flag: keys come from a file or %s only", n, withdrawKeyEnv)
			}
		}
	}
	t.Setenv(withdrawKeyEnv, "")
	if _, err := loadWithdrawKey("", ""); err == nil || !strings.Contains(err.Error(), withdrawKeyEnv) {
		t.Fatalf("no key: %v", err)
	}
	t.Setenv(withdrawKeyEnv, "0x"+strings.Repeat("11", 32))
	if k, err := loadWithdrawKey("", ""); err != nil || k == nil {
		t.Fatalf("key from the environment: %v", err)
	}
	t.Setenv(withdrawKeyEnv, "not a key")
	if _, err := loadWithdrawKey("", ""); err == nil || strings.Contains(err.Error(), "not a key") {
		t.Fatalf("a bad key's error must not echo the secret: %v", err)
	}
}
