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
}

// NetSyncResult holds RunNetSync's figures (medians over the runs).
type NetSyncResult struct {
	Blocks        int
	Sync, Import  time.Duration
	SyncBlocksS   float64
	ImportBlocksS float64
	Ratio         float64 // SyncBlocksS / ImportBlocksS
}

// ResultLine formats the line RunNetSync prints last.
func (r NetSyncResult) ResultLine() string {
	return fmt.Sprintf("net-sync blocks=%d sync_blocks_s=%.1f import_blocks_s=%.1f sync_ratio=%.2f",
		r.Blocks, r.SyncBlocksS, r.ImportBlocksS, r.Ratio)
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
	start := time.Now()
	w, src, err := buildNetSource(cfg, btc, filepath.Join(work, "source"))
	if err != nil {
		return res, err
	}
	defer src.Close()
	head := src.Head()
	fmt.Fprintf(out, "source: %d blocks of %d transfers built in %s\n", cfg.Blocks, cfg.PerBlock, time.Since(start).Round(time.Millisecond))
	file := filepath.Join(work, "blocks.rlp")
	if _, err := rangesync.ExportFile(ctx, src, file, 1, head.Number.Uint64()); err != nil {
		return res, err
	}
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
			d, err := timeSync(ctx, w, btc, filepath.Join(work, fmt.Sprintf("sync-%d", run)), peers, head)
			if err != nil {
				return err
			}
			syncs = append(syncs, d)
			fmt.Fprintf(out, "run %d: sync from 2 peers %s (%.1f blocks/s)\n", run, d.Round(time.Millisecond), float64(cfg.Blocks)/d.Seconds())
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

// buildNetSource builds the source chain in dir.
func buildNetSource(cfg NetSyncConfig, btc *l2Bitcoin, dir string) (*l2Workload, *chain.Chain, error) {
	keys, err := l2Keys(cfg.PerBlock)
	if err != nil {
		return nil, nil, err
	}
	w, seq, err := newL2Genesis(l2Kinds[0], cfg.PerBlock, cfg.Blocks, keys, btc)
	if err != nil {
		return nil, nil, err
	}
	// Blocks at most half full keep the base fee from rising (EIP-1559's
	// target is half the limit), so thousands of blocks fit the fee cap.
	w.gasLimit = 2*uint64(cfg.PerBlock)*l2Kinds[0].gas + l2GasMargin
	w.spec.Config.GasLimit = w.gasLimit
	txs, err := w.sign(keys)
	if err != nil {
		return nil, nil, err
	}
	c, err := ourChain(w, btc, dir)
	if err != nil {
		return nil, nil, err
	}
	if err := w.buildOn(c, txs, seq, btc, false); err != nil {
		c.Close()
		return nil, nil, err
	}
	return w, c, nil
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
