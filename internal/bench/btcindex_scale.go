package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
)

// `hemi bench btc-index --scale-txs N` (RunBTCIndexScale) shows how our
// node's sync cost grows with the chain: in one invocation it syncs the
// normal chain (BTCIndexConfig's blocks and transactions, 500,000 by
// default) and a chain of N transactions with about the same transactions
// per block (N/Txs times the blocks: 20,000 blocks for 5,000,000), each
// with our node alone, no btcd (btcd needs hours at that size). Both
// chains are generated once and cached like the normal one. Each size
// reports tx/s (median of the runs), our node's peak RSS (the largest of
// the runs) and its data directory's bytes per transaction after the
// sync. The goals (issue 8): the large chain's tx/s at least 0.8 times
// the normal one's, and both peak RSS at most 1 GiB. The last line is,
// exactly:
//
//	btc-index-scale txs=<N> tx_s=<n> base_txs=<n> base_tx_s=<n> tx_s_ratio=<large/base> rss_mb=<n> base_rss_mb=<n> bytes_per_tx=<n> base_bytes_per_tx=<n>

// Goals of the scale run.
const (
	scaleTxSRatioGoal = 0.8
	scaleRSSGoalMB    = 1024
	// diskMargin is the headroom over the estimated disk use of the large
	// chain below which the run refuses to start it.
	diskMargin = 1.25
)

// ErrDiskSpace is returned when the large chain would not fit the disk.
var ErrDiskSpace = errors.New("bench: not enough disk space")

// BTCIndexSize is our node's sync of one chain.
type BTCIndexSize struct {
	Height     int32
	Txs        uint64 // coinbases included
	Ours       time.Duration
	TxS        float64
	RSSMB      float64
	IndexBytes int64
	BytesPerTx float64
	ChainBytes int64 // the chain file
}

// BTCIndexScaleResult compares the normal chain (Base) with the large one.
type BTCIndexScaleResult struct {
	Base, Large BTCIndexSize
	TxSRatio    float64 // Large.TxS / Base.TxS
}

// ResultLine formats the line RunBTCIndexScale prints last.
func (r BTCIndexScaleResult) ResultLine() string {
	return fmt.Sprintf("btc-index-scale txs=%d tx_s=%.0f base_txs=%d base_tx_s=%.0f tx_s_ratio=%.2f rss_mb=%.0f base_rss_mb=%.0f bytes_per_tx=%.0f base_bytes_per_tx=%.0f",
		r.Large.Txs, r.Large.TxS, r.Base.Txs, r.Base.TxS, r.TxSRatio, r.Large.RSSMB, r.Base.RSSMB, r.Large.BytesPerTx, r.Base.BytesPerTx)
}

// scaleBlocks is the height of a chain of largeTxs transactions with
// about the same transactions per block as blocks and txs (the height
// grows with the transactions).
func scaleBlocks(blocks int32, txs, largeTxs int) (int32, error) {
	if largeTxs <= txs {
		return 0, fmt.Errorf("%w: --scale-txs %d must exceed the normal chain's %d transactions", ErrGenConfig, largeTxs, txs)
	}
	n := int64(blocks) * int64(largeTxs) / int64(txs)
	if n > maxBlocksPerFile {
		return 0, fmt.Errorf("%w: %d transactions would take %d blocks", ErrGenConfig, largeTxs, n)
	}
	return int32(n), nil
}

// RunBTCIndexScale runs the scale comparison (see above) and prints
// progress and, last, the ResultLine to out.
func RunBTCIndexScale(ctx context.Context, cfg BTCIndexConfig, largeTxs int, out io.Writer) (BTCIndexScaleResult, error) {
	var res BTCIndexScaleResult
	if err := cfg.setDefaults(false); err != nil {
		return res, err
	}
	largeBlocks, err := scaleBlocks(cfg.Blocks, cfg.Txs, largeTxs)
	if err != nil {
		return res, err
	}
	if err := (&GenConfig{Params: &chaincfg.RegressionNetParams, Blocks: largeBlocks, Txs: largeTxs}).check(); err != nil {
		return res, err
	}
	fmt.Fprintf(out, "machine: %d CPUs, load average %s\n", runtime.NumCPU(), loadAvg())
	fmt.Fprintf(out, "workload: our node alone (no btcd) syncs %d blocks / %d txs, then %d blocks / %d txs (about the same txs per block), %d run(s) each\n",
		cfg.Blocks, cfg.Txs, largeBlocks, largeTxs, cfg.Runs)
	work, err := os.MkdirTemp(cfg.WorkDir, "hemi-bench-btc-index-scale-")
	if err != nil {
		return res, fmt.Errorf("bench: work dir: %w", err)
	}
	defer os.RemoveAll(work)

	if res.Base, err = syncSize(ctx, &cfg, cfg.Blocks, cfg.Txs, work, "base", out); err != nil {
		return res, err
	}
	if err := checkDisk(&cfg, work, res.Base, largeBlocks, largeTxs, out); err != nil {
		return res, err
	}
	if res.Large, err = syncSize(ctx, &cfg, largeBlocks, largeTxs, work, "large", out); err != nil {
		return res, err
	}
	res.TxSRatio = res.Large.TxS / res.Base.TxS
	fmt.Fprintf(out, "machine: load average %s at the end\n", loadAvg())
	for _, s := range []struct {
		name string
		sz   BTCIndexSize
	}{{"base", res.Base}, {"large", res.Large}} {
		fmt.Fprintf(out, "%s: %d txs, %.0f tx/s, peak RSS %.0f MB, data directory %.0f MB = %.0f bytes/tx (chain file %.0f bytes/tx)\n",
			s.name, s.sz.Txs, s.sz.TxS, s.sz.RSSMB, float64(s.sz.IndexBytes)/1e6, s.sz.BytesPerTx, float64(s.sz.ChainBytes)/float64(s.sz.Txs))
	}
	fmt.Fprintf(out, "goals: tx_s_ratio >= %.1f (got %.2f), peak RSS <= %d MB at both sizes (got %.0f and %.0f)\n",
		scaleTxSRatioGoal, res.TxSRatio, scaleRSSGoalMB, res.Base.RSSMB, res.Large.RSSMB)
	fmt.Fprintln(out, res.ResultLine())
	return res, nil
}

// syncSize serves the chain of blocks and txs and times cfg.Runs syncs of
// our node from it.
func syncSize(ctx context.Context, cfg *BTCIndexConfig, blocks int32, txs int, work, label string, out io.Writer) (BTCIndexSize, error) {
	var sz BTCIndexSize
	p, err := startBenchPeer(ctx, cfg, blocks, txs, out)
	if err != nil {
		return sz, err
	}
	defer p.stop()
	sz.Height, sz.Txs, sz.ChainBytes = p.height, p.txs, p.chainBytes
	var walls []time.Duration
	for run := 1; run <= cfg.Runs; run++ {
		r, err := p.runOurs(ctx, cfg, work, run, label, out)
		if err != nil {
			return sz, err
		}
		walls = append(walls, r.wall)
		sz.RSSMB = max(sz.RSSMB, float64(r.rssKB)/1024)
		sz.IndexBytes = max(sz.IndexBytes, r.dataBytes)
	}
	sz.Ours = median(walls)
	sz.TxS = float64(sz.Txs) / sz.Ours.Seconds()
	sz.BytesPerTx = float64(sz.IndexBytes) / float64(sz.Txs)
	return sz, nil
}

// checkDisk estimates the disk the large chain needs from the base one
// (its chain file, when not cached yet, and our node's data directory,
// both per transaction) and refuses to go on when the cache or work
// directory has less free space than that with a margin.
func checkDisk(cfg *BTCIndexConfig, work string, base BTCIndexSize, largeBlocks int32, largeTxs int, out io.Writer) error {
	scale := float64(largeTxs) / float64(base.Txs)
	dataNeed := uint64(float64(base.IndexBytes) * scale * diskMargin)
	chainNeed := uint64(0)
	if _, err := os.Stat(CachePath(cfg.CacheDir, GenConfig{Params: &chaincfg.RegressionNetParams, Blocks: largeBlocks, Txs: largeTxs, Seed: cfg.Seed})); err != nil {
		chainNeed = uint64(float64(base.ChainBytes) * scale * diskMargin)
	}
	fmt.Fprintf(out, "disk: the large chain needs about %.1f GB for its chain file (0 when cached) and %.1f GB for our data directory\n",
		float64(chainNeed)/1e9, float64(dataNeed)/1e9)
	need := map[string]uint64{}
	for _, d := range []struct {
		path string
		n    uint64
	}{{cfg.CacheDir, chainNeed}, {work, dataNeed}} {
		var st syscall.Statfs_t
		if err := syscall.Statfs(d.path, &st); err != nil {
			return fmt.Errorf("bench: free space of %s: %w", d.path, err)
		}
		// Directories on one file system share its free space.
		fsid := fmt.Sprint(st.Fsid)
		need[fsid] += d.n
		if free := st.Bavail * uint64(st.Bsize); free < need[fsid] {
			return fmt.Errorf("%w: %s has %.1f GB free, the large chain needs about %.1f GB there", ErrDiskSpace, d.path, float64(free)/1e9, float64(need[fsid])/1e9)
		}
	}
	return nil
}
