package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/hemi-go/hemi/internal/config"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hemi.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDevnetRefusesL2GenesisKeys: `hemi devnet` does not silently ignore
// the [l2] keys that anchor a configured network's genesis (it anchors
// its own): it refuses to start and names them.
func TestDevnetRefusesL2GenesisKeys(t *testing.T) {
	for _, key := range []string{"genesis_btc_height = 5", "genesis_time = 1700000000",
		`sequencers = ["0x70997970C51812dc3A010C7d01b50e0d17dc79C8"]`} {
		t.Run(key, func(t *testing.T) {
			cfg := writeConfig(t, "[l2]\n"+key+"\n")
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			app := newApp()
			app.Writer, app.ErrWriter = io.Discard, io.Discard
			err := app.Run(ctx, []string{"hemi", "--config", cfg, "--datadir", t.TempDir(), "--log-level", "error",
				"devnet", "--p2p", "127.0.0.1:0", "--api", "", "--rpc", ""})
			name := "l2." + strings.SplitN(key, " ", 2)[0]
			if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "hemi node") {
				t.Fatalf("hemi devnet with %s: %v, want an error naming it", name, err)
			}
		})
	}
}

// TestDevnetConfigHonoursL2PoP: the [l2] PoP keys the file sets reach the
// devnet's genesis; unset, the devnet keeps its own defaults (0 here);
// rewards off is refused.
func TestDevnetConfigHonoursL2PoP(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	load := func(body string) (config.Config, []string) {
		t.Helper()
		cfg, set, err := config.LoadKeys(writeConfig(t, body))
		if err != nil {
			t.Fatal(err)
		}
		return cfg, set
	}
	cfg, set := load("[l2]\nkeystone_interval = 5\nsuperfinal_depth = 4\npop_reward_delay = 9\n")
	d, err := devnetConfig(cfg, set, log)
	if err != nil {
		t.Fatal(err)
	}
	if d.KeystoneInterval != 5 || d.SuperfinalDepth != 4 || d.RewardDelay != 9 {
		t.Fatalf("devnet PoP %d/%d/%d, want the file's 5/4/9", d.KeystoneInterval, d.SuperfinalDepth, d.RewardDelay)
	}
	cfg, set = load("[log]\nlevel = \"warn\"\n")
	if d, err = devnetConfig(cfg, set, log); err != nil || d.KeystoneInterval != 0 || d.SuperfinalDepth != 0 || d.RewardDelay != 0 {
		t.Fatalf("devnet PoP %d/%d/%d (%v) without [l2], want the devnet's defaults (0)", d.KeystoneInterval, d.SuperfinalDepth, d.RewardDelay, err)
	}
	cfg, set = load("[l2]\npop_reward_delay = 0\n")
	if _, err := devnetConfig(cfg, set, log); err == nil || !strings.Contains(err.Error(), "l2.pop_reward_delay") {
		t.Fatalf("rewards off: %v, want an error naming l2.pop_reward_delay", err)
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
