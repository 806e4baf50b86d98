package bench

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/chain/genesis"
)

// TestNetSync runs the net-sync benchmark small: both the synced and the
// imported chain must end on the source's head (RunNetSync checks), and
// the figures and the last line are filled. No timing is asserted.
func TestNetSync(t *testing.T) {
	var out bytes.Buffer
	res, err := RunNetSync(context.Background(), NetSyncConfig{Blocks: 300, PerBlock: 10, Runs: 2, WorkDir: t.TempDir()}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if res.SyncBlocksS <= 0 || res.ImportBlocksS <= 0 || res.Ratio <= 0 {
		t.Fatalf("figures %+v", res)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; last != res.ResultLine() || !strings.HasPrefix(last, "net-sync blocks=300 ") {
		t.Fatalf("last line %q", last)
	}
	t.Log(out.String())
}

// TestPrepareNetSyncResumes: a sync source whose build stopped half way
// (its chain holds 3 of 6 blocks, no done marker) is continued, not
// built again, and ends on the same head as a build from scratch.
func TestPrepareNetSyncResumes(t *testing.T) {
	ctx := context.Background()
	cfg := NetSyncConfig{Blocks: 6, PerBlock: 3, WorkDir: t.TempDir()}
	fresh, resumed := t.TempDir(), t.TempDir()
	var out bytes.Buffer
	if err := PrepareNetSync(ctx, NetSyncConfig{Blocks: 6, PerBlock: 3, WorkDir: cfg.WorkDir, CacheDir: fresh}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	// The unfinished build: the first 3 blocks only.
	btc, err := openL2Bitcoin(filepath.Join(t.TempDir(), "bitcoin"), genesis.DefaultViewLag)
	if err != nil {
		t.Fatal(err)
	}
	defer btc.Close()
	w, seq, keys, err := netSyncWorkload(cfg, btc)
	if err != nil {
		t.Fatal(err)
	}
	txs, err := w.sign(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	cfg.CacheDir = resumed
	cachePath := func(dir string) string {
		t.Helper()
		p, err := netSyncCachePath(dir, cfg, w.spec)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	src := filepath.Join(cachePath(resumed), "source")
	c, err := ourChain(w, btc, src)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.buildOn(ctx, c, txs[:3], seq, btc, false); err != nil {
		t.Fatal(err)
	}
	c.Close()
	out.Reset()
	if err := PrepareNetSync(ctx, cfg, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "resuming an unfinished build") || !strings.Contains(out.String(), "at block 3 of 6") {
		t.Fatalf("not resumed:\n%s", out.String())
	}
	heads := make([]string, 2)
	for i, dir := range []string{fresh, resumed} {
		c, err := ourChain(w, btc, filepath.Join(cachePath(dir), "source"))
		if err != nil {
			t.Fatal(err)
		}
		heads[i] = c.Head().Hash().Hex()
		if n := c.Head().Number.Uint64(); n != 6 {
			t.Fatalf("head %d, want 6", n)
		}
		c.Close()
		if _, err := os.Stat(filepath.Join(cachePath(dir), "done")); err != nil {
			t.Fatalf("no done marker: %v", err)
		}
	}
	if heads[0] != heads[1] {
		t.Fatalf("resumed head %s, fresh %s", heads[1], heads[0])
	}
}

// TestNetSyncCancelled: Ctrl-C (a cancelled context) stops net-sync in
// its first long phase: it returns ctx's error before the source chain
// is built (before, signing and building ran to the end, minutes at the
// default size, and only the export saw the context), and its work
// directory is removed.
func TestNetSyncCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	work := t.TempDir()
	var out bytes.Buffer
	_, err := RunNetSync(ctx, NetSyncConfig{Blocks: 1000, PerBlock: 20, Runs: 1, WorkDir: work}, &out)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled\n%s", err, out.String())
	}
	if strings.Contains(out.String(), " built in ") {
		t.Fatalf("the source chain was built after the cancel:\n%s", out.String())
	}
	if left, _ := os.ReadDir(work); len(left) != 0 {
		t.Fatalf("left behind in the work dir: %v", left)
	}
}

// TestWorkloadPhasesCancelled: each long phase of building a workload
// (signing, our blocks, go-ethereum's blocks) returns ctx's error when
// ctx is done, and builds nothing more.
func TestWorkloadPhasesCancelled(t *testing.T) {
	btc, err := openL2Bitcoin(filepath.Join(t.TempDir(), "bitcoin"), genesis.DefaultViewLag)
	if err != nil {
		t.Fatal(err)
	}
	defer btc.Close()
	w, seq, keys, err := netSyncWorkload(NetSyncConfig{Blocks: 4, PerBlock: 3}, btc)
	if err != nil {
		t.Fatal(err)
	}
	txs, err := w.sign(context.Background(), keys)
	if err != nil {
		t.Fatal(err)
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if got, err := w.sign(done, keys); !errors.Is(err, context.Canceled) || got != nil {
		t.Fatalf("sign: %v, %d blocks", err, len(got))
	}
	c, err := ourChain(w, btc, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := w.buildOn(done, c, txs, seq, btc, true); !errors.Is(err, context.Canceled) || c.Head().Number.Uint64() != 0 || len(w.oursHeaders) != 0 {
		t.Fatalf("buildOn: %v, head %d", err, c.Head().Number)
	}
	if err := w.buildGeth(done, txs, common.Address{1}); !errors.Is(err, context.Canceled) || len(w.gethBlocks) != 0 {
		t.Fatalf("buildGeth: %v, %d blocks", err, len(w.gethBlocks))
	}
}
