package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/hemi-go/hemi/internal/btc/btcdtest"
	"github.com/hemi-go/hemi/internal/btc/peerserve"
)

// Defaults of BTCIndexConfig.
const (
	DefaultBlocks  = 2000
	DefaultTxs     = 500_000
	DefaultSeed    = "hemi-bench-btc-index"
	DefaultTimeout = 30 * time.Minute
)

// ErrNoBTCD is returned when the btcd binary is missing.
var ErrNoBTCD = errors.New("bench: btcd not found: run scripts/install-tools.sh (or set HEMI_BTCD to a btcd binary)")

// BTCIndexConfig configures RunBTCIndex. Zero fields take the defaults.
type BTCIndexConfig struct {
	Blocks   int32  // chain height (default 2,000)
	Txs      int    // non-coinbase transactions (default 500,000)
	Seed     string // chain seed (default DefaultSeed)
	CacheDir string // where generated chains are kept (default DefaultCacheDir)
	WorkDir  string // parent of the nodes' temporary data dirs (default the system temp dir)
	Runs     int    // measured runs of each node; the median is reported (default 1)

	// OursCommand is the argv prefix that starts our node in a child
	// process (OursChildMain receives the flags that follow). Default:
	// this executable with "bench btc-index-ours".
	OursCommand []string
	// BTCDBinary is the btcd executable (default: btcdtest.FindBinary).
	BTCDBinary string
	// Verify makes our node check every transaction of the chain against
	// its index after the timed sync (not timed).
	Verify bool
	// ProfileDir, when set, receives CPU and heap profiles of our node's
	// sync (ours-<run>-cpu.pprof, ours-<run>-heap.pprof).
	ProfileDir string
	// Timeout bounds each node's sync (default 30 minutes).
	Timeout time.Duration
	// Logger receives debug logs (nil: discard).
	Logger *slog.Logger
}

// BTCIndexResult holds the figures of RunBTCIndex.
type BTCIndexResult struct {
	Height    int32
	Txs       uint64 // transactions in the chain, coinbases included
	Tip       chainhash.Hash
	Ours      time.Duration // median wall time, process start to indexed tip
	BTCD      time.Duration // median wall time, process start to getblockcount == height
	OursTxS   float64
	BTCDTxS   float64
	Ratio     float64
	OursRSSMB float64 // largest peak RSS (VmHWM) of our node over the runs
	Verified  uint64  // transactions our node's index was checked for (with Verify)
}

// ResultLine formats the line RunBTCIndex prints last.
func (r BTCIndexResult) ResultLine() string {
	return fmt.Sprintf("btc-index ours_tx_s=%.0f btcd_tx_s=%.0f ratio=%.2f rss_mb=%.0f", r.OursTxS, r.BTCDTxS, r.Ratio, r.OursRSSMB)
}

func (c *BTCIndexConfig) setDefaults() error {
	if c.Blocks == 0 {
		c.Blocks = DefaultBlocks
	}
	if c.Txs == 0 {
		c.Txs = DefaultTxs
	}
	if c.Seed == "" {
		c.Seed = DefaultSeed
	}
	if c.CacheDir == "" {
		c.CacheDir = DefaultCacheDir()
	}
	if c.Runs <= 0 {
		c.Runs = 1
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if len(c.OursCommand) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench: find own executable to run our node: %w", err)
		}
		c.OursCommand = []string{exe, "bench", "btc-index-ours"}
	}
	return peerBinary(&c.BTCDBinary, func() (string, error) {
		bin, err := btcdtest.FindBinary()
		if err != nil {
			return "", ErrNoBTCD
		}
		return bin, nil
	}, ErrNoBTCD)
}

// RunBTCIndex runs the btc-index benchmark (see the package doc) and
// prints progress to out, then, as its last line, the ResultLine.
func RunBTCIndex(ctx context.Context, cfg BTCIndexConfig, out io.Writer) (BTCIndexResult, error) {
	var res BTCIndexResult
	if err := cfg.setDefaults(); err != nil {
		return res, err
	}
	params := &chaincfg.RegressionNetParams
	chain, err := LoadOrGenerate(ctx, GenConfig{Params: params, Blocks: cfg.Blocks, Txs: cfg.Txs, Seed: cfg.Seed}, cfg.CacheDir, out)
	if err != nil {
		return res, err
	}
	res.Height, res.Txs = chain.Blocks(), chain.Txs()
	res.Tip, _ = chain.Hash(chain.Blocks())
	src, err := newChainSource(chain, params)
	if err != nil {
		return res, err
	}
	srv, err := peerserve.New(peerserve.Config{Params: params, Source: src, Logger: cfg.Logger})
	if err != nil {
		return res, fmt.Errorf("bench: start the benchmark peer: %w", err)
	}
	srvCtx, stopSrv := context.WithCancel(ctx)
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Run(srvCtx) }()
	defer func() {
		stopSrv()
		<-srvDone
	}()
	fmt.Fprintf(out, "peer: serving %d blocks, %d txs on %s\n", res.Height, res.Txs, srv.Addr())
	fmt.Fprintf(out, "machine: %d CPUs, load average %s\n", runtime.NumCPU(), loadAvg())

	work, err := os.MkdirTemp(cfg.WorkDir, "hemi-bench-btc-index-")
	if err != nil {
		return res, fmt.Errorf("bench: work dir: %w", err)
	}
	defer os.RemoveAll(work)

	verifyPath := ""
	if cfg.Verify {
		verifyPath = CachePath(cfg.CacheDir, GenConfig{Params: params, Blocks: cfg.Blocks, Txs: cfg.Txs, Seed: cfg.Seed})
	}
	var ours, btcd []time.Duration
	var rssKB int64
	for run := 1; run <= cfg.Runs; run++ {
		dir := filepath.Join(work, fmt.Sprintf("ours-%d", run))
		prof := ""
		if cfg.ProfileDir != "" {
			if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
				return res, fmt.Errorf("bench: profile dir: %w", err)
			}
			prof = filepath.Join(cfg.ProfileDir, fmt.Sprintf("ours-%d-", run))
		}
		rctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		r, err := runOurs(rctx, cfg.OursCommand, dir, srv.Addr(), res.Height, verifyPath, prof, cfg.Logger)
		cancel()
		if err != nil {
			return res, err
		}
		if r.tip != res.Tip {
			return res, fmt.Errorf("bench: our node synced to %v, the chain's tip is %v", r.tip, res.Tip)
		}
		if cfg.Verify && r.verified != res.Txs {
			return res, fmt.Errorf("bench: our index holds %d of %d transactions", r.verified, res.Txs)
		}
		res.Verified = r.verified
		_ = os.RemoveAll(dir)
		ours = append(ours, r.wall)
		rssKB = max(rssKB, r.rssKB)
		fmt.Fprintf(out, "ours run %d: %d txs in %s (%.0f tx/s; %s inside the process), peak RSS %.0f MB\n",
			run, res.Txs, r.wall.Round(time.Millisecond), float64(res.Txs)/r.wall.Seconds(), r.self.Round(time.Millisecond), float64(r.rssKB)/1024)

		if cfg.Verify {
			fmt.Fprintf(out, "ours run %d: index checked for all %d txs\n", run, r.verified)
		}

		dir = filepath.Join(work, fmt.Sprintf("btcd-%d", run))
		rctx, cancel = context.WithTimeout(ctx, cfg.Timeout)
		d, err := runBTCD(rctx, cfg.BTCDBinary, dir, srv.Addr(), res.Height, res.Tip)
		cancel()
		if err != nil {
			return res, err
		}
		_ = os.RemoveAll(dir)
		btcd = append(btcd, d)
		fmt.Fprintf(out, "btcd run %d: %d txs in %s (%.0f tx/s)\n", run, res.Txs, d.Round(time.Millisecond), float64(res.Txs)/d.Seconds())
	}
	res.Ours, res.BTCD = median(ours), median(btcd)
	res.OursTxS = float64(res.Txs) / res.Ours.Seconds()
	res.BTCDTxS = float64(res.Txs) / res.BTCD.Seconds()
	res.Ratio = res.OursTxS / res.BTCDTxS
	res.OursRSSMB = float64(rssKB) / 1024
	fmt.Fprintf(out, "machine: load average %s at the end\n", loadAvg())
	if cfg.Runs > 1 {
		fmt.Fprintf(out, "median of %d runs: ours %s, btcd %s\n", cfg.Runs, res.Ours.Round(time.Millisecond), res.BTCD.Round(time.Millisecond))
	}
	fmt.Fprintln(out, res.ResultLine())
	return res, nil
}

// runBTCD times a fresh btcd --txindex --addrindex syncing from peer until
// its best block is tip at height.
func runBTCD(ctx context.Context, bin, dir, peer string, height int32, tip chainhash.Hash) (time.Duration, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	start := time.Now()
	n, err := btcdtest.StartProcess(ctx, btcdtest.Options{
		Binary:    bin,
		Dir:       dir,
		TxIndex:   true,
		AddrIndex: true,
		ExtraArgs: []string{"--connect=" + peer},
	})
	if err != nil {
		return 0, fmt.Errorf("bench: start btcd: %w", err)
	}
	defer n.Stop()
	if err := n.WaitForHeight(ctx, height); err != nil {
		return 0, fmt.Errorf("bench: btcd sync: %w\n--- btcd log, last lines:\n%s", err, n.LogTail(30))
	}
	d := time.Since(start)
	got, h, err := n.Tip()
	if err != nil {
		return 0, fmt.Errorf("bench: btcd tip: %w", err)
	}
	if *got != tip || h != height {
		return 0, fmt.Errorf("bench: btcd synced to %v at %d, the chain's tip is %v at %d", got, h, tip, height)
	}
	return d, nil
}

// loadAvg returns the 1, 5 and 15 minute load averages (Linux), so a
// reader can tell a run on a busy machine.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// peerBinary fills *path with the peer binary find locates when it is
// empty, and otherwise checks that it names a file (errMissing if not).
func peerBinary(path *string, find func() (string, error), errMissing error) error {
	if *path == "" {
		bin, err := find()
		if err != nil {
			return err
		}
		*path = bin
		return nil
	}
	if st, err := os.Stat(*path); err != nil || st.IsDir() {
		return fmt.Errorf("%w (%s is not a file)", errMissing, *path)
	}
	return nil
}
