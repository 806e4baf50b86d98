package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/ethereum/go-ethereum/core/rawdb"

	"github.com/hemi-go/hemi/internal/chain/genesis"
)

// Defaults of L2ImportConfig.
const (
	DefaultL2Blocks   = 10
	DefaultL2PerBlock = 5000
	DefaultL2Runs     = 3
)

// L2ImportConfig configures RunL2Import. Zero fields take the defaults.
type L2ImportConfig struct {
	Blocks   int // blocks of each kind (default 10)
	PerBlock int // transfers per block (default 5,000)
	Runs     int // measured imports per importer and kind; medians are reported (default 3)
	// WorkDir is the parent of the temporary databases (default the
	// system temp dir).
	WorkDir string
	// GethScheme is go-ethereum's state scheme: rawdb.HashScheme (the
	// default: the same hash-keyed trie nodes our chain stores) or
	// rawdb.PathScheme.
	GethScheme string
	// GethArchive runs go-ethereum in archive mode: every block's state
	// is written to disk during the import, as our chain does (by
	// default go-ethereum keeps the last 128 blocks' tries in memory and
	// writes them later, outside the timed import).
	GethArchive bool
	// NoAddrIndex imports without the explorer's address index (a node
	// runs it; by default the import is timed until it has followed).
	NoAddrIndex bool
	// ProfileDir, when set, receives CPU profiles of the first run's
	// imports (<importer>-<kind>-cpu.pprof).
	ProfileDir string
}

// L2KindResult holds one kind's median import times.
type L2KindResult struct {
	Kind    string
	Txs     int
	Ours    time.Duration
	Geth    time.Duration
	OursTxS float64
	GethTxS float64
	// OursCPU and GethCPU are the median CPU times of the imports (the
	// process's user and system time over each timed import).
	OursCPU time.Duration
	GethCPU time.Duration
}

// L2ImportResult holds the figures of RunL2Import.
type L2ImportResult struct {
	Kinds   []L2KindResult
	OursTxS float64 // all kinds' transactions over the sum of their median times
	GethTxS float64
	Ratio   float64
	// CPURatio is go-ethereum's CPU time over ours (all kinds' medians
	// summed), oriented as Ratio: above 1, ours costs less. On a loaded
	// machine it moves less than Ratio, which measures waits for a core.
	CPURatio float64
}

// ResultLine formats the line RunL2Import prints last.
func (r L2ImportResult) ResultLine() string {
	return fmt.Sprintf("l2-import ours_tx_s=%.0f geth_tx_s=%.0f ratio=%.2f cpu_ratio=%.2f", r.OursTxS, r.GethTxS, r.Ratio, r.CPURatio)
}

func (c *L2ImportConfig) setDefaults() error {
	if c.Blocks <= 0 {
		c.Blocks = DefaultL2Blocks
	}
	if c.PerBlock <= 0 {
		c.PerBlock = DefaultL2PerBlock
	}
	if c.Runs <= 0 {
		c.Runs = DefaultL2Runs
	}
	switch c.GethScheme {
	case "":
		c.GethScheme = rawdb.HashScheme
	case rawdb.HashScheme, rawdb.PathScheme:
	default:
		return fmt.Errorf("bench: go-ethereum state scheme %q: want %q or %q", c.GethScheme, rawdb.HashScheme, rawdb.PathScheme)
	}
	return nil
}

// RunL2Import runs the l2-import benchmark: for each kind (ETH transfers,
// then BenchToken ERC-20 transfers) it builds Blocks blocks of PerBlock
// transfers from distinct senders to new accounts, once for our chain
// (sealed, with a Bitcoin view and system transactions) and once for
// go-ethereum (post-merge headers), with the same signed transactions
// and genesis alloc; then, Runs times, imports each into a fresh on-disk
// chain: ours with chain.InsertChain, go-ethereum's with
// core.BlockChain.InsertChain. Every import decodes its blocks afresh
// from bytes, so no sender or hash is cached, and is checked afterwards
// (untimed): every transaction included and successful, every balance as
// expected. It prints progress to out and, last, the ResultLine.
func RunL2Import(ctx context.Context, cfg L2ImportConfig, out io.Writer) (L2ImportResult, error) {
	var res L2ImportResult
	if err := cfg.setDefaults(); err != nil {
		return res, err
	}
	work, err := os.MkdirTemp(cfg.WorkDir, "hemi-bench-l2-import-")
	if err != nil {
		return res, fmt.Errorf("bench: work dir: %w", err)
	}
	defer os.RemoveAll(work)
	fmt.Fprintf(out, "machine: %d CPUs, GOMAXPROCS %d, load average %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), loadAvg())
	index := "with the explorer's address index following, timed until it has indexed the last block"
	if cfg.NoAddrIndex {
		index = "no address index"
	}
	fmt.Fprintf(out, "importers: ours (chain.InsertChain, hashdb, pebble cache %d MB, trie cache %d MB, state committed every block, no fsync; %s)\n", l2CacheMB, l2CacheMB, index)
	mode := "full node: recent state kept in memory"
	if cfg.GethArchive {
		mode = "archive: state committed every block"
	}
	fmt.Fprintf(out, "           go-ethereum core.BlockChain.InsertChain (%s scheme, %s, pebble cache %d MB, clean/dirty/snapshot caches %d MB, no fsync)\n", cfg.GethScheme, mode, l2CacheMB, l2CacheMB)

	btc, err := openL2Bitcoin(filepath.Join(work, "bitcoin"), genesis.DefaultViewLag)
	if err != nil {
		return res, err
	}
	defer btc.Close()
	keys, err := l2Keys(cfg.PerBlock)
	if err != nil {
		return res, err
	}
	var totalTxs int
	var oursSum, gethSum, oursCPU, gethCPU time.Duration
	for _, kind := range l2Kinds {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		start := time.Now()
		w, err := newL2Workload(ctx, kind, cfg.PerBlock, cfg.Blocks, keys, btc)
		if err != nil {
			return res, err
		}
		fmt.Fprintf(out, "%s: %d blocks of %d transfers built for both importers in %s (gas limit %d)\n",
			kind.name, w.blocks, w.perBlock, time.Since(start).Round(time.Millisecond), w.gasLimit)
		kr, err := runL2Kind(ctx, cfg, w, btc, work, out)
		if err != nil {
			return res, err
		}
		res.Kinds = append(res.Kinds, kr)
		totalTxs += kr.Txs
		oursSum += kr.Ours
		gethSum += kr.Geth
		oursCPU += kr.OursCPU
		gethCPU += kr.GethCPU
	}
	res.OursTxS = float64(totalTxs) / oursSum.Seconds()
	res.GethTxS = float64(totalTxs) / gethSum.Seconds()
	res.Ratio = res.OursTxS / res.GethTxS
	if oursCPU > 0 {
		res.CPURatio = gethCPU.Seconds() / oursCPU.Seconds()
	}
	fmt.Fprintf(out, "machine: load average %s at the end\n", loadAvg())
	fmt.Fprintln(out, res.ResultLine())
	return res, nil
}

// runL2Kind times cfg.Runs imports of w by each importer, alternating
// which goes first, and returns the medians.
func runL2Kind(ctx context.Context, cfg L2ImportConfig, w *l2Workload, btc *l2Bitcoin, work string, out io.Writer) (L2KindResult, error) {
	kr := L2KindResult{Kind: w.kind.name, Txs: w.txs()}
	var ours, geth, oursCPU, gethCPU []time.Duration
	for run := 1; run <= cfg.Runs; run++ {
		profile := func(who string) string {
			if cfg.ProfileDir == "" || run != 1 {
				return ""
			}
			return filepath.Join(cfg.ProfileDir, fmt.Sprintf("%s-%s-cpu.pprof", who, w.kind.name))
		}
		runOurs := func() error {
			dir := filepath.Join(work, fmt.Sprintf("ours-%s-%d", w.kind.name, run))
			r, err := importOurs(w, btc, dir, profile("ours"), !cfg.NoAddrIndex)
			os.RemoveAll(dir)
			if err != nil {
				return err
			}
			ours, oursCPU = append(ours, r.took), append(oursCPU, r.cpu)
			fmt.Fprintf(out, "%s run %d: ours %d txs in %s (%.0f tx/s; CPU %s)\n", w.kind.name, run, kr.Txs, r.took.Round(time.Millisecond), float64(kr.Txs)/r.took.Seconds(), r.cpu.Round(time.Millisecond))
			return nil
		}
		runGeth := func() error {
			dir := filepath.Join(work, fmt.Sprintf("geth-%s-%d", w.kind.name, run))
			r, err := importGeth(w, dir, cfg.GethScheme, cfg.GethArchive, profile("geth"))
			os.RemoveAll(dir)
			if err != nil {
				return err
			}
			geth, gethCPU = append(geth, r.took), append(gethCPU, r.cpu)
			fmt.Fprintf(out, "%s run %d: geth %d txs in %s (%.0f tx/s; CPU %s; its Stop flush afterwards took %s, not counted)\n",
				w.kind.name, run, kr.Txs, r.took.Round(time.Millisecond), float64(kr.Txs)/r.took.Seconds(), r.cpu.Round(time.Millisecond), r.flush.Round(time.Millisecond))
			return nil
		}
		order := []func() error{runOurs, runGeth}
		if run%2 == 0 {
			order[0], order[1] = order[1], order[0]
		}
		for _, f := range order {
			if err := ctx.Err(); err != nil {
				return kr, err
			}
			if err := f(); err != nil {
				return kr, err
			}
		}
	}
	kr.Ours, kr.Geth = median(ours), median(geth)
	kr.OursCPU, kr.GethCPU = median(oursCPU), median(gethCPU)
	kr.OursTxS = float64(kr.Txs) / kr.Ours.Seconds()
	kr.GethTxS = float64(kr.Txs) / kr.Geth.Seconds()
	fmt.Fprintf(out, "%s: median of %d runs: ours %s (%.0f tx/s; CPU %s), geth %s (%.0f tx/s; CPU %s), ratio %.2f\n",
		w.kind.name, cfg.Runs, kr.Ours.Round(time.Millisecond), kr.OursTxS, kr.OursCPU.Round(time.Millisecond),
		kr.Geth.Round(time.Millisecond), kr.GethTxS, kr.GethCPU.Round(time.Millisecond), kr.OursTxS/kr.GethTxS)
	return kr, nil
}
