package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hemi-go/hemi/internal/testtools"
)

// TestMain runs our node when the binary is started as the benchmark's
// child (see runOurs), and the tests otherwise.
func TestMain(m *testing.M) {
	if os.Getenv(ChildEnv) == "1" {
		if err := OursChildMain(context.Background(), os.Args[1:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestBTCIndexSmoke runs the whole benchmark on a small chain and checks
// correctness only: both nodes reach the chain's tip and our index holds
// every transaction. It asserts no timing.
func TestBTCIndexSmoke(t *testing.T) {
	bin := testtools.Tool(t, "btcd")
	if testing.Short() {
		t.Skip("starts two nodes; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	blocks, txs := int32(300), 20_000
	if raceEnabled {
		blocks, txs = 200, 3_000
	}
	var out bytes.Buffer
	res, err := RunBTCIndex(ctx, BTCIndexConfig{
		Blocks:      blocks,
		Txs:         txs,
		Seed:        "smoke",
		CacheDir:    t.TempDir(),
		WorkDir:     t.TempDir(),
		OursCommand: []string{os.Args[0]},
		BTCDBinary:  bin,
		Verify:      true,
	}, &out)
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	if res.Height != blocks || res.Txs < uint64(txs) || res.Verified != res.Txs {
		t.Fatalf("height %d, %d txs, %d verified", res.Height, res.Txs, res.Verified)
	}
	// Our data directory holds at least every block it synced.
	if res.IndexBytes < int64(res.Txs)*100 || res.BytesPerTx != float64(res.IndexBytes)/float64(res.Txs) {
		t.Fatalf("data directory %d bytes, %.1f bytes/tx for %d txs", res.IndexBytes, res.BytesPerTx, res.Txs)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; last != res.ResultLine() || !strings.HasPrefix(last, "btc-index ours_tx_s=") {
		t.Fatalf("last line %q", last)
	}
}

func TestBTCIndexConfigErrors(t *testing.T) {
	_, err := RunBTCIndex(context.Background(), BTCIndexConfig{BTCDBinary: "/nonexistent/btcd", OursCommand: []string{"x"}}, &bytes.Buffer{})
	if !errors.Is(err, ErrNoBTCD) || !strings.Contains(err.Error(), "scripts/install-tools.sh") {
		t.Fatalf("got %v, want ErrNoBTCD naming the installer", err)
	}
	_, err = RunBTCIndex(context.Background(), BTCIndexConfig{Blocks: 20, BTCDBinary: os.Args[0], OursCommand: []string{"x"}, CacheDir: t.TempDir()}, &bytes.Buffer{})
	if !errors.Is(err, ErrGenConfig) {
		t.Fatalf("got %v, want ErrGenConfig", err)
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []time.Duration
		want time.Duration
	}{
		{[]time.Duration{3}, 3},
		{[]time.Duration{5, 1, 3}, 3},
		{[]time.Duration{4, 1, 3, 2}, 2},
	}
	for _, tc := range tests {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
