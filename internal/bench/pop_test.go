package bench

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRunPoP runs a short benchmark and checks the last line and the
// per-keystone measurements (no timing is asserted).
func TestRunPoP(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a whole devnet")
	}
	const keystones, depth = 3, 2
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := RunPoP(ctx, PoPConfig{Keystones: keystones, KeystoneInterval: 2, SuperfinalDepth: depth, WorkDir: t.TempDir()}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	m := regexp.MustCompile(`^pop vsize_vb=([0-9.]+) fee_sat=([0-9.]+) broadcast_ms=(-?[0-9.]+) superfinal_btc_blocks=([0-9.]+)$`).FindStringSubmatch(last)
	if m == nil {
		t.Fatalf("last line %q", last)
	}
	vsize, _ := strconv.ParseFloat(m[1], 64)
	fee, _ := strconv.ParseFloat(m[2], 64)
	blocks, _ := strconv.ParseFloat(m[4], 64)
	if vsize <= 0 || vsize > popVSizeTarget || fee <= 0 || blocks < depth || vsize != res.VSize || blocks != res.SuperfinalBlocks {
		t.Fatalf("last line %q, result %+v", last, res)
	}
	if len(res.Keystones) != keystones {
		t.Fatalf("%d keystones measured, want %d", len(res.Keystones), keystones)
	}
	for i, k := range res.Keystones {
		if k.Number != res.Keystones[0].Number+uint64(i)*2 || k.PublishedAt == 0 || k.Superfinal < depth || k.Fee <= 0 {
			t.Fatalf("keystone %d: %+v", i, k)
		}
	}
}

func TestPoPConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  PoPConfig
	}{
		{name: "negative keystones", cfg: PoPConfig{Keystones: -1}},
		{name: "negative block time", cfg: PoPConfig{BlockTime: -time.Second}},
		{name: "negative event wait", cfg: PoPConfig{EventWait: -time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if _, err := RunPoP(context.Background(), tc.cfg, &out); err == nil {
				t.Fatal("no error")
			}
			if out.Len() != 0 {
				t.Fatalf("printed %q before refusing the config", out.String())
			}
		})
	}
}

func TestMedianOf(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{name: "none", want: 0},
		{name: "one", in: []float64{7}, want: 7},
		{name: "odd, unsorted", in: []float64{9, 1, 5}, want: 5},
		{name: "even: mean of the middle two", in: []float64{4, 1, 2, 3}, want: 2.5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := medianOf(tc.in); got != tc.want {
				t.Fatalf("medianOf(%v) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestPoPPercentile(t *testing.T) {
	res := PoPResult{}
	for _, d := range []time.Duration{40, 10, 30, 20, 50} {
		res.Keystones = append(res.Keystones, PoPKeystone{Broadcast: d * time.Millisecond})
	}
	tests := []struct {
		name string
		p    float64
		want float64
	}{
		{name: "p50", p: 0.5, want: 30},
		{name: "p90", p: 0.9, want: 50},
		{name: "max", p: 1, want: 50},
		{name: "min", p: 0, want: 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := res.percentileMS(tc.p); got != tc.want {
				t.Fatalf("percentileMS(%v) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
	if got := (PoPResult{}).percentileMS(0.5); got != 0 {
		t.Fatalf("no keystones: %v", got)
	}
}
