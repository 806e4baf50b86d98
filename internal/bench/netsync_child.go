package bench

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/netp2p/rangesync"
)

// netSyncCacheVersion names the layout of a cached sync source; bump it
// when what netSource writes changes.
const netSyncCacheVersion = 1

// netSyncCachePath is where the sync source of cfg's size and genesis
// spec (netSyncWorkload's) is cached under dir: its name carries a short
// hash of the genesis (genesisTag).
func netSyncCachePath(dir string, cfg NetSyncConfig, spec *genesis.Spec) (string, error) {
	tag, err := genesisTag(spec)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, fmt.Sprintf("net-sync-v%d-b%d-t%d-g%s", netSyncCacheVersion, cfg.Blocks, cfg.PerBlock, tag)), nil
}

// syncedPrefix starts the line the follower process prints when done.
const syncedPrefix = "net-sync-follower synced"

// timeSyncChild runs the syncing follower as its own process (`hemi
// bench net-sync-follower`): it opens a fresh chain in dir, connects to
// peers and syncs to head; it reports its own sync time and its peak
// RSS (VmHWM, read by the child itself once synced).
func timeSyncChild(ctx context.Context, cfg NetSyncConfig, dir string, peers []*servingPeer, head *types.Header, run int) (time.Duration, int64, error) {
	defer os.RemoveAll(dir)
	args := []string{"bench", "net-sync-follower", "--blocks", strconv.Itoa(cfg.Blocks), "--txs", strconv.Itoa(cfg.PerBlock),
		"--dir", dir, "--head", head.Hash().Hex()}
	if cfg.ProfileDir != "" {
		if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
			return 0, 0, err
		}
		args = append(args, "--heap-profile", filepath.Join(cfg.ProfileDir, fmt.Sprintf("sync-%d-heap", run)))
	}
	for _, p := range peers {
		for _, a := range p.h.Addrs() {
			args = append(args, "--peer", a.String()+"/p2p/"+p.h.ID().String())
		}
	}
	cmd := exec.CommandContext(ctx, cfg.FollowerBin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, 0, fmt.Errorf("bench: start the follower process: %w", err)
	}
	var last string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), syncedPrefix) {
			last = sc.Text()
		}
	}
	if err := cmd.Wait(); err != nil {
		return 0, 0, fmt.Errorf("bench: follower process: %w: %s", err, tailString(stderr.String(), 2000))
	}
	took, rss, err := parseSyncedLine(last)
	if err != nil {
		return 0, 0, fmt.Errorf("bench: follower process: %w", err)
	}
	return took, rss, nil
}

// parseSyncedLine reads "net-sync-follower synced took_ns=N vmhwm_kb=M".
func parseSyncedLine(line string) (time.Duration, int64, error) {
	rest, ok := strings.CutPrefix(line, syncedPrefix)
	if !ok {
		return 0, 0, fmt.Errorf("no %q line", syncedPrefix)
	}
	var took, rss int64
	for _, f := range strings.Fields(rest) {
		k, v, _ := strings.Cut(f, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, fmt.Errorf("bad field %q in %q", f, line)
		}
		switch k {
		case "took_ns":
			took = n
		case "vmhwm_kb":
			rss = n
		}
	}
	if took == 0 || rss == 0 {
		return 0, 0, fmt.Errorf("incomplete line %q", line)
	}
	return time.Duration(took), rss, nil
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// NetSyncFollowerMain is the follower process of the sync benchmark
// (`hemi bench net-sync-follower`, hidden): a fresh chain of the
// benchmark's genesis in --dir catches up to --head over libp2p from the
// --peer multiaddrs, then prints the synced line with its own sync time
// and peak RSS.
func NetSyncFollowerMain(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("net-sync-follower", flag.ContinueOnError)
	blocks := fs.Int("blocks", 0, "blocks of the source chain")
	txs := fs.Int("txs", 0, "transfers per block")
	dir := fs.String("dir", "", "fresh data directory")
	headHex := fs.String("head", "", "the source's head hash")
	heapProf := fs.String("heap-profile", "", "path prefix of heap profiles written each minute of the sync and at its end")
	var peerAddrs []string
	fs.Func("peer", "a serving peer's multiaddr with /p2p/<id> (repeated)", func(s string) error {
		peerAddrs = append(peerAddrs, s)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *blocks <= 0 || *txs <= 0 || *dir == "" || len(peerAddrs) == 0 {
		return errors.New("bench net-sync-follower: --blocks, --txs, --dir and --peer are required")
	}
	head := common.HexToHash(*headHex)
	if *headHex == "" || head == (common.Hash{}) {
		return errors.New("bench net-sync-follower: --head is required")
	}
	cfg := NetSyncConfig{Blocks: *blocks, PerBlock: *txs}
	btc, err := openL2Bitcoin(filepath.Join(*dir, "bitcoin"), genesis.DefaultViewLag)
	if err != nil {
		return err
	}
	defer btc.Close()
	w, _, _, err := netSyncWorkload(cfg, btc)
	if err != nil {
		return err
	}
	c, err := ourChain(w, btc, filepath.Join(*dir, "chain"))
	if err != nil {
		return err
	}
	defer c.Close()
	h, err := newLoopbackHost()
	if err != nil {
		return err
	}
	defer h.Close()
	var ids []peer.ID
	for _, s := range peerAddrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return fmt.Errorf("bench net-sync-follower: --peer %q: %w", s, err)
		}
		ai, err := peer.AddrInfoFromP2pAddr(a)
		if err != nil {
			return fmt.Errorf("bench net-sync-follower: --peer %q: %w", s, err)
		}
		if err := h.Connect(ctx, *ai); err != nil {
			return fmt.Errorf("bench net-sync-follower: connect to %s: %w", s, err)
		}
		ids = append(ids, ai.ID)
	}
	s, err := rangesync.New(rangesync.Config{Host: h, Chain: c, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	if *heapProf != "" {
		pctx, stop := context.WithCancel(ctx)
		defer stop()
		go writeHeapProfiles(pctx, *heapProf)
	}
	start := time.Now()
	if err := s.Sync(ctx, rangesync.Target{Number: uint64(*blocks), Hash: head}, ids); err != nil {
		return fmt.Errorf("bench net-sync-follower: sync: %w", err)
	}
	took := time.Since(start)
	if *heapProf != "" {
		if err := writeHeapProfile(*heapProf + "-end.pprof"); err != nil {
			return err
		}
	}
	if got := c.Head().Hash(); got != head {
		return fmt.Errorf("bench net-sync-follower: head %s, want %s", got, head)
	}
	rss, err := vmHWM("self")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s took_ns=%d vmhwm_kb=%d\n", syncedPrefix, took.Nanoseconds(), rss)
	return nil
}

// writeHeapProfiles writes a heap profile to prefix-<minute>.pprof each
// minute until ctx ends: the follower's peak may come before its end.
func writeHeapProfiles(ctx context.Context, prefix string) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for i := 1; ; i++ {
		select {
		case <-t.C:
			if err := writeHeapProfile(fmt.Sprintf("%s-%03d.pprof", prefix, i)); err != nil {
				fmt.Fprintln(os.Stderr, "bench net-sync-follower:", err)
				return
			}
		case <-ctx.Done():
			return
		}
	}
}
