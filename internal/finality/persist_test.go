package finality

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hemi-go/hemi/internal/finality/tracker"
)

// buildSim grows a Bitcoin chain of btcBlocks blocks and an L2 chain of
// l2Blocks on it, ten L2 blocks per Bitcoin block, each keystone
// published in the next Bitcoin block: chains whose length is all that
// differs between a short and a long run.
func buildSim(btcBlocks, l2Blocks int) (*simBTC, *simChain) {
	b, c := newSimBTC(), newSimChain()
	for range 3 {
		b.mine()
	}
	per := l2Blocks / btcBlocks
	var pending [][]byte
	for b.height() < int32(btcBlocks) {
		b.mine(pending...)
		pending = nil
		before := c.Head().Number.Uint64() / 25
		c.grow(per, uint32(b.height()-2), 0)
		for n := before + 1; n <= c.Head().Number.Uint64()/25; n++ {
			pending = append(pending, c.ks[n*25].K.Script())
		}
	}
	return b, c
}

func (b *simBTC) height() int32 {
	_, h := b.BlockTip()
	return h
}

// TestRestartWorkDoesNotGrow: a service restarted on its saved state
// reads from the index and the chain only what came after the save, the
// same for a chain of 1,000 L2 / 100 Bitcoin blocks as for one of
// 100,000 / 10,000; and it answers as a service rebuilt from scratch.
func TestRestartWorkDoesNotGrow(t *testing.T) {
	sizes := []struct{ btc, l2 int }{{100, 1_000}, {10_000, 100_000}}
	if testing.Short() {
		sizes[1] = struct{ btc, l2 int }{1_000, 10_000}
	}
	var works []work
	for _, sz := range sizes {
		b, c := buildSim(sz.btc, sz.l2)
		dir := filepath.Join(t.TempDir(), "finality")
		r := runService(t, b, c, dir, 10)
		r.stop()
		// While down: three Bitcoin blocks, one publishing the newest
		// keystone, and two new keystones.
		newest := c.Head().Number.Uint64() / 25 * 25
		b.mine(c.ks[newest].K.Script())
		c.grow(50, uint32(b.height()-2), 0)
		b.mine()
		b.mine()

		resetCounts(b, c)
		r = runService(t, b, c, dir, 10)
		w := countsOf(b, c)
		got := snapshotOf(t, r.s, c)
		r.stop()
		works = append(works, w)
		t.Logf("%d L2 / %d Bitcoin blocks: restart read %d Bitcoin blocks, %d index events, %d Bitcoin headers, %d L2 headers, %d keystones",
			sz.l2, sz.btc, w.btcBlocks, w.events, w.btcHeaders, w.l2Headers, w.keystones)

		resetCounts(b, c)
		fresh := runService(t, b, c, "", 10)
		full := countsOf(b, c)
		want := snapshotOf(t, fresh.s, c)
		fresh.stop()
		t.Logf("the same without saved state: %d Bitcoin blocks, %d index events, %d keystones", full.btcBlocks, full.events, full.keystones)
		if d := got.diff(want); d != "" {
			t.Fatalf("%d L2 blocks: restarted and rebuilt services differ: %s", sz.l2, d)
		}
		if want.heads.Finalized == 0 || want.heads.Finalized < newest-50 {
			t.Fatalf("the scenario should finalize nearly everything: heads %+v, head %d", want.heads, newest+50)
		}
	}
	if works[0] != works[1] {
		t.Fatalf("restart work grows with the chain: short %+v, long %+v", works[0], works[1])
	}
	if w := works[0]; w.btcBlocks != 3 || w.keystones != 2 {
		t.Fatalf("restart read %d Bitcoin blocks and %d keystones, want the 3 and 2 that came after the save", w.btcBlocks, w.keystones)
	}
}

// TestRestartAfterReorgsWhileDown: while the node was down Bitcoin
// reorganised (publications left and others came) and the L2 reorganised
// (new keystones on another branch); the restarted service replays only
// that and answers as a service rebuilt from scratch.
func TestRestartAfterReorgsWhileDown(t *testing.T) {
	b, c := buildSim(30, 300)
	// Keystones 275 and 300 are not published yet: the L2 reorg
	// replaces them.
	dir := filepath.Join(t.TempDir(), "finality")
	r := runService(t, b, c, dir, 6)
	before := r.s.Heads()
	r.stop()

	b.disconnect(4) // the last publications leave (fewer than 6 confirmations)
	b.mine()
	b.mine(c.ks[250].K.Script(), c.ks[225].K.Script())
	c.rewind(260)
	c.grow(70, uint32(b.height()-2), 1)
	b.mine(c.ks[325].K.Script())
	for range 6 {
		b.mine()
	}

	r = runService(t, b, c, dir, 6)
	got := snapshotOf(t, r.s, c)
	r.stop()
	// And what it saved after replaying the reorgs restarts the same.
	r = runService(t, b, c, dir, 6)
	again := snapshotOf(t, r.s, c)
	r.stop()
	if d := again.diff(got); d != "" {
		t.Fatalf("second restart differs: %s", d)
	}
	fresh := runService(t, b, c, "", 6)
	want := snapshotOf(t, fresh.s, c)
	fresh.stop()
	if d := got.diff(want); d != "" {
		t.Fatalf("restarted and rebuilt services differ: %s", d)
	}
	if got.heads.Finalized != 325 || before.Finalized >= 325 {
		t.Fatalf("heads %+v before, %+v after; want keystone 325 of the new branch finalized", before, got.heads)
	}
}

// logCapture counts the records logged through it by level.
type logCapture struct {
	mu   *sync.Mutex
	msgs *[]slog.Record
}

func newLogCapture() logCapture { return logCapture{mu: &sync.Mutex{}, msgs: &[]slog.Record{}} }

func (l logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (l logCapture) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	*l.msgs = append(*l.msgs, r)
	return nil
}
func (l logCapture) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l logCapture) WithGroup(string) slog.Handler      { return l }

func (l logCapture) count(level slog.Level) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range *l.msgs {
		if r.Level == level {
			n++
		}
	}
	return n
}

// fakeClock is the service's Now for the rate-limited log.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestFinalizedNeverGoesBack: a Bitcoin reorg deeper than the superfinal
// depth removes the publication that finalized block 50. The finalized
// tag stays at 50 (also across a restart), the block's finality says
// what Bitcoin says now and that it lost superfinality, the metric
// counts the blocks and the event, an Error is logged once a minute at
// most, fork choice refuses to leave the block; when the keystone is
// superfinal again all of it clears.
func TestFinalizedNeverGoesBack(t *testing.T) {
	b, c := newSimBTC(), newSimChain()
	for range 3 {
		b.mine()
	}
	c.grow(50, 1, 0)
	const depth = 3
	dir := filepath.Join(t.TempDir(), "finality")
	logs := newLogCapture()
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	reg := prometheus.NewRegistry()
	opts := func(cfg *Config) {
		cfg.Logger, cfg.Now, cfg.Registerer = slog.New(logs), clock.Now, reg
	}
	r := runService(t, b, c, dir, depth, opts)
	b.mine(c.ks[50].K.Script())
	b.mine()
	b.mine()
	waitApplied(t, r, b, c)
	if h := r.s.Heads(); h != (Heads{Safe: 50, Finalized: 50}) {
		t.Fatalf("heads %+v, want 50 safe and finalized", h)
	}

	// The reorg: the publication's block and the two on it leave, and
	// a longer branch without it comes.
	b.disconnect(3)
	for range 4 {
		b.mine()
	}
	waitApplied(t, r, b, c)
	wantLost(t, r.s, reg, 50, 1)
	if n := logs.count(slog.LevelError); n != 1 {
		t.Fatalf("%d Error logs, want 1", n)
	}
	cur := []tracker.KeystoneRef{{Number: 25, ID: c.ks[25].ID}, {Number: 50, ID: c.ks[50].ID}}
	cand := []tracker.KeystoneRef{{Number: 25, ID: [32]byte{0xca}}}
	b.mine() // refresh again within the minute
	waitApplied(t, r, b, c)
	if r.s.Prefer(cur, cand) {
		t.Fatal("fork choice would leave the finalized block")
	}
	if n := logs.count(slog.LevelError); n != 1 {
		t.Fatalf("%d Error logs within a minute, want 1", n)
	}
	clock.advance(61 * time.Second)
	b.mine()
	waitApplied(t, r, b, c)
	if n := logs.count(slog.LevelError); n != 2 {
		t.Fatalf("%d Error logs after a minute, want 2", n)
	}
	r.stop()

	// A restart keeps the tag.
	reg = prometheus.NewRegistry()
	r = runService(t, b, c, dir, depth, opts)
	wantLost(t, r.s, reg, 50, 1)

	// Published again and superfinal: everything clears.
	b.mine(c.ks[50].K.Script())
	b.mine()
	b.mine()
	waitApplied(t, r, b, c)
	f, err := r.s.Finality(10)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Finalized || !f.Superfinal || f.SuperfinalityLost {
		t.Fatalf("block 10 after republication: %+v", f)
	}
	if g := testutil.ToFloat64(r.s.metrics.lostBlocks); g != 0 {
		t.Fatalf("gauge %v after recovery, want 0", g)
	}
	r.stop()
}

// wantLost checks the service reports blocks 1..finalized as finalized
// and not superfinal, in its answers and metrics.
func wantLost(t *testing.T, s *Service, reg *prometheus.Registry, finalized uint64, events float64) {
	t.Helper()
	if h := s.Heads(); h.Finalized != finalized || h.Safe < finalized {
		t.Fatalf("heads %+v: the finalized tag moved back from %d", h, finalized)
	}
	f, err := s.Finality(10)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Finalized || f.Superfinal || !f.SuperfinalityLost || f.Published {
		t.Fatalf("block 10: %+v; want finalized, not superfinal, superfinality lost, unpublished", f)
	}
	if g := testutil.ToFloat64(s.metrics.lostBlocks); g != float64(finalized) {
		t.Fatalf("gauge finalized_not_superfinal_blocks %v, want %d", g, finalized)
	}
	if n := testutil.ToFloat64(s.metrics.lostEvents); n != events {
		t.Fatalf("counter superfinality_lost_total %v, want %v", n, events)
	}
	if n, err := testutil.GatherAndCount(reg, "hemi_finality_finalized_not_superfinal_blocks", "hemi_finality_superfinality_lost_total"); err != nil || n != 2 {
		t.Fatalf("registered metrics: %d, %v", n, err)
	}
}
