package p2p

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/prometheus/client_golang/prometheus"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	regtest := &chaincfg.RegressionNetParams
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // substring; empty means valid
		check   func(t *testing.T, c Config)
	}{
		{name: "missing params", cfg: Config{Peers: []string{"127.0.0.1:1"}}, wantErr: "Params is required"},
		{name: "no peers", cfg: Config{Params: regtest}, wantErr: "at least one peer"},
		{name: "blank peers only", cfg: Config{Params: regtest, Peers: []string{" ", ""}}, wantErr: "at least one peer"},
		{name: "peer without port", cfg: Config{Params: regtest, Peers: []string{"localhost"}}, wantErr: "not host:port"},
		{name: "bad user agent", cfg: Config{Params: regtest, Peers: []string{"a:1"}, UserAgentName: "a/b"}, wantErr: "user agent"},
		{name: "negative window", cfg: Config{Params: regtest, Peers: []string{"a:1"}, BlocksInFlightPerPeer: -1}, wantErr: "BlocksInFlightPerPeer"},
		{name: "negative timeout", cfg: Config{Params: regtest, Peers: []string{"a:1"}, StallTimeout: -time.Second}, wantErr: "StallTimeout"},
		{
			name: "defaults and dedup",
			cfg:  Config{Params: regtest, Peers: []string{"a:1", " a:1", "b:2"}},
			check: func(t *testing.T, c Config) {
				if len(c.Peers) != 2 || c.MaxPeers != DefaultMaxPeers || c.BanDuration != DefaultBanDuration ||
					c.BlocksInFlightPerPeer != DefaultBlocksInFlightPerPeer || c.Workers < 2 || c.Logger == nil ||
					c.UserAgentName != DefaultUserAgentName || c.ReconnectMax != DefaultReconnectMax {
					t.Errorf("defaults not applied: %+v", c)
				}
			},
		},
		{
			name: "reconnect max raised to min",
			cfg:  Config{Params: regtest, Peers: []string{"a:1"}, ReconnectMin: time.Minute, ReconnectMax: time.Second},
			check: func(t *testing.T, c Config) {
				if c.ReconnectMax != time.Minute {
					t.Errorf("ReconnectMax = %s", c.ReconnectMax)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.withDefaults()
			if tt.wantErr != "" {
				if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want ErrConfig containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, got)
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	regtest := &chaincfg.RegressionNetParams
	if _, err := New(Config{Params: regtest, Peers: []string{"a:1"}}, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("nil chain: %v", err)
	}
	reg := prometheus.NewRegistry()
	cfg := Config{Params: regtest, Peers: []string{"a:1"}, Registerer: reg}
	if _, err := New(cfg, newFakeChain(regtest)); err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg, newFakeChain(regtest)); !errors.Is(err, ErrConfig) {
		t.Errorf("second client on one registerer: %v, want ErrConfig", err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{"hemi_btc_p2p_peers", "hemi_btc_p2p_received_bytes_total", "hemi_btc_p2p_blocks_received_total",
		"hemi_btc_p2p_headers_received_total", "hemi_btc_p2p_blocks_in_flight"} {
		if !names[n] {
			t.Errorf("metric %s not registered", n)
		}
	}
}
