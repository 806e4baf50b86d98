package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
	// IndexBytes is the size of our node's data directory (its pebble
	// index, blocks included) after the sync, the largest over the runs;
	// BytesPerTx is IndexBytes over Txs.
	IndexBytes int64
	BytesPerTx float64
}

// ResultLine formats the line RunBTCIndex prints last.
func (r BTCIndexResult) ResultLine() string {
	return fmt.Sprintf("btc-index ours_tx_s=%.0f btcd_tx_s=%.0f ratio=%.2f rss_mb=%.0f bytes_per_tx=%.0f",
		r.OursTxS, r.BTCDTxS, r.Ratio, r.OursRSSMB, r.BytesPerTx)
}

// setDefaults fills the zero fields; withBTCD also locates btcd.
func (c *BTCIndexConfig) setDefaults(withBTCD bool) error {
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
	if !withBTCD {
		return nil
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
	if err := cfg.setDefaults(true); err != nil {
		return res, err
	}
	p, err := startBenchPeer(ctx, &cfg, cfg.Blocks, cfg.Txs, out)
	if err != nil {
		return res, err
	}
	defer p.stop()
	res.Height, res.Txs, res.Tip = p.height, p.txs, p.tip
	fmt.Fprintf(out, "machine: %d CPUs, load average %s\n", runtime.NumCPU(), loadAvg())

	work, err := os.MkdirTemp(cfg.WorkDir, "hemi-bench-btc-index-")
	if err != nil {
		return res, fmt.Errorf("bench: work dir: %w", err)
	}
	defer os.RemoveAll(work)

	var ours, btcd []time.Duration
	for run := 1; run <= cfg.Runs; run++ {
		r, err := p.runOurs(ctx, &cfg, work, run, "ours", out)
		if err != nil {
			return res, err
		}
		res.Verified = r.verified
		ours = append(ours, r.wall)
		res.OursRSSMB = max(res.OursRSSMB, float64(r.rssKB)/1024)
		res.IndexBytes = max(res.IndexBytes, r.dataBytes)

		dir := filepath.Join(work, fmt.Sprintf("btcd-%d", run))
		rctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		d, err := runBTCD(rctx, cfg.BTCDBinary, dir, p.srv.Addr(), res.Height, res.Tip)
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
	res.BytesPerTx = float64(res.IndexBytes) / float64(res.Txs)
	fmt.Fprintf(out, "machine: load average %s at the end\n", loadAvg())
	if cfg.Runs > 1 {
		fmt.Fprintf(out, "median of %d runs: ours %s, btcd %s\n", cfg.Runs, res.Ours.Round(time.Millisecond), res.BTCD.Round(time.Millisecond))
	}
	fmt.Fprintf(out, "index: our data directory after the sync holds %.0f MB, %.0f bytes per transaction (the chain's blocks alone: %.0f bytes per transaction)\n",
		float64(res.IndexBytes)/1e6, res.BytesPerTx, float64(p.chainBytes)/float64(res.Txs))
	fmt.Fprintln(out, res.ResultLine())
	return res, nil
}

// benchPeer is a generated chain served from a loopback P2P peer.
type benchPeer struct {
	gen        GenConfig
	srv        *peerserve.Server
	height     int32
	txs        uint64 // coinbases included
	tip        chainhash.Hash
	chainBytes int64 // size of the chain file
	stop       func()
}

// startBenchPeer loads (or generates and caches) the chain of blocks and
// txs and serves it until stop is called.
func startBenchPeer(ctx context.Context, cfg *BTCIndexConfig, blocks int32, txs int, out io.Writer) (*benchPeer, error) {
	params := &chaincfg.RegressionNetParams
	gen := GenConfig{Params: params, Blocks: blocks, Txs: txs, Seed: cfg.Seed}
	chain, err := LoadOrGenerate(ctx, gen, cfg.CacheDir, out)
	if err != nil {
		return nil, err
	}
	p := &benchPeer{gen: gen, height: chain.Blocks(), txs: chain.Txs()}
	p.tip, _ = chain.Hash(chain.Blocks())
	if st, err := os.Stat(CachePath(cfg.CacheDir, gen)); err == nil {
		p.chainBytes = st.Size()
	}
	src, err := newChainSource(chain, params)
	if err != nil {
		return nil, err
	}
	p.srv, err = peerserve.New(peerserve.Config{Params: params, Source: src, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("bench: start the benchmark peer: %w", err)
	}
	srvCtx, stopSrv := context.WithCancel(ctx)
	srvDone := make(chan error, 1)
	go func() { srvDone <- p.srv.Run(srvCtx) }()
	p.stop = func() {
		stopSrv()
		<-srvDone
	}
	fmt.Fprintf(out, "peer: serving %d blocks, %d txs on %s\n", p.height, p.txs, p.srv.Addr())
	return p, nil
}

// oursResult is one measured sync of our node and the size of its data
// directory once it has shut down.
type oursResult struct {
	oursRun
	dataBytes int64
}

// runOurs times a fresh node of ours syncing the peer's chain (run number
// run, in a directory under work removed afterwards), checks its tip (and
// its index, with cfg.Verify) and prints one line labelled label.
func (p *benchPeer) runOurs(ctx context.Context, cfg *BTCIndexConfig, work string, run int, label string, out io.Writer) (oursResult, error) {
	var res oursResult
	dir := filepath.Join(work, fmt.Sprintf("%s-%d", label, run))
	defer os.RemoveAll(dir)
	prof := ""
	if cfg.ProfileDir != "" {
		if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
			return res, fmt.Errorf("bench: profile dir: %w", err)
		}
		prof = filepath.Join(cfg.ProfileDir, fmt.Sprintf("%s-%d-", label, run))
	}
	verifyPath := ""
	if cfg.Verify {
		verifyPath = CachePath(cfg.CacheDir, p.gen)
	}
	rctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	r, err := runOurs(rctx, cfg.OursCommand, dir, p.srv.Addr(), p.height, verifyPath, prof, cfg.Logger)
	cancel()
	if err != nil {
		return res, err
	}
	if r.tip != p.tip {
		return res, fmt.Errorf("bench: our node synced to %v, the chain's tip is %v", r.tip, p.tip)
	}
	if cfg.Verify && r.verified != p.txs {
		return res, fmt.Errorf("bench: our index holds %d of %d transactions", r.verified, p.txs)
	}
	// runOurs returns once the node has shut down: the directory holds
	// what a restart would find.
	n, err := dirBytes(filepath.Join(dir, "data"))
	if err != nil {
		return res, fmt.Errorf("bench: size of our data directory: %w", err)
	}
	res = oursResult{oursRun: r, dataBytes: n}
	fmt.Fprintf(out, "%s run %d: %d txs in %s (%.0f tx/s; %s inside the process), peak RSS %.0f MB, data directory %.0f MB (%.0f bytes/tx)\n",
		label, run, p.txs, r.wall.Round(time.Millisecond), float64(p.txs)/r.wall.Seconds(), r.self.Round(time.Millisecond),
		float64(r.rssKB)/1024, float64(n)/1e6, float64(n)/float64(p.txs))
	if cfg.Verify {
		fmt.Fprintf(out, "%s run %d: index checked for all %d txs\n", label, run, r.verified)
	}
	return res, nil
}

// dirBytes is the total size of the regular files under dir.
func dirBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	return n, err
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
