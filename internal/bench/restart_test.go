package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/hvm"
)

// TestRunRestart builds two small cached nodes, restarts each and checks
// both served their head and caught up (figures are printed, not
// asserted); a second run reuses the cache.
func TestRunRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two nodes on the embedded regtest Bitcoin")
	}
	dir := t.TempDir()
	sizes := []RestartSize{{L2: 100, BTC: 20}, {L2: 400, BTC: 60}}
	var out bytes.Buffer
	res, err := RunRestart(context.Background(), dir, sizes, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log(out.String())
	for _, r := range res {
		if r.ToRPC <= 0 || r.ToFinality <= 0 {
			t.Fatalf("restart of %+v not measured: %+v", r.Size, r)
		}
	}
	out.Reset()
	if _, err := RunRestart(context.Background(), dir, sizes[:1], &out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out.Bytes(), []byte("cached node")) {
		t.Fatalf("second run did not reuse the cache:\n%s", out.String())
	}
}

// TestRestartCacheFollowsTheGenesis: after the genesis of the restart
// nodes changes, RunRestart does not reuse the node cached for the old
// one (whose chain database the node refuses: "database holds a
// different genesis") but builds one of the new genesis beside it.
func TestRestartCacheFollowsTheGenesis(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two nodes on the embedded regtest Bitcoin")
	}
	ctx := context.Background()
	dir := t.TempDir()
	sizes := []RestartSize{{L2: 20, BTC: 10}}
	var out bytes.Buffer
	if _, err := RunRestart(ctx, dir, sizes, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	before := restartSpec
	t.Cleanup(func() { restartSpec = before })
	restartSpec = func(view hvm.Header, time uint64) (*genesis.Spec, error) {
		spec, err := before(view, time)
		if err != nil {
			return nil, err
		}
		spec.Config.GasLimit += 1_000_000
		return spec, nil
	}
	out.Reset()
	if _, err := RunRestart(ctx, dir, sizes, &out); err != nil {
		t.Fatalf("restart after a genesis change: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "building a node") {
		t.Fatalf("the node of the old genesis was reused:\n%s", out.String())
	}
	nodes, err := filepath.Glob(filepath.Join(dir, "restart-*"))
	if err != nil || len(nodes) != 2 {
		t.Fatalf("cached nodes %v (%v), want one per genesis", nodes, err)
	}
}

// TestGenesisTag: the tag changes with what builds the genesis (its
// config, its allocations) and not with the Bitcoin view or between two
// builds of the same spec.
func TestGenesisTag(t *testing.T) {
	spec := func() *genesis.Spec {
		s, err := restartSpec(tagView(), 0)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tag := func(s *genesis.Spec) string {
		tg, err := genesisTag(s)
		if err != nil {
			t.Fatal(err)
		}
		if len(tg) != 8 {
			t.Fatalf("tag %q, want 8 hex digits", tg)
		}
		return tg
	}
	base := tag(spec())
	if again := tag(spec()); again != base {
		t.Fatalf("same spec, tags %s and %s", base, again)
	}
	otherView := spec()
	otherView.View.Height = 7
	otherView.View.Hash[0] ^= 1
	if got := tag(otherView); got != base {
		t.Fatalf("the view changed the tag: %s, want %s", got, base)
	}
	gas := spec()
	gas.Config.GasLimit++
	if tag(gas) == base {
		t.Fatal("a gas limit change kept the tag")
	}
	alloc := spec()
	for a, acc := range alloc.Alloc {
		acc.Nonce++
		alloc.Alloc[a] = acc
		break
	}
	if tag(alloc) == base {
		t.Fatal("an allocation change kept the tag")
	}
	bad := spec()
	bad.Config.ChainID = 0
	if _, err := genesisTag(bad); err == nil {
		t.Fatal("an invalid genesis gave a tag")
	}
}

// BenchmarkRestart is issue 10's restart_ratio: it builds (once, cached
// under DefaultCacheDir) nodes of 1,000 L2 / 100 Bitcoin blocks and of
// 100,000 / 10,000, restarts each and prints the ratio of the big one's
// time to RPC serving its head over the small one's. Run it with
// -benchtime 1x; the first build takes minutes.
func BenchmarkRestart(b *testing.B) {
	for b.Loop() {
		if _, err := RunRestart(context.Background(), DefaultCacheDir(), DefaultRestartSizes, os.Stdout); err != nil {
			b.Fatal(err)
		}
	}
}
