package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/explorer"
	"github.com/hemi-go/hemi/internal/explorer/addrindex"
	"github.com/hemi-go/hemi/internal/rpc"
)

// Defaults of ExplorerConfig: the chain of 10,000 blocks and
// 200,000 transactions.
const (
	DefaultExplorerBlocks   = 10_000
	DefaultExplorerPerBlock = 20
	DefaultExplorerSamples  = 200
	// explorerWarmup is the untimed requests of each page type before
	// any is timed.
	explorerWarmup = 10
)

// ExplorerConfig configures RunExplorer. Zero fields take the defaults.
type ExplorerConfig struct {
	Blocks   int // blocks of the chain
	PerBlock int // BenchToken transfers per block
	Samples  int // requests timed per page type
	WorkDir  string
	// ProfileDir, when set, receives a CPU profile of each page type's
	// timed requests (explorer-<page>-cpu.pprof).
	ProfileDir string
	// CacheDir keeps the built chain (its databases) for the next run
	// ("": built in WorkDir and removed).
	CacheDir string
}

// explorerCacheVersion names the cached chain's layout: bump it when the
// workload or a database format changes.
const explorerCacheVersion = 1

// explorerCachePath is where the chain of cfg is cached under
// cfg.CacheDir: its name carries the layout's version, the sizes and a
// short hash of the workload's genesis (genesisTag).
func explorerCachePath(cfg ExplorerConfig) (string, error) {
	keys, err := l2Keys(cfg.PerBlock)
	if err != nil {
		return "", err
	}
	w, _, err := newL2Genesis(l2Kinds[1], cfg.PerBlock, cfg.Blocks, keys, tagView())
	if err != nil {
		return "", err
	}
	tag, err := genesisTag(w.spec)
	if err != nil {
		return "", err
	}
	return filepath.Join(cfg.CacheDir, fmt.Sprintf("explorer-v%d-b%d-t%d-i%d-g%s", explorerCacheVersion, cfg.Blocks, cfg.PerBlock, index.FormatVersion, tag)), nil
}

// explorerIndexDir is the address index's directory in a cached chain:
// named by its format, so a new format builds its own index from the
// cached chain (the address index catches up at start) and leaves the
// older one to an older build.
var explorerIndexDir = fmt.Sprintf("addrindex-v%d", addrindex.Version)

// ExplorerResult holds RunExplorer's figures.
type ExplorerResult struct {
	P95       time.Duration // the worst page type's p95
	WorstPage string
	PageKB    float64 // the heaviest page with the stylesheet and script
}

// ResultLine formats the line RunExplorer prints last.
func (r ExplorerResult) ResultLine() string {
	return fmt.Sprintf("explorer p95_ms=%.1f worst_page=%s page_kb=%.1f", float64(r.P95.Microseconds())/1000, r.WorstPage, r.PageKB)
}

// muxMounter mounts the explorer's pages on a plain ServeMux.
type muxMounter struct{ *http.ServeMux }

func (m muxMounter) Mount(pattern string, h http.Handler) { m.Handle(pattern, h) }

// RunExplorer builds a chain of Blocks blocks of PerBlock BenchToken
// transfers (on disk, with the address index following it), then times
// the server-side render of each page type (Samples requests each, at
// random blocks, transactions and addresses; traces excluded: they load
// on demand) and weighs the pages. No peer is measured: Otterscan needs
// an Erigon node. It prints progress and, last, the ResultLine.
func RunExplorer(ctx context.Context, cfg ExplorerConfig, out io.Writer) (ExplorerResult, error) {
	var res ExplorerResult
	if cfg.Blocks <= 0 {
		cfg.Blocks = DefaultExplorerBlocks
	}
	if cfg.PerBlock <= 0 {
		cfg.PerBlock = DefaultExplorerPerBlock
	}
	if cfg.Samples <= 0 {
		cfg.Samples = DefaultExplorerSamples
	}
	fmt.Fprintf(out, "machine: %d CPUs, GOMAXPROCS %d, load average %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), loadAvg())
	dir := ""
	if cfg.CacheDir != "" {
		var err error
		if dir, err = explorerCachePath(cfg); err != nil {
			return res, err
		}
	} else {
		work, err := os.MkdirTemp(cfg.WorkDir, "hemi-bench-explorer-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(work)
		dir = filepath.Join(work, "chain")
	}
	if err := buildExplorerChain(ctx, cfg, dir, out); err != nil {
		return res, err
	}
	env, err := openExplorerChain(ctx, cfg, dir)
	if err != nil {
		return res, err
	}
	defer env.close()
	w, c, btc, ix := env.w, env.c, env.btc, env.ix

	srv, err := rpc.New(rpc.Config{AddressIndex: ix, Logger: slog.New(slog.DiscardHandler)}, c, nil)
	if err != nil {
		return res, err
	}
	inproc := gethrpc.DialInProc(srv.RPC())
	defer inproc.Close()
	x, err := explorer.New(explorer.Config{Chain: c, Index: ix, Bitcoin: btc.ix, Caller: inproc, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return res, err
	}
	mux := http.NewServeMux()
	x.Mount(muxMounter{mux})

	rng := rand.New(rand.NewPCG(1, 2))
	head := c.Head().Number.Uint64()
	randomTx := func() string {
		b, err := c.BlockByNumber(1 + rng.Uint64N(head))
		if err != nil || b.Body.Len() == 0 {
			return "/tx/0x00"
		}
		return "/tx/" + b.Body.TxHashes()[rng.IntN(b.Body.Len())].Hex()
	}
	pages := []struct {
		name string
		path func() string
	}{
		{"home", func() string { return "/" }},
		{"block", func() string { return fmt.Sprintf("/block/%d", 1+rng.Uint64N(head)) }},
		{"tx", randomTx},
		{"address-sender", func() string { return "/address/" + w.senders[rng.IntN(len(w.senders))].Hex() }},
		{"address-recipient", func() string {
			return "/address/" + w.recipient(rng.IntN(cfg.Blocks), rng.IntN(cfg.PerBlock)).Hex()
		}},
		{"address-history-page", func() string {
			return fmt.Sprintf("/address/%s?before=%d", w.senders[rng.IntN(len(w.senders))].Hex(), 1+rng.Uint64N(head))
		}},
		{"token", func() string { return "/token/" + BenchTokenAddress.Hex() }},
		{"keystones", func() string { return "/keystones" }},
		{"search", func() string { return "/search?q=" + randomTx()[len("/tx/"):] }},
		{"chain.json", func() string { return "/chain.json" }},
	}
	asset := func(p string) int {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		return rec.Body.Len()
	}
	assets := asset("/static/explorer.css") + asset("/static/explorer.js")
	// A node serving pages has its databases' caches warm: one untimed
	// round of every page type first, so the first type timed does not
	// pay for the others' cold reads.
	for _, p := range pages {
		for range explorerWarmup {
			mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, p.path(), nil))
		}
	}
	maxBytes := 0
	fmt.Fprintf(out, "%-22s %8s %8s %8s %8s\n", "page", "p50_ms", "p95_ms", "max_ms", "max_kb")
	for _, p := range pages {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		profile := ""
		if cfg.ProfileDir != "" {
			profile = filepath.Join(cfg.ProfileDir, "explorer-"+p.name+"-cpu.pprof")
		}
		stop, err := profileTo(profile)
		if err != nil {
			return res, err
		}
		var took []time.Duration
		size := 0
		for range cfg.Samples {
			req := httptest.NewRequest(http.MethodGet, p.path(), nil)
			rec := httptest.NewRecorder()
			t0 := time.Now()
			mux.ServeHTTP(rec, req)
			took = append(took, time.Since(t0))
			if rec.Code != http.StatusOK && rec.Code != http.StatusFound {
				return res, fmt.Errorf("bench: GET %s: %d", req.URL, rec.Code)
			}
			size = max(size, rec.Body.Len())
		}
		if err := stop(); err != nil {
			return res, err
		}
		slices.Sort(took)
		p50, p95 := took[len(took)/2], took[len(took)*95/100]
		fmt.Fprintf(out, "%-22s %8.1f %8.1f %8.1f %8.1f\n", p.name, ms(p50), ms(p95), ms(took[len(took)-1]), float64(size)/1024)
		if p95 > res.P95 {
			res.P95, res.WorstPage = p95, p.name
		}
		maxBytes = max(maxBytes, size)
	}
	res.PageKB = float64(maxBytes+assets) / 1024
	fmt.Fprintf(out, "page weight: the heaviest page %.1f KB + stylesheet and script %.1f KB (no WebAssembly in this build)\n",
		float64(maxBytes)/1024, float64(assets)/1024)
	fmt.Fprintf(out, "machine: load average %s at the end\n", loadAvg())
	fmt.Fprintln(out, res.ResultLine())
	return res, nil
}

// explorerEnv is the benchmark's chain opened from its databases.
type explorerEnv struct {
	btc    *l2Bitcoin
	w      *l2Workload
	c      *chain.Chain
	ix     *addrindex.Index
	cancel context.CancelFunc
	done   chan error
}

func (e *explorerEnv) close() {
	if e.cancel != nil {
		e.cancel()
		<-e.done
	}
	if e.ix != nil {
		e.ix.Close()
	}
	if e.c != nil {
		e.c.Close()
	}
	if e.btc != nil {
		e.btc.Close()
	}
}

// buildExplorerChain builds the chain of cfg into dir (its Bitcoin index,
// chain and address index), unless dir already holds it complete: it is
// built beside dir and renamed when done, so an interrupted build leaves
// no half chain to reuse.
func buildExplorerChain(ctx context.Context, cfg ExplorerConfig, dir string, out io.Writer) error {
	if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
		fmt.Fprintf(out, "chain: cached %s (%d blocks of %d BenchToken transfers)\n", dir, cfg.Blocks, cfg.PerBlock)
		return nil
	}
	tmp := dir + ".partial"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	start := time.Now()
	env := &explorerEnv{}
	btc, err := openL2Bitcoin(filepath.Join(tmp, "bitcoin"), genesis.DefaultViewLag)
	if err != nil {
		return err
	}
	env.btc = btc
	defer env.close()
	keys, err := l2Keys(cfg.PerBlock)
	if err != nil {
		return err
	}
	w, seq, err := newL2Genesis(l2Kinds[1], cfg.PerBlock, cfg.Blocks, keys, btc.view)
	if err != nil {
		return err
	}
	txs, err := w.sign(ctx, keys)
	if err != nil {
		return err
	}
	if env.c, err = ourChain(w, btc, filepath.Join(tmp, "chain")); err != nil {
		return err
	}
	if err := env.startIndex(ctx, filepath.Join(tmp, explorerIndexDir)); err != nil {
		return err
	}
	if err := w.buildOn(ctx, env.c, txs, seq, btc, false); err != nil {
		return err
	}
	if err := env.ix.WaitFor(ctx, env.c.Head().Hash()); err != nil {
		return err
	}
	env.close()
	*env = explorerEnv{}
	if err := os.WriteFile(filepath.Join(tmp, "complete"), nil, 0o644); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	fmt.Fprintf(out, "chain: %d blocks of %d BenchToken transfers (%d transactions) built, executed, stored and indexed in %s into %s\n",
		cfg.Blocks, cfg.PerBlock, w.txs(), time.Since(start).Round(time.Second), dir)
	return nil
}

// openExplorerChain opens the chain buildExplorerChain left in dir, its
// address index following it (caught up before it returns).
func openExplorerChain(ctx context.Context, cfg ExplorerConfig, dir string) (*explorerEnv, error) {
	env := &explorerEnv{}
	var err error
	if env.btc, err = reopenL2Bitcoin(filepath.Join(dir, "bitcoin"), genesis.DefaultViewLag); err != nil {
		return nil, err
	}
	keys, err := l2Keys(cfg.PerBlock)
	if err != nil {
		env.close()
		return nil, err
	}
	if env.w, _, err = newL2Genesis(l2Kinds[1], cfg.PerBlock, cfg.Blocks, keys, env.btc.view); err != nil {
		env.close()
		return nil, err
	}
	if env.c, err = ourChain(env.w, env.btc, filepath.Join(dir, "chain")); err != nil {
		env.close()
		return nil, err
	}
	if got := env.c.Head().Number.Uint64(); got != uint64(cfg.Blocks) {
		env.close()
		return nil, fmt.Errorf("bench: the chain in %s has %d blocks, want %d (remove it to build it again)", dir, got, cfg.Blocks)
	}
	if err := env.startIndex(ctx, filepath.Join(dir, explorerIndexDir)); err != nil {
		env.close()
		return nil, err
	}
	if err := env.ix.WaitFor(ctx, env.c.Head().Hash()); err != nil {
		env.close()
		return nil, err
	}
	return env, nil
}

// startIndex opens the address index in dir and runs it after the chain.
func (e *explorerEnv) startIndex(ctx context.Context, dir string) error {
	ix, err := addrindex.New(addrindex.Config{Dir: dir, Chain: e.c, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	e.ix = ix
	ictx, cancel := context.WithCancel(ctx)
	e.cancel, e.done = cancel, make(chan error, 1)
	go func() { e.done <- ix.Run(ictx) }()
	return nil
}
