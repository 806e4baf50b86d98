package bench

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// netLineKeys are the fields of RunNet's last line, in order (issue 10).
var netLineKeys = []string{"propagation_p50_ms", "propagation_p99_ms", "sync_blocks_s", "sync_ratio", "failover_p50_ms",
	"failover_max_ms", "reorged", "equivocations", "rss_mb", "restart_ratio"}

// parseNetLine reads RunNet's last line into its figures, checking the
// fields and their order.
func parseNetLine(t *testing.T, line string) map[string]float64 {
	t.Helper()
	f := strings.Fields(line)
	if len(f) != len(netLineKeys)+1 || f[0] != "net" {
		t.Fatalf("last line %q: want net and %d fields", line, len(netLineKeys))
	}
	out := map[string]float64{}
	for i, kv := range f[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k != netLineKeys[i] {
			t.Fatalf("last line %q: field %d is %q, want %s=", line, i+1, kv, netLineKeys[i])
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("last line %q: %s: %v", line, k, err)
		}
		out[k] = x
	}
	return out
}

// TestRunNetTiny runs `hemi bench net` small (3 sequencers, 2
// followers, 5 s of load, 2 kills, a 30-block sync, tiny restart
// nodes): the last line parses and its figures are sane. No timing is
// asserted.
func TestRunNetTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("runs node processes")
	}
	bin := filepath.Join(t.TempDir(), "hemi")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/hemi-go/hemi/cmd/hemi").CombinedOutput(); err != nil {
		t.Fatalf("build hemi: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var out bytes.Buffer
	res, err := RunNet(ctx, NetConfig{Bin: bin, Sequencers: 3, Followers: 2, TxsPerBlock: 20, Steady: 5 * time.Second, Kills: 2,
		Sync:         NetSyncConfig{Blocks: 30, PerBlock: 5},
		RestartSizes: []RestartSize{{L2: 20, BTC: 6}, {L2: 40, BTC: 8}},
		CacheDir:     t.TempDir(), WorkDir: t.TempDir()}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log(out.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	if last != res.ResultLine() {
		t.Fatalf("last line %q, want the result line %q", last, res.ResultLine())
	}
	v := parseNetLine(t, last)
	for _, k := range []string{"propagation_p50_ms", "sync_blocks_s", "sync_ratio", "failover_p50_ms", "rss_mb", "restart_ratio"} {
		if v[k] <= 0 {
			t.Errorf("%s = %v, want > 0", k, v[k])
		}
	}
	if v["propagation_p99_ms"] < v["propagation_p50_ms"] || v["failover_max_ms"] < v["failover_p50_ms"] {
		t.Errorf("p99/max below p50: %v", v)
	}
	// Two kills, each measured; 5 s of load at 1 s blocks is at least a
	// few blocks for each of the 2 followers; the network never forks.
	if len(res.Failovers) != 2 || res.PropagationPairs < 2*3 || res.Missing != 0 {
		t.Errorf("failovers %v, propagation pairs %d (missing %d)", res.Failovers, res.PropagationPairs, res.Missing)
	}
	if v["reorged"] != 0 || v["equivocations"] != 0 {
		t.Errorf("reorged %v, equivocations %v: want 0", v["reorged"], v["equivocations"])
	}
	// A figure this far out means a unit is wrong (ms vs s, KB vs MB).
	if v["propagation_p99_ms"] > 60_000 || v["failover_max_ms"] > 60_000 || v["rss_mb"] > 64_000 {
		t.Errorf("figures out of range: %v", v)
	}
	_ = os.Remove(bin)
}

// TestNetLoadQuota: a second's sends carry the block's transfers split
// as evenly as whole numbers allow, every second alike.
func TestNetLoadQuota(t *testing.T) {
	for _, tc := range []struct{ perBlock, sends int }{{100, 10}, {100, 1}, {100, 7}, {5, 10}, {1, 3}} {
		l := &netLoad{perBlock: tc.perBlock, sends: tc.sends}
		for sec := range 3 {
			sum, lo, hi := 0, tc.perBlock, 0
			for k := sec * tc.sends; k < (sec+1)*tc.sends; k++ {
				q := l.quota(k)
				sum, lo, hi = sum+q, min(lo, q), max(hi, q)
			}
			if sum != tc.perBlock || hi-lo > 1 {
				t.Errorf("%d transfers in %d sends, second %d: %d sent, sends of %d to %d", tc.perBlock, tc.sends, sec, sum, lo, hi)
			}
		}
	}
}
