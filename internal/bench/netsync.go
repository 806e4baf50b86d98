package bench

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/netp2p/rangesync"
)

// Defaults of NetSyncConfig: issue 10's sync figure.
const (
	DefaultNetSyncBlocks   = 5000
	DefaultNetSyncPerBlock = 200
	DefaultNetSyncRuns     = 1
)

// NetSyncConfig configures RunNetSync. Zero fields take the defaults.
type NetSyncConfig struct {
	Blocks   int // blocks of the source chain (default 5,000)
	PerBlock int // ETH transfers per block (default 200)
	Runs     int // timed syncs and imports each; medians are reported (default 1)
	// WorkDir is the parent of the temporary databases (default the
	// system temp dir).
	WorkDir string
	// CacheDir, when set, keeps the source chain and its block file
	// between runs (netSyncCachePath), so only the first run of a size
	// builds it.
	CacheDir string
	// FollowerBin, when set, is a hemi binary: the syncing follower then
	// runs as its own process (`hemi bench net-sync-follower`), so its
	// peak RSS (VmHWM) is its own; otherwise it runs in this process and
	// RSSMB is 0.
	FollowerBin string
	// ProfileDir, when set, receives the follower process's heap
	// profiles (sync-<run>-heap-<minute>.pprof each minute of its sync,
	// sync-<run>-heap-end.pprof once synced): what its RSS is made of.
	ProfileDir string
}

// NetSyncResult holds RunNetSync's figures (medians over the runs).
type NetSyncResult struct {
	Blocks        int
	Sync, Import  time.Duration
	SyncBlocksS   float64
	ImportBlocksS float64
	Ratio         float64 // SyncBlocksS / ImportBlocksS
	// RSSMB is the syncing follower process's peak RSS, the largest of
	// the runs (0 when it ran in this process).
	RSSMB float64
}

// ResultLine formats the line RunNetSync prints last.
func (r NetSyncResult) ResultLine() string {
	return fmt.Sprintf("net-sync blocks=%d sync_blocks_s=%.1f import_blocks_s=%.1f sync_ratio=%.2f rss_mb=%.0f",
		r.Blocks, r.SyncBlocksS, r.ImportBlocksS, r.Ratio, r.RSSMB)
}

func (c *NetSyncConfig) setDefaults() {
	if c.Blocks <= 0 {
		c.Blocks = DefaultNetSyncBlocks
	}
	if c.PerBlock <= 0 {
		c.PerBlock = DefaultNetSyncPerBlock
	}
	if c.Runs <= 0 {
		c.Runs = DefaultNetSyncRuns
	}
}

// RunNetSync is the sync figure of `hemi bench net`: it builds a source
// chain of Blocks blocks of PerBlock ETH transfers (on disk, untimed),
// exports it to a block file (`hemi export`'s path), then Runs times,
// alternating which goes first, times (a) a fresh follower catching up
// over libp2p on loopback (TCP, Noise, yamux) from two peers serving the
// source chain (two hosts, one database) with rangesync.Syncer, and (b)
// a fresh chain importing the file with rangesync.ImportFile (`hemi
// import`'s path). Both chains are configured alike (pebble and trie
// caches, no fsync) and must end on the source's head. It prints
// progress to out and, last, the ResultLine; sync_ratio is sync blocks/s
// over import blocks/s.
func RunNetSync(ctx context.Context, cfg NetSyncConfig, out io.Writer) (NetSyncResult, error) {
	cfg.setDefaults()
	res := NetSyncResult{Blocks: cfg.Blocks}
	work, err := os.MkdirTemp(cfg.WorkDir, "hemi-bench-net-sync-")
	if err != nil {
		return res, fmt.Errorf("bench: work dir: %w", err)
	}
	defer os.RemoveAll(work)
	fmt.Fprintf(out, "machine: %d CPUs, GOMAXPROCS %d, load average %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), loadAvg())
	btc, err := openL2Bitcoin(filepath.Join(work, "bitcoin"), genesis.DefaultViewLag)
	if err != nil {
		return res, err
	}
	defer btc.Close()
	w, src, file, err := netSource(ctx, cfg, btc, work, out)
	if err != nil {
		return res, err
	}
	defer src.Close()
	head := src.Head()
	if fi, err := os.Stat(file); err == nil {
		fmt.Fprintf(out, "export: %s, %.1f MB\n", file, float64(fi.Size())/1e6)
	}
	peers, err := servePeers(ctx, src, 2)
	if err != nil {
		return res, err
	}
	defer func() {
		for _, p := range peers {
			p.stop()
		}
	}()
	var syncs, imports []time.Duration
	for run := 1; run <= cfg.Runs; run++ {
		runSync := func() error {
			dir := filepath.Join(work, fmt.Sprintf("sync-%d", run))
			var (
				d     time.Duration
				rssKB int64
				err   error
			)
			if cfg.FollowerBin != "" {
				d, rssKB, err = timeSyncChild(ctx, cfg, dir, peers, head, run)
			} else {
				d, err = timeSync(ctx, w, btc, dir, peers, head)
			}
			if err != nil {
				return err
			}
			syncs = append(syncs, d)
			res.RSSMB = max(res.RSSMB, float64(rssKB)/1024)
			fmt.Fprintf(out, "run %d: sync from 2 peers %s (%.1f blocks/s)", run, d.Round(time.Millisecond), float64(cfg.Blocks)/d.Seconds())
			if rssKB > 0 {
				fmt.Fprintf(out, ", follower process peak RSS %.0f MB", float64(rssKB)/1024)
			}
			fmt.Fprintln(out)
			return nil
		}
		runImport := func() error {
			d, err := timeImport(ctx, w, btc, filepath.Join(work, fmt.Sprintf("import-%d", run)), file, head)
			if err != nil {
				return err
			}
			imports = append(imports, d)
			fmt.Fprintf(out, "run %d: import of the file %s (%.1f blocks/s)\n", run, d.Round(time.Millisecond), float64(cfg.Blocks)/d.Seconds())
			return nil
		}
		order := []func() error{runImport, runSync}
		if run%2 == 0 {
			order[0], order[1] = order[1], order[0]
		}
		for _, f := range order {
			if err := f(); err != nil {
				return res, err
			}
		}
	}
	res.Sync, res.Import = median(syncs), median(imports)
	res.SyncBlocksS = float64(cfg.Blocks) / res.Sync.Seconds()
	res.ImportBlocksS = float64(cfg.Blocks) / res.Import.Seconds()
	res.Ratio = res.SyncBlocksS / res.ImportBlocksS
	fmt.Fprintf(out, "machine: load average %s at the end\n", loadAvg())
	fmt.Fprintln(out, res.ResultLine())
	return res, nil
}

// netSyncWorkload is the sync source's workload over btc: its genesis
// (deterministic, so a cached chain and a follower process in another
// run open the same chain) and sealing key.
func netSyncWorkload(cfg NetSyncConfig, btc *l2Bitcoin) (*l2Workload, *ecdsa.PrivateKey, []*ecdsa.PrivateKey, error) {
	keys, err := l2Keys(cfg.PerBlock)
	if err != nil {
		return nil, nil, nil, err
	}
	w, seq, err := newL2Genesis(l2Kinds[0], cfg.PerBlock, cfg.Blocks, keys, btc.view)
	if err != nil {
		return nil, nil, nil, err
	}
	// Blocks at most half full keep the base fee from rising (EIP-1559's
	// target is half the limit), so thousands of blocks fit the fee cap.
	w.gasLimit = l2GasLimit(2*uint64(cfg.PerBlock)*l2Kinds[0].gas, &w.spec.Config)
	w.spec.Config.GasLimit = w.gasLimit
	return w, seq, keys, nil
}

// netSource opens the source chain and its block file: from the cache
// when CacheDir holds a finished one of this size, else built (in the
// cache, or in work without one) and exported.
func netSource(ctx context.Context, cfg NetSyncConfig, btc *l2Bitcoin, work string, out io.Writer) (*l2Workload, *chain.Chain, string, error) {
	w, seq, keys, err := netSyncWorkload(cfg, btc)
	if err != nil {
		return nil, nil, "", err
	}
	dir := work
	if cfg.CacheDir != "" {
		if dir, err = netSyncCachePath(cfg.CacheDir, cfg, w.spec); err != nil {
			return nil, nil, "", err
		}
	}
	srcDir, file, done := filepath.Join(dir, "source"), filepath.Join(dir, "blocks.rlp"), filepath.Join(dir, "done")
	if _, err := os.Stat(done); err == nil {
		c, err := ourChain(w, btc, srcDir)
		if err == nil && c.Head().Number.Uint64() == uint64(cfg.Blocks) {
			fmt.Fprintf(out, "source: cached %s (%d blocks of %d transfers)\n", dir, cfg.Blocks, cfg.PerBlock)
			return w, c, file, nil
		}
		if err == nil {
			c.Close()
		}
		fmt.Fprintf(out, "source: cached %s unusable (%v); building it again\n", dir, err)
	}
	os.Remove(done)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, "", err
	}
	start := time.Now()
	txs, err := w.sign(ctx, keys)
	if err != nil {
		return nil, nil, "", err
	}
	c, have, err := resumeSource(w, btc, srcDir, len(txs))
	if err != nil {
		return nil, nil, "", err
	}
	if have > 0 {
		fmt.Fprintf(out, "source: resuming an unfinished build in %s at block %d of %d\n", dir, have, cfg.Blocks)
	}
	if err := w.buildOn(ctx, c, txs[have:], seq, btc, false); err != nil {
		c.Close()
		return nil, nil, "", err
	}
	fmt.Fprintf(out, "source: %d blocks of %d transfers built in %s into %s\n", cfg.Blocks, cfg.PerBlock, time.Since(start).Round(time.Millisecond), dir)
	if _, err := rangesync.ExportFile(ctx, c, file, 1, c.Head().Number.Uint64()); err != nil {
		c.Close()
		return nil, nil, "", err
	}
	// Written last: a directory without it is an unfinished build.
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		c.Close()
		return nil, nil, "", err
	}
	return w, c, file, nil
}

// resumeSource opens the source chain in srcDir to build on: an
// unfinished build's (stopped or killed; the chain is crash safe, so its
// head is its last whole block) with the number of blocks it has, which
// the deterministic workload continues exactly as a fresh build would
// (the same transactions, times and view), or a fresh one when there is
// none or it does not fit (more blocks than the workload, or it does not
// open).
func resumeSource(w *l2Workload, btc *l2Bitcoin, srcDir string, blocks int) (*chain.Chain, int, error) {
	if c, err := ourChain(w, btc, srcDir); err == nil {
		if have := int(c.Head().Number.Uint64()); have <= blocks {
			return c, have, nil
		}
		c.Close()
	}
	if err := os.RemoveAll(srcDir); err != nil {
		return nil, 0, err
	}
	c, err := ourChain(w, btc, srcDir)
	return c, 0, err
}

// servingPeer is a libp2p host serving a chain over rangesync.
type servingPeer struct {
	h    host.Host
	stop func()
}

// newLoopbackHost is a libp2p host on a loopback TCP port with the
// default security (Noise or TLS) and muxer (yamux).
func newLoopbackHost() (host.Host, error) {
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay())
	if err != nil {
		return nil, fmt.Errorf("bench: libp2p host: %w", err)
	}
	return h, nil
}

// servePeers starts n hosts serving src.
func servePeers(ctx context.Context, src *chain.Chain, n int) ([]*servingPeer, error) {
	var out []*servingPeer
	for range n {
		h, err := newLoopbackHost()
		if err != nil {
			return out, err
		}
		s, err := rangesync.NewServer(rangesync.ServerConfig{Host: h, Chain: src, Protocol: rangesync.ProtocolID(src.Genesis().Hash()),
			BlockRate: 1e9, RequestRate: 1e6, RequestBurst: 1e6, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			h.Close()
			return out, err
		}
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.Run(sctx)
		}()
		out = append(out, &servingPeer{h: h, stop: func() { cancel(); <-done; h.Close() }})
	}
	return out, nil
}

// timeSync times a fresh follower in dir catching up to head from peers.
func timeSync(ctx context.Context, w *l2Workload, btc *l2Bitcoin, dir string, peers []*servingPeer, head *types.Header) (time.Duration, error) {
	c, err := ourChain(w, btc, dir)
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	defer c.Close()
	h, err := newLoopbackHost()
	if err != nil {
		return 0, err
	}
	defer h.Close()
	var ids []peer.ID
	for _, p := range peers {
		if err := h.Connect(ctx, peer.AddrInfo{ID: p.h.ID(), Addrs: p.h.Addrs()}); err != nil {
			return 0, fmt.Errorf("bench: connect to a serving peer: %w", err)
		}
		ids = append(ids, p.h.ID())
	}
	s, err := rangesync.New(rangesync.Config{Host: h, Chain: c, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return 0, err
	}
	want := head.Hash()
	start := time.Now()
	if err := s.Sync(ctx, rangesync.Target{Number: uint64(w.blocks), Hash: want}, ids); err != nil {
		return 0, fmt.Errorf("bench: sync: %w", err)
	}
	took := time.Since(start)
	if got := c.Head().Hash(); got != want {
		return 0, fmt.Errorf("bench: the follower's head is %s, the source's %s", got, want)
	}
	return took, nil
}

// timeImport times a fresh chain in dir importing the block file.
func timeImport(ctx context.Context, w *l2Workload, btc *l2Bitcoin, dir, file string, head *types.Header) (time.Duration, error) {
	c, err := ourChain(w, btc, dir)
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	defer c.Close()
	start := time.Now()
	st, err := rangesync.ImportFile(ctx, c, file, 0, nil)
	if err != nil {
		return 0, fmt.Errorf("bench: import: %w", err)
	}
	took := time.Since(start)
	if st.Inserted != uint64(w.blocks) {
		return 0, fmt.Errorf("bench: import inserted %d of %d blocks", st.Inserted, w.blocks)
	}
	if got := c.Head().Hash(); got != head.Hash() {
		return 0, errors.New("bench: the imported head differs from the source's")
	}
	return took, nil
}

// PrepareNetSync builds the sync source of cfg's size into cfg.CacheDir
// (required) unless it is cached there already, and times nothing: the
// first run of `hemi bench net` then finds it (`hemi bench net
// --prepare`, so the timed runs can go on a quiet machine later).
func PrepareNetSync(ctx context.Context, cfg NetSyncConfig, out io.Writer) error {
	cfg.setDefaults()
	if cfg.CacheDir == "" {
		return errors.New("bench: preparing the sync source needs a cache dir")
	}
	work, err := os.MkdirTemp(cfg.WorkDir, "hemi-bench-net-sync-")
	if err != nil {
		return fmt.Errorf("bench: work dir: %w", err)
	}
	defer os.RemoveAll(work)
	btc, err := openL2Bitcoin(filepath.Join(work, "bitcoin"), genesis.DefaultViewLag)
	if err != nil {
		return err
	}
	defer btc.Close()
	_, src, _, err := netSource(ctx, cfg, btc, work, out)
	if err != nil {
		return err
	}
	return src.Close()
}
