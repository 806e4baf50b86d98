package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/urfave/cli/v3"

	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/config"
	"github.com/hemi-go/hemi/internal/sequencer"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hemi.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// runApp runs hemi with args (after the global --datadir and
// --log-level) and returns its error; every test command here fails
// before it starts a service, so a short deadline only guards a hang.
func runApp(t *testing.T, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	app := newApp()
	app.Writer, app.ErrWriter = io.Discard, io.Discard
	return app.Run(ctx, append([]string{"hemi", "--datadir", t.TempDir(), "--log-level", "error"}, args...))
}

// TestConfigKeysMovedToGenesis: the [l2] keys and sequencer.block_time
// that the genesis file defines now are refused, by `hemi node` and
// `hemi devnet` alike, with the genesis field that replaced each.
func TestConfigKeysMovedToGenesis(t *testing.T) {
	cases := []struct{ body, field string }{
		{"[l2]\nsuperfinal_depth = 3\n", "pop.superfinal_depth"},
		{"[l2]\ngenesis_btc_height = 5\n", "bitcoin.genesis_height"},
		{"[l2]\nsequencers = [\"0x70997970C51812dc3A010C7d01b50e0d17dc79C8\"]\n", "sequencers"},
		{"[sequencer]\nblock_time = \"2s\"\n", "the genesis file's block_time"},
	}
	for _, c := range cases {
		for _, command := range [][]string{{"node", "--network", "regtest"}, {"devnet", "--p2p", "127.0.0.1:0", "--api", "", "--rpc", ""}} {
			t.Run(command[0]+" "+c.field, func(t *testing.T) {
				err := runApp(t, append([]string{"--config", writeConfig(t, c.body)}, command...)...)
				if err == nil || !strings.Contains(err.Error(), c.field) || !strings.Contains(err.Error(), "genesis") {
					t.Fatalf("%v, want an error naming %s", err, c.field)
				}
			})
		}
	}
}

// TestDevnetRefusesGenesisKey: the devnet writes its own genesis file, so
// a config naming one is refused rather than ignored.
func TestDevnetRefusesGenesisKey(t *testing.T) {
	err := runApp(t, "--config", writeConfig(t, "genesis = \"/tmp/genesis.json\"\n"), "devnet", "--p2p", "127.0.0.1:0", "--api", "", "--rpc", "")
	if err == nil || !strings.Contains(err.Error(), "genesis") || !strings.Contains(err.Error(), "hemi node") {
		t.Fatalf("%v, want the genesis key refused", err)
	}
}

// writeGenesisFile writes a valid regtest genesis file sealed by the
// public devnet sequencer key.
func writeGenesisFile(t *testing.T) string {
	t.Helper()
	p := &chaincfg.RegressionNetParams
	f, _, err := genesis.DevnetFile(crypto.PubkeyToAddress(sequencer.DevKey().PublicKey),
		genesis.BitcoinBlock{Height: 0, Hash: *p.GenesisHash}, 1_700_000_000)
	if err != nil {
		t.Fatal(err)
	}
	data, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "genesis.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestNodeGenesisChecks: `hemi node` refuses to start without a genesis
// file, with one that does not validate (naming the field), on another
// Bitcoin network than the genesis's, or with a sealing key outside the
// genesis's sequencer set; the flag and the config key both name the file.
func TestNodeGenesisChecks(t *testing.T) {
	good := writeGenesisFile(t)
	if err := runApp(t, "node", "--network", "regtest", "--rpc", "", "--api", ""); err == nil || !strings.Contains(err.Error(), "--genesis") {
		t.Fatalf("no genesis: %v", err)
	}
	err := runApp(t, "node", "--genesis", good, "--network", "testnet4", "--rpc", "", "--api", "")
	if err == nil || !strings.Contains(err.Error(), "btc.network is testnet4") || !strings.Contains(err.Error(), "bitcoin.network") ||
		!strings.Contains(err.Error(), "regtest") {
		t.Fatalf("network mismatch: %v, want a refusal naming both networks", err)
	}
	err = runApp(t, "--config", writeConfig(t, "genesis = \""+good+"\"\n[btc]\nnetwork = \"mainnet\"\n"), "node", "--rpc", "", "--api", "")
	if err == nil || !strings.Contains(err.Error(), "btc.network is mainnet") {
		t.Fatalf("network mismatch, genesis from the config file: %v", err)
	}
	t.Setenv("HEMI_GENESIS", good)
	if err := runApp(t, "node", "--network", "signet", "--rpc", "", "--api", ""); err == nil || !strings.Contains(err.Error(), "btc.network is signet") {
		t.Fatalf("network mismatch, genesis from HEMI_GENESIS: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	data, _ := os.ReadFile(good)
	if err := os.WriteFile(bad, []byte(strings.Replace(string(data), `"superfinal_depth": 6`, `"superfinal_depth": 0`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	err = runApp(t, "node", "--genesis", bad, "--network", "regtest", "--rpc", "", "--api", "")
	if err == nil || !strings.Contains(err.Error(), bad+": pop.superfinal_depth: must be >= 1") {
		t.Fatalf("invalid genesis: %v", err)
	}

	cfg := config.Default()
	cfg.Genesis, cfg.BTC.Network = good, "regtest"
	other, _ := crypto.GenerateKey()
	if _, err := loadGenesis(cfg, other); err == nil || !strings.Contains(err.Error(), "not one of the genesis file's sequencers") {
		t.Fatalf("foreign sealing key: %v", err)
	}
	if f, err := loadGenesis(cfg, sequencer.DevKey()); err != nil || f.Config.BitcoinNetwork != "regtest" {
		t.Fatalf("the genesis's sequencer key: %v", err)
	}
}

// TestNodeNetFlags: the [net] flags reach the config and are validated
// there: a static peer without its /p2p/ id and a non-TCP listen address
// are errors naming the key; --net-listen "" is no listener at all.
func TestNodeNetFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--net-peer", "/ip4/10.0.0.2/tcp/7350"}, "net.peers"},
		{[]string{"--net-listen", "/ip4/0.0.0.0/udp/7350/quic-v1"}, "net.listen"},
		{[]string{"--net-max-peers", "0"}, "net.max_peers"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		app := newApp()
		app.Writer, app.ErrWriter = io.Discard, io.Discard
		err := app.Run(ctx, append([]string{"hemi", "--datadir", t.TempDir(), "--log-level", "error", "node", "--network", "regtest"}, c.args...))
		cancel()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error naming %s", c.args, err, c.want)
		}
	}
	var got config.Config
	cmd := newApp()
	cmd.Commands = nil
	cmd.Flags = append(cmd.Flags, netFlags()...)
	cmd.Action = func(ctx context.Context, cmd *cli.Command) error {
		cfg, _, err := loadConfig(cmd, keyUse{uses: []string{"net"}})
		got = cfg
		return err
	}
	if err := cmd.Run(context.Background(), []string{"hemi", "--net-listen", "", "--net-peer",
		"/ip4/10.0.0.2/tcp/7350/p2p/12D3KooWGzBa3SdyQ4VTTy5xMqsNDPFyaCqBHYYxEWjsJdTn3TSE", "--net-max-peers", "5"}); err != nil {
		t.Fatal(err)
	}
	if len(got.Net.Listen) != 0 || len(got.Net.Peers) != 1 || got.Net.MaxPeers != 5 {
		t.Fatalf("[net] %+v: want no listener, one peer, 5 peers at most", got.Net)
	}
}

// TestSignerRPCIsTheNodeURL: `hemi signer --rpc URL` names the node the
// signer talks to; it is not rpc.listen, whose validation once refused
// every URL (a host:port is wanted there), so no signer process started.
func TestSignerRPCIsTheNodeURL(t *testing.T) {
	var got config.Config
	cmd := newApp()
	cmd.Commands = nil
	cmd.Flags = append(cmd.Flags, signerFlags()...)
	cmd.Action = func(ctx context.Context, cmd *cli.Command) error {
		cfg, _, err := loadConfig(cmd, signerKeys)
		got = cfg
		return err
	}
	if err := cmd.Run(context.Background(), []string{"hemi", "--log-level", "error", "--rpc", "http://127.0.0.1:8545"}); err != nil {
		t.Fatalf("hemi signer --rpc http://127.0.0.1:8545: %v", err)
	}
	if def := config.Default(); got.RPC.Listen != def.RPC.Listen {
		t.Fatalf("rpc.listen = %q after a signer's --rpc URL, want the default %q", got.RPC.Listen, def.RPC.Listen)
	}
}

// TestSequencerURLFlag: --sequencer-url (repeated) and
// HEMI_RPC_SEQUENCER_URLS reach rpc.sequencer_urls, validated there.
func TestSequencerURLFlag(t *testing.T) {
	load := func(args ...string) (config.Config, error) {
		var got config.Config
		cmd := newApp()
		cmd.Commands = nil
		cmd.Flags = append(cmd.Flags, sequencerURLFlag())
		cmd.Action = func(ctx context.Context, cmd *cli.Command) error {
			cfg, _, err := loadConfig(cmd, keyUse{uses: []string{"rpc"}})
			got = cfg
			return err
		}
		err := cmd.Run(context.Background(), append([]string{"hemi", "--log-level", "error"}, args...))
		return got, err
	}
	got, err := load("--sequencer-url", "http://10.0.0.1:8545", "--sequencer-url", "https://rpc.example")
	if err != nil || !slices.Equal(got.RPC.SequencerURLs, []string{"http://10.0.0.1:8545", "https://rpc.example"}) {
		t.Fatalf("rpc.sequencer_urls %q, %v", got.RPC.SequencerURLs, err)
	}
	t.Setenv("HEMI_RPC_SEQUENCER_URLS", "http://10.0.0.2:8545")
	if got, err := load(); err != nil || !slices.Equal(got.RPC.SequencerURLs, []string{"http://10.0.0.2:8545"}) {
		t.Fatalf("from the environment: %q, %v", got.RPC.SequencerURLs, err)
	}
	if _, err := load("--sequencer-url", "10.0.0.1:8545"); err == nil || !strings.Contains(err.Error(), "rpc.sequencer_urls") {
		t.Fatalf("a URL without scheme: %v, want an error naming rpc.sequencer_urls", err)
	}
}
