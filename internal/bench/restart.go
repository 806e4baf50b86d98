package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hemi-go/hemi/internal/btc/index"
	btcregtest "github.com/hemi-go/hemi/internal/btc/regtest"
	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/explorer/addrindex"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/node"
	"github.com/hemi-go/hemi/internal/rpc"
	"github.com/hemi-go/hemi/internal/sequencer"
	"github.com/hemi-go/hemi/internal/tbc"
)

// restartVersion names the layout of a cached restart node; bump it when
// what BuildRestartNode writes changes. 2: the chain database's Close
// removes its recycled write-ahead logs (chaindb), which version 1's
// nodes kept (240 MB for the big node, deleted again at every restart).
// 3: every database's Close also empties its live log (pebblelog.Close),
// which version 2's kept at a memtable's length (30 MiB for the big
// node's chain, unlinked at every restart).
const restartVersion = 3

// RestartSize is one node of the restart benchmark: its L2 and Bitcoin
// lengths.
type RestartSize struct{ L2, BTC int }

// DefaultRestartSizes are issue 10's: the restart of a node with 100,000
// L2 and 10,000 Bitcoin blocks over that of one with 1,000 and 100.
var DefaultRestartSizes = []RestartSize{{L2: 1_000, BTC: 100}, {L2: 100_000, BTC: 10_000}}

// restartMeta is what a restart needs to rebuild the node's genesis (the
// L2 genesis is derived, as the devnet's, from a Bitcoin view and a time).
type restartMeta struct {
	Version    int   `json:"version"`
	ViewHeight int32 `json:"view_height"`
	Time       uint64
	L2, BTC    int
	BuildMS    int64 `json:"build_ms"`
}

// restartSpec is the genesis of the restart nodes over a Bitcoin view and
// a time (the devnet's); tests replace it to change the genesis.
var restartSpec = func(view hvm.Header, time uint64) (*genesis.Spec, error) {
	spec, _, err := genesis.DevnetSpec(crypto.PubkeyToAddress(sequencer.DevKey().PublicKey), view, time)
	return spec, err
}

// RestartCachePath is where the node of size is cached under dir: its
// name carries the layout's version, the sizes, the on-disk formats of
// the Bitcoin index (index.FormatVersion) and of the address index
// (addrindex.Version: a node of an older one rebuilds its address index
// at open, inside the timed restart) and a short hash of the genesis
// (genesisTag, at time 0), so a node of another genesis or index format
// is never reused.
func RestartCachePath(dir string, size RestartSize) (string, error) {
	spec, err := restartSpec(tagView(), 0)
	if err != nil {
		return "", err
	}
	tag, err := genesisTag(spec)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, fmt.Sprintf("restart-v%d-l2-%d-btc-%d-i%d-a%d-g%s", restartVersion, size.L2, size.BTC, index.FormatVersion, addrindex.Version, tag)), nil
}

// BuildRestartNode builds, or finds in the cache dir, a node data
// directory with size.BTC regtest Bitcoin blocks indexed and size.L2
// sealed L2 blocks on them (ten L2 blocks per Bitcoin block's view,
// empty), its finality service having followed both. It returns the
// directory and how long the build took (0 when cached).
func BuildRestartNode(ctx context.Context, dir string, size RestartSize, out io.Writer) (string, time.Duration, error) {
	path, err := RestartCachePath(dir, size)
	if err != nil {
		return "", 0, err
	}
	if _, err := readRestartMeta(path); err == nil {
		fmt.Fprintf(out, "restart: cached node %s\n", path)
		return path, 0, nil
	}
	if err := os.RemoveAll(path); err != nil {
		return "", 0, err
	}
	fmt.Fprintf(out, "restart: building a node with %d L2 and %d Bitcoin blocks into %s\n", size.L2, size.BTC, path)
	start := time.Now()
	meta, err := buildRestartNode(ctx, path, size, out)
	if err != nil {
		return "", 0, fmt.Errorf("bench: build restart node: %w", err)
	}
	meta.BuildMS = time.Since(start).Milliseconds()
	data, err := json.Marshal(meta)
	if err != nil {
		return "", 0, err
	}
	// Written last: a directory without it is an unfinished build.
	if err := os.WriteFile(filepath.Join(path, "meta.json"), data, 0o644); err != nil {
		return "", 0, err
	}
	return path, time.Since(start), nil
}

func readRestartMeta(path string) (*restartMeta, error) {
	data, err := os.ReadFile(filepath.Join(path, "meta.json"))
	if err != nil {
		return nil, err
	}
	var m restartMeta
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	if m.Version != restartVersion {
		return nil, fmt.Errorf("restart node version %d, want %d", m.Version, restartVersion)
	}
	return &m, nil
}

func buildRestartNode(ctx context.Context, path string, size RestartSize, out io.Writer) (*restartMeta, error) {
	log := slog.New(slog.DiscardHandler)
	key := txgen.DeriveKey([]byte("hemi bench restart"), 0)
	addr, err := key.Address(txgen.P2WPKH, &chaincfg.RegressionNetParams)
	if err != nil {
		return nil, err
	}
	rt, err := btcregtest.New(btcregtest.Config{Logger: log})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rtDone := make(chan error, 1)
	go func() { rtDone <- rt.Run(ctx) }()
	defer func() { cancel(); <-rtDone; rt.Close() }()
	for mined := 0; mined < size.BTC; mined += 500 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if _, err := rt.MineEmpty(min(500, size.BTC-mined), addr); err != nil {
			return nil, err
		}
		fmt.Fprintf(out, "restart: mined %d Bitcoin blocks\n", min(mined+500, size.BTC))
	}
	svc, err := tbc.New(tbc.Config{Params: &chaincfg.RegressionNetParams, DataDir: filepath.Join(path, "btc"),
		Peers: []string{rt.P2PAddr()}, Logger: log})
	if err != nil {
		return nil, err
	}
	tbcDone := make(chan error, 1)
	go func() { tbcDone <- svc.Run(ctx) }()
	defer func() { cancel(); <-tbcDone }()
	for {
		if _, h := svc.Index().BlockTip(); h >= int32(size.BTC) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	meta := &restartMeta{Version: restartVersion, ViewHeight: 2, Time: uint64(time.Now().Unix()) - uint64(size.L2) - 3600,
		L2: size.L2, BTC: size.BTC}
	reg := prometheus.NewRegistry()
	n, spec, err := openRestartNode(svc, path, meta, reg, nil)
	if err != nil {
		return nil, err
	}
	defer n.Close()
	nodeDone := make(chan error, 1)
	nctx, ncancel := context.WithCancel(ctx)
	go func() { nodeDone <- n.Run(nctx) }()
	defer func() { ncancel(); <-nodeDone }()
	bv := node.NewBitcoin(svc.Index())
	seqKey := sequencer.DevKey()
	coinbase := crypto.PubkeyToAddress(seqKey.PublicKey)
	span := int64(size.BTC - 2 - int(meta.ViewHeight))
	for i := 1; i <= size.L2; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		vh := meta.ViewHeight + int32(int64(i)*span/int64(size.L2))
		view, err := bv.MainChainAt(vh)
		if err != nil {
			return nil, err
		}
		head := n.Chain.Head()
		b, err := n.Chain.BuildBlock(chain.BuildParams{Parent: head, Time: head.Time + 1, View: view, Coinbase: coinbase})
		if err != nil {
			return nil, fmt.Errorf("L2 block %d: %w", i, err)
		}
		if err := block.Seal(b.Block.Header, seqKey); err != nil {
			return nil, err
		}
		if err := n.Chain.CommitBuilt(b); err != nil {
			return nil, fmt.Errorf("L2 block %d: %w", i, err)
		}
		if i%10_000 == 0 {
			fmt.Fprintf(out, "restart: built %d L2 blocks\n", i)
		}
	}
	// Let finality follow both to the end, so its state is saved.
	iv := spec.Config.KeystoneInterval
	for {
		if finalityCaughtUp(reg, size.BTC, uint64(size.L2)/iv) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return meta, nil
}

// gaugeValue is the value of the registered gauge name (0 while it has
// none).
func gaugeValue(reg *prometheus.Registry, name string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		return 0
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return 0
}

// finalityCaughtUp: the node's finality service has applied Bitcoin up
// to height and the chain's keystones up to keystones.
func finalityCaughtUp(reg *prometheus.Registry, height int, keystones uint64) bool {
	return gaugeValue(reg, "hemi_finality_bitcoin_height") >= float64(height) &&
		gaugeValue(reg, "hemi_finality_keystones") >= float64(keystones)
}

// openRestartNode opens the L2 node of a restart directory over svc,
// serving RPC on ln when given.
func openRestartNode(svc *tbc.Service, path string, meta *restartMeta, reg prometheus.Registerer, ln net.Listener) (*node.Node, *genesis.Spec, error) {
	view, err := node.NewBitcoin(svc.Index()).MainChainAt(meta.ViewHeight)
	if err != nil {
		return nil, nil, err
	}
	spec, err := restartSpec(view, meta.Time)
	if err != nil {
		return nil, nil, err
	}
	cfg := node.Config{Dir: filepath.Join(path, "l2"), BTC: svc, Spec: spec, NoSync: true,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)), Registerer: reg, RPCListener: ln}
	if ln != nil {
		cfg.RPC = rpc.Config{}
	}
	n, err := node.New(cfg)
	return n, spec, err
}

// RestartTiming is one restart: from opening the data directory to the
// RPC answering eth_blockNumber with the head, and to finality having
// caught up with the Bitcoin tip and the chain's keystones.
type RestartTiming struct {
	Size              RestartSize
	ToRPC, ToFinality time.Duration
	// Bitcoin is the Bitcoin layer's open (the index: its pebble
	// database and every header), Node the L2 node's after it (chain,
	// finality state, address index, RPC server), both within ToRPC.
	Bitcoin, Node time.Duration
}

// TimeRestart copies the cached node at path to a work directory (not
// timed) and times its restart in this process: the Bitcoin layer and
// the node opened on it, until RPC serves the head and finality caught
// up. The Bitcoin layer has an unreachable peer: it serves its index.
func TimeRestart(ctx context.Context, path, workDir string) (*RestartTiming, error) {
	meta, err := readRestartMeta(path)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(workDir, "hemi-restart-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	if err := copyNode(work, path); err != nil {
		return nil, fmt.Errorf("bench: copy %s: %w", path, err)
	}
	// The copy's writeback would otherwise compete with the timed
	// restart for the disk.
	syscall.Sync()
	return timeRestartIn(ctx, work, meta)
}

// copyNode copies the node directory src into dst, hard-linking pebble's
// tables (*.sst, never changed once written: pebble only creates and
// deletes them) and copying everything else (write-ahead logs, which
// pebble may recycle in place, manifests, which it appends to): a copy
// of the big node then needs its 260 MB of logs, not its 1.3 GB, and
// takes seconds. Where linking fails (another file system), it copies.
func copyNode(dst, src string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		if filepath.Ext(p) == ".sst" && os.Link(p, to) == nil {
			return nil
		}
		return copyFile(to, p)
	})
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// timeRestartIn times the restart of the node in dir (which it changes).
func timeRestartIn(ctx context.Context, work string, meta *restartMeta) (*RestartTiming, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reg := prometheus.NewRegistry()
	start := time.Now()
	svc, err := tbc.New(tbc.Config{Params: &chaincfg.RegressionNetParams, DataDir: filepath.Join(work, "btc"),
		Peers: []string{"127.0.0.1:1"}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	opened := time.Since(start)
	tbcDone := make(chan error, 1)
	go func() { tbcDone <- svc.Run(ctx) }()
	defer func() { cancel(); <-tbcDone }()
	n, spec, err := openRestartNode(svc, work, meta, reg, ln)
	if err != nil {
		return nil, err
	}
	defer n.Close()
	nodeOpened := time.Since(start) - opened
	nodeDone := make(chan error, 1)
	go func() { nodeDone <- n.Run(ctx) }()
	defer func() { cancel(); <-nodeDone }()
	client, err := ethclient.DialContext(ctx, "http://"+ln.Addr().String())
	if err != nil {
		return nil, err
	}
	defer client.Close()
	t := &RestartTiming{Size: RestartSize{L2: meta.L2, BTC: meta.BTC}, Bitcoin: opened, Node: nodeOpened}
	iv := spec.Config.KeystoneInterval
	for t.ToRPC == 0 || t.ToFinality == 0 {
		if t.ToRPC == 0 {
			if h, err := client.BlockNumber(ctx); err == nil && h == uint64(meta.L2) {
				t.ToRPC = time.Since(start)
			}
		}
		if t.ToFinality == 0 {
			if finalityCaughtUp(reg, meta.BTC, uint64(meta.L2)/iv) {
				t.ToFinality = time.Since(start)
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case err := <-nodeDone:
			nodeDone <- err
			return nil, fmt.Errorf("bench: restarted node stopped: %v", err)
		case <-time.After(time.Millisecond):
		}
		if time.Since(start) > 10*time.Minute {
			return nil, errors.New("bench: restarted node did not reach its head in 10 minutes")
		}
	}
	return t, nil
}

// restartRuns is how many times each node is restarted; the medians
// are reported (a shared machine is noisy: with 3, one node's median
// moved by half between two runs of the benchmark).
const restartRuns = 9

// RunRestart builds (or reuses from dir) the nodes of sizes, times each
// one's restart restartRuns times, the sizes taking turns (so a change
// in the machine's speed meanwhile weighs on every size alike), and
// prints the medians and, last, the ratios of the last size's over the
// first's (issue 10's restart_ratio is rpc_ratio).
func RunRestart(ctx context.Context, dir string, sizes []RestartSize, out io.Writer) ([]RestartTiming, error) {
	if len(sizes) == 0 {
		sizes = DefaultRestartSizes
	}
	if err := os.MkdirAll(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	paths := make([]string, len(sizes))
	for i, sz := range sizes {
		path, took, err := BuildRestartNode(ctx, dir, sz, out)
		if err != nil {
			return nil, err
		}
		if took > 0 {
			fmt.Fprintf(out, "restart: built %d L2 / %d Bitcoin blocks in %s\n", sz.L2, sz.BTC, took.Round(time.Second))
		}
		paths[i] = path
	}
	runs := make([][]RestartTiming, len(sizes))
	for range restartRuns {
		for i, path := range paths {
			t, err := TimeRestart(ctx, path, "")
			if err != nil {
				return nil, err
			}
			runs[i] = append(runs[i], *t)
		}
	}
	res := make([]RestartTiming, len(sizes))
	for i, sz := range sizes {
		var rpcs, fins, btcs, nodes []time.Duration
		for _, t := range runs[i] {
			rpcs, fins = append(rpcs, t.ToRPC), append(fins, t.ToFinality)
			btcs, nodes = append(btcs, t.Bitcoin), append(nodes, t.Node)
		}
		res[i] = RestartTiming{Size: sz, ToRPC: median(rpcs), ToFinality: median(fins), Bitcoin: median(btcs), Node: median(nodes)}
		t := res[i]
		fmt.Fprintf(out, "restart: %d L2 / %d Bitcoin blocks: RPC at its head after %s, finality caught up after %s (medians of %d; RPC %v; Bitcoin layer opened in %s, then the node in %s)\n",
			sz.L2, sz.BTC, t.ToRPC.Round(time.Millisecond), t.ToFinality.Round(time.Millisecond), restartRuns, roundAll(rpcs),
			t.Bitcoin.Round(time.Millisecond), t.Node.Round(time.Millisecond))
	}
	first, last := res[0], res[len(res)-1]
	fmt.Fprintf(out, "restart rpc_ratio=%.2f finality_ratio=%.2f\n",
		float64(last.ToRPC)/float64(first.ToRPC), float64(last.ToFinality)/float64(first.ToFinality))
	return res, nil
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}
