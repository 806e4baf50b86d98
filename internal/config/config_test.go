package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// TestSampleMatchesDefaults keeps config.sample.toml and Default in step.
func TestSampleMatchesDefaults(t *testing.T) {
	got, err := Load(filepath.Join(repoRoot(t), "config.sample.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := Default(); !reflect.DeepEqual(got, want) {
		t.Fatalf("config.sample.toml differs from Default():\n got  %+v\n want %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{name: "override", body: "[btc]\nnetwork = \"regtest\"\npeers = [\"127.0.0.1:18444\"]\nprogress = \"2s\"\n",
			check: func(t *testing.T, c Config) {
				if c.BTC.Network != "regtest" || len(c.BTC.Peers) != 1 || c.BTC.Progress.Duration != 2*time.Second {
					t.Fatalf("not applied: %+v", c.BTC)
				}
				if c.BTC.MaxPeers != 8 {
					t.Fatalf("default lost: max_peers %d", c.BTC.MaxPeers)
				}
			}},
		{name: "unknown key", body: "[btc]\nnetwrk = \"regtest\"\n", wantErr: "unknown keys btc.netwrk"},
		{name: "bad duration", body: "[btc]\nprogress = \"soon\"\n", wantErr: "duration \"soon\""},
		{name: "not toml", body: "[btc\n", wantErr: "read"},
		{name: "unknown section", body: "[l3]\nfoo = 1\n", wantErr: "unknown keys l3.foo"},
		{name: "genesis path", body: "genesis = \"/etc/hemi/genesis.json\"\n", check: func(t *testing.T, c Config) {
			if c.Genesis != "/etc/hemi/genesis.json" {
				t.Fatalf("genesis %q", c.Genesis)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.toml")
			if err := os.WriteFile(p, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(p)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(c *Config)
		wantErr string
	}{
		{name: "defaults", mutate: func(*Config) {}},
		{name: "network", mutate: func(c *Config) { c.BTC.Network = "moonnet" }, wantErr: "unknown bitcoin network"},
		{name: "peer", mutate: func(c *Config) { c.BTC.Peers = []string{"nohostport"} }, wantErr: "want host:port"},
		{name: "level", mutate: func(c *Config) { c.Log.Level = "loud" }, wantErr: "log.level"},
		{name: "format", mutate: func(c *Config) { c.Log.Format = "xml" }, wantErr: "log.format"},
		{name: "max peers", mutate: func(c *Config) { c.BTC.MaxPeers = 0 }, wantErr: "max_peers"},
		{name: "datadir", mutate: func(c *Config) { c.DataDir = "" }, wantErr: "datadir"},
		{name: "txpool slots", mutate: func(c *Config) { c.TxPool.GlobalSlots = 0 }, wantErr: "txpool slots"},
		{name: "p2p handshake timeout", mutate: func(c *Config) { c.Devnet.P2PHandshakeTimeout.Duration = 0 }, wantErr: "devnet.p2p_handshake_timeout"},
		{name: "rpc api", mutate: func(c *Config) { c.RPC.APIs = []string{"eth", "admin"} }, wantErr: `rpc.apis entry "admin"`},
		{name: "rpc timeout", mutate: func(c *Config) { c.RPC.RequestTimeout.Duration = 0 }, wantErr: "rpc.request_timeout"},
		{name: "rpc filters", mutate: func(c *Config) { c.RPC.FiltersPerClient = 0 }, wantErr: "rpc.filters_per_client"},
		{name: "rpc sequencer urls", mutate: func(c *Config) { c.RPC.SequencerURLs = []string{"https://rpc.example:8545", "ws://127.0.0.1:8546"} },
			wantErr: `rpc.sequencer_urls entry "ws://127.0.0.1:8546"`},
		{name: "rpc sequencer urls ok", mutate: func(c *Config) { c.RPC.SequencerURLs = []string{"http://127.0.0.1:8545", "https://rpc.example"} }},
		{name: "ha peer", mutate: func(c *Config) { c.HA.Peers = []string{"127.0.0.1:7350"} }, wantErr: "ha.peers"},
		{name: "ha listen", mutate: func(c *Config) { c.HA.Listen = "7350" }, wantErr: "ha.listen"},
		{name: "ha lease", mutate: func(c *Config) { c.HA.LeaderLease.Duration = time.Second }, wantErr: "ha.leader_lease"},
		{name: "ha bitcoin lag", mutate: func(c *Config) { c.HA.MaxBitcoinLag = 0 }, wantErr: "ha.max_bitcoin_lag"},
		{name: "net listen", mutate: func(c *Config) { c.Net.Listen = []string{"0.0.0.0:7350"} }, wantErr: "net.listen"},
		{name: "net listen quic", mutate: func(c *Config) { c.Net.Listen = []string{"/ip4/0.0.0.0/udp/7350/quic-v1"} }, wantErr: "TCP only"},
		{name: "net peer without id", mutate: func(c *Config) { c.Net.Peers = []string{"/ip4/10.0.0.2/tcp/7350"} }, wantErr: "net.peers"},
		{name: "net max peers", mutate: func(c *Config) { c.Net.MaxPeers = 0 }, wantErr: "net.max_peers"},
		{name: "two at once", mutate: func(c *Config) { c.DataDir = ""; c.BTC.MaxPeers = 0 }, wantErr: "max_peers"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mutate(&c)
			err := c.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestLoadKeysAndUnused: LoadKeys lists the keys the file sets (not the
// table headers), and Unused keeps those no section or key covers.
func TestLoadKeysAndUnused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.toml")
	body := "datadir = \"/tmp/x\"\n[btc]\nnetwork = \"regtest\"\napi = \"127.0.0.1:1\"\n[rpc]\nlisten = \"\"\nvhosts = [\"*\"]\n[popm]\nwallet = \"p2tr\"\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	_, set, err := LoadKeys(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"datadir", "btc.network", "btc.api", "rpc.listen", "rpc.vhosts", "popm.wallet"}
	if !reflect.DeepEqual(set, want) {
		t.Fatalf("set keys %v, want %v", set, want)
	}
	for _, tc := range []struct {
		name string
		used []string
		want []string
	}{
		{"all used", []string{"datadir", "btc", "rpc", "popm"}, nil},
		{"sections and keys", []string{"datadir", "btc.api", "rpc.vhosts"}, []string{"btc.network", "rpc.listen", "popm.wallet"}},
		{"a prefix is not a section", []string{"datadir", "bt", "rpc.list", "popm"}, []string{"btc.network", "btc.api", "rpc.listen", "rpc.vhosts"}},
		{"nothing used", nil, want},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Unused(set, tc.used...); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Unused %v, want %v", got, tc.want)
			}
		})
	}
	if _, set, err := LoadKeys(""); err != nil || set != nil {
		t.Fatalf("no file: keys %v, %v", set, err)
	}
}

// TestMovedToGenesis: each key the genesis file replaced is an error
// naming the genesis field that holds it now, also beside other keys
// of its section, and not reported as merely unknown.
func TestMovedToGenesis(t *testing.T) {
	for key, field := range MovedToGenesis {
		t.Run(key, func(t *testing.T) {
			section, name, _ := strings.Cut(key, ".")
			body := "[" + section + "]\n" + name + " = 1\n"
			if section == "sequencer" {
				body = "[sequencer]\nkey_file = \"k\"\nblock_time = \"2s\"\n"
			}
			p := filepath.Join(t.TempDir(), "c.toml")
			if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(p)
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), key+" is the genesis file's "+field) ||
				strings.Contains(err.Error(), "unknown keys") || !strings.Contains(err.Error(), "--genesis") {
				t.Fatalf("%s: %v", key, err)
			}
		})
	}
}
