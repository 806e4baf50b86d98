package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

var scaleLine = regexp.MustCompile(`^btc-index-scale txs=([0-9]+) tx_s=[0-9]+ base_txs=([0-9]+) base_tx_s=[0-9]+ tx_s_ratio=[0-9]+\.[0-9]{2} rss_mb=[0-9]+ base_rss_mb=[0-9]+ bytes_per_tx=[0-9]+ base_bytes_per_tx=[0-9]+$`)

// TestBTCIndexScaleSmall runs the scale comparison on two small chains
// (our node only, no btcd) and checks correctness only: both chains are
// synced to their tip and measured, the larger has the scaled height, and
// the last line parses. It asserts no timing.
func TestBTCIndexScaleSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two nodes; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	blocks, txs, large := int32(150), 3_000, 6_000
	var out bytes.Buffer
	res, err := RunBTCIndexScale(ctx, BTCIndexConfig{
		Blocks:      blocks,
		Txs:         txs,
		Seed:        "scale",
		CacheDir:    t.TempDir(),
		WorkDir:     t.TempDir(),
		OursCommand: []string{os.Args[0]},
		BTCDBinary:  "/nonexistent/btcd", // never started
		Verify:      true,
	}, large, &out)
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	if res.Base.Height != blocks || res.Large.Height != 2*blocks {
		t.Fatalf("heights %d and %d, want %d and %d", res.Base.Height, res.Large.Height, blocks, 2*blocks)
	}
	for _, sz := range []BTCIndexSize{res.Base, res.Large} {
		if sz.TxS <= 0 || sz.RSSMB <= 0 || sz.IndexBytes < int64(sz.Txs)*100 || sz.ChainBytes <= 0 {
			t.Fatalf("size not measured: %+v", sz)
		}
	}
	if res.Large.Txs < uint64(large) || res.Base.Txs < uint64(txs) || res.Base.Txs >= uint64(large) {
		t.Fatalf("txs %d and %d", res.Base.Txs, res.Large.Txs)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	m := scaleLine.FindStringSubmatch(last)
	if m == nil || last != res.ResultLine() || m[1] != fmt.Sprint(res.Large.Txs) || m[2] != fmt.Sprint(res.Base.Txs) {
		t.Fatalf("last line %q", last)
	}
	if !strings.Contains(out.String(), "base run 1: ") || !strings.Contains(out.String(), "large run 1: ") || strings.Contains(out.String(), "btcd run") {
		t.Fatalf("output does not show one run of ours at each size and none of btcd")
	}
}

func TestScaleBlocks(t *testing.T) {
	tests := []struct {
		name       string
		blocks     int32
		txs, large int
		want       int32
		wantErr    error
	}{
		{"default to 5M", 2000, 500_000, 5_000_000, 20_000, nil},
		{"small", 150, 3000, 6000, 300, nil},
		{"not larger", 2000, 500_000, 500_000, 0, ErrGenConfig},
		{"too many blocks", 2000, 1, 10_000, 0, ErrGenConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := scaleBlocks(tc.blocks, tc.txs, tc.large)
			if !errors.Is(err, tc.wantErr) || got != tc.want {
				t.Fatalf("scaleBlocks = %d, %v; want %d, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestCheckDisk refuses a large chain whose estimated data directory
// exceeds the free space, and accepts a small one.
func TestCheckDisk(t *testing.T) {
	dir := t.TempDir()
	cfg := BTCIndexConfig{CacheDir: dir, Seed: "disk"}
	base := BTCIndexSize{Txs: 1000, IndexBytes: 1 << 20, ChainBytes: 1 << 20}
	if err := checkDisk(&cfg, dir, base, 2000, 2000, &bytes.Buffer{}); err != nil {
		t.Fatalf("2 MB: %v", err)
	}
	// A petabyte of data directory.
	if err := checkDisk(&cfg, dir, base, 2000, 1_000_000_000, &bytes.Buffer{}); !errors.Is(err, ErrDiskSpace) {
		t.Fatalf("got %v, want ErrDiskSpace", err)
	}
}
