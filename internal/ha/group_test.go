package ha_test

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/ha"
	"github.com/hemi-go/hemi/internal/node"
	"github.com/hemi-go/hemi/internal/node/nodetest"
	"github.com/hemi-go/hemi/internal/tbc"
	"github.com/hemi-go/hemi/internal/testtools/testkit"
)

// bitcoinLayer is the regtest Bitcoin layer of the group tests
// (nodetest.BitcoinLayer).
func bitcoinLayer(t *testing.T, blocks int) *tbc.Service {
	t.Helper()
	svc, _ := nodetest.BitcoinLayer(t, context.Background(), "ha test", blocks)
	return svc
}

// lagging is the member's real Bitcoin sync position with its index
// reported lag blocks lower: a member behind on Bitcoin.
type lagging struct {
	inner ha.Bitcoin
	lag   atomic.Int32
}

func (l *lagging) SyncHeights() (int32, int32, int) {
	i, a, p := l.inner.SyncHeights()
	return i - l.lag.Load(), a, p
}

// member is one sequencer of the test group: a node with an in-memory
// chain and its raft directory on disk.
type member struct {
	i      int
	key    *ecdsa.PrivateKey
	id     common.Address
	raft   string
	btc    *lagging
	n      *node.Node
	cancel context.CancelFunc
	done   chan error
	// raftDir and chainDir ("" in memory) survive a restart.
	raftDir, chainDir string
}

type group struct {
	t *testing.T
	// tune adjusts each member's ha.Config; disk keeps the chains on
	// disk (a member restarted keeps its chain).
	tune    func(*ha.Config)
	disk    bool
	svc     *tbc.Service
	spec    *genesis.Spec
	peers   []ha.Peer
	members []*member
}

// newGroup starts n sequencers of one genesis in a raft group over
// loopback TCP, with 1 s blocks.
func newGroup(t *testing.T, n int) *group { return newGroupWith(t, n, false, nil) }

// newGroupWith is newGroup with the chains on disk or not and each
// member's ha.Config tuned.
func newGroupWith(t *testing.T, n int, disk bool, tune func(*ha.Config)) *group {
	t.Helper()
	svc := bitcoinLayer(t, 4)
	g := &group{t: t, svc: svc, disk: disk, tune: tune}
	var seqs []common.Address
	for i := range n {
		key, err := crypto.ToECDSA(crypto.Keccak256([]byte(fmt.Sprintf("ha test sequencer %d", i))))
		if err != nil {
			t.Fatal(err)
		}
		m := &member{i: i, key: key, id: crypto.PubkeyToAddress(key.PublicKey), raft: testkit.FreeAddr(t),
			btc: &lagging{inner: node.NewTBCSync(svc)}}
		g.members = append(g.members, m)
		seqs = append(seqs, m.id)
		g.peers = append(g.peers, ha.Peer{ID: m.id, Address: m.raft})
	}
	btc := node.NewBitcoin(svc.Index())
	v, err := btc.MainChainAt(2)
	if err != nil {
		t.Fatal(err)
	}
	f, _, err := genesis.DevnetFile(seqs[0], genesis.BitcoinBlock{Height: v.Height, Hash: v.Hash}, uint64(v.Header.Timestamp.Unix()))
	if err != nil {
		t.Fatal(err)
	}
	f.Config.Sequencers, f.Config.BlockTime = seqs, time.Second
	spec, err := node.GenesisSpec(f, btc)
	if err != nil {
		t.Fatal(err)
	}
	g.spec = spec
	for _, m := range g.members {
		m.raftDir = t.TempDir()
		if disk {
			m.chainDir = t.TempDir()
		}
		g.start(m)
	}
	t.Cleanup(func() {
		for _, m := range g.members {
			g.stop(m)
		}
	})
	return g
}

func (g *group) start(m *member) {
	g.t.Helper()
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("HA_TEST_LOG") != "" {
		level := slog.LevelInfo
		if os.Getenv("HA_TEST_LOG") == "debug" {
			level = slog.LevelDebug
		}
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("member", m.i)
	}
	hc := &ha.Config{Bind: m.raft, Peers: g.peers, Dir: m.raftDir, NoSync: true, Bitcoin: m.btc}
	if g.tune != nil {
		g.tune(hc)
	}
	n, err := node.New(node.Config{Dir: m.chainDir, BTC: g.svc, Spec: g.spec, Key: m.key, NoSync: true, Logger: log, HA: hc})
	if err != nil {
		g.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.n, m.cancel, m.done = n, cancel, make(chan error, 1)
	go func() { m.done <- n.Run(ctx) }()
}

// stop ends the member's node (a graceful stop: a leader hands over
// first) and returns its chain's canonical hashes by number, read
// before the chain is closed.
func (g *group) stop(m *member) []common.Hash {
	g.t.Helper()
	if m.n == nil {
		return nil
	}
	m.cancel()
	if err := <-m.done; err != nil {
		g.t.Errorf("member %d Run: %v", m.i, err)
	}
	hashes := canonical(g.t, m)
	if err := m.n.Close(); err != nil {
		g.t.Errorf("member %d close: %v", m.i, err)
	}
	m.n = nil
	return hashes
}

func canonical(t *testing.T, m *member) []common.Hash {
	t.Helper()
	head := m.n.Chain.Head().Number.Uint64()
	out := make([]common.Hash, head+1)
	for i := range head + 1 {
		h, err := m.n.Chain.HeaderByNumber(i)
		if err != nil {
			t.Fatalf("member %d block %d: %v", m.i, i, err)
		}
		out[i] = h.Hash()
	}
	return out
}

func (g *group) running() []*member {
	var out []*member
	for _, m := range g.members {
		if m.n != nil {
			out = append(out, m)
		}
	}
	return out
}

// waitFor polls cond every 10 ms until it holds or 30 s pass.
func (g *group) waitFor(what string, cond func() bool) {
	g.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			g.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// leader waits until exactly one of ms leads and produces.
func (g *group) leader(ms []*member) *member {
	g.t.Helper()
	var l *member
	g.waitFor("one producing leader", func() bool {
		l = nil
		for _, m := range ms {
			if m.n.HA.IsLeader() && m.n.HA.Status().Producing {
				if l != nil {
					return false
				}
				l = m
			}
		}
		return l != nil
	})
	return l
}

// waitHead waits until every member of ms has a head at or above n.
func (g *group) waitHead(ms []*member, n uint64) {
	g.t.Helper()
	g.waitFor(fmt.Sprintf("head %d on %d members", n, len(ms)), func() bool {
		for _, m := range ms {
			if m.n.Chain.Head().Number.Uint64() < n {
				return false
			}
		}
		return true
	})
}

// checkSame checks that ms hold the same block (hash and state root) at
// every height up to the lowest head, and no side branch: no height
// ever had two blocks on any of them.
func (g *group) checkSame(ms []*member) uint64 {
	g.t.Helper()
	low := ^uint64(0)
	for _, m := range ms {
		low = min(low, m.n.Chain.Head().Number.Uint64())
		if tips, err := m.n.Chain.SideTips(); err != nil || len(tips) > 0 {
			g.t.Fatalf("member %d side tips %d (%v): want none (two blocks at one height)", m.i, len(tips), err)
		}
	}
	for i := range low + 1 {
		var want *types.Header
		for _, m := range ms {
			h, err := m.n.Chain.HeaderByNumber(i)
			if err != nil {
				g.t.Fatalf("member %d block %d: %v", m.i, i, err)
			}
			if want == nil {
				want = h
			} else if h.Hash() != want.Hash() || h.Root != want.Root {
				g.t.Fatalf("block %d: member %d has %s (root %s), member %d has %s (root %s)", i, ms[0].i, want.Hash(),
					want.Root, m.i, h.Hash(), h.Root)
			}
		}
	}
	return low
}

func signer(t *testing.T, m *member, number uint64) common.Address {
	t.Helper()
	h, err := m.n.Chain.HeaderByNumber(number)
	if err != nil {
		t.Fatalf("member %d block %d: %v", m.i, number, err)
	}
	a, err := block.Signer(h)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestGroupReplicates: blocks committed by the leader appear on every
// member with equal hashes and state roots; only the leader seals; the
// FSM's last applied block is every member's head.
func TestGroupReplicates(t *testing.T) {
	g := newGroup(t, 3)
	l := g.leader(g.members)
	g.waitHead(g.members, 4)
	top := g.checkSame(g.members)
	for i := uint64(1); i <= top; i++ {
		if s := signer(t, l, i); s != l.id {
			// Leadership may have moved once at start (a stale start);
			// every block is still sealed by a member.
			found := false
			for _, m := range g.members {
				found = found || m.id == s
			}
			if !found {
				t.Fatalf("block %d sealed by %s, not a member", i, s)
			}
		}
	}
	// A member's FSM records a block as applied just after storing it,
	// so the head may be seen a moment before the record: wait for it.
	for _, m := range g.members {
		st := m.n.HA.Status()
		for deadline := time.Now().Add(10 * time.Second); (st.Applied == nil || st.Applied.Number < 4) && time.Now().Before(deadline); st = m.n.HA.Status() {
			time.Sleep(20 * time.Millisecond)
		}
		if st.Applied == nil || st.Applied.Number < 4 {
			t.Fatalf("member %d applied %+v, want at least block 4", m.i, st.Applied)
		}
	}
	ms, err := l.n.HA.Members()
	if err != nil || len(ms) != 3 {
		t.Fatalf("members %+v, %v: want the 3 bootstrapped", ms, err)
	}
}

// TestLeaderShutdown: the leader stops; another member commits the next
// block; every block the old leader had is on the others (none lost) and
// no height has two blocks.
func TestLeaderShutdown(t *testing.T) {
	g := newGroup(t, 3)
	l := g.leader(g.members)
	g.waitHead(g.members, 2)
	stopped := time.Now()
	old := g.stop(l)
	rest := g.running()
	g.waitHead(rest, uint64(len(old)))
	t.Logf("stop to the next block on the others: %v", time.Since(stopped))
	g.waitHead(rest, uint64(len(old)+1))
	g.checkSame(rest)
	for i, h := range old {
		got, err := rest[0].n.Chain.HeaderByNumber(uint64(i))
		if err != nil || got.Hash() != h {
			t.Fatalf("old leader's block %d %s: the others have %v (%v): a committed block was lost", i, h, got, err)
		}
	}
	if s := signer(t, rest[0], uint64(len(old))); s == l.id {
		t.Fatalf("block %d after the leader stopped was sealed by it", len(old))
	}
}

// TestLeaderCutOff: the leader's raft transport is cut; it stops
// producing because it cannot commit; the majority elects a leader and
// goes on; after the cut heals the old leader applies the majority's
// blocks without a reorg.
func TestLeaderCutOff(t *testing.T) {
	g := newGroup(t, 3)
	l := g.leader(g.members)
	g.waitHead(g.members, 2)
	reorgs := l.n.Chain.SubscribeReorgs(t.Context())
	cut := time.Now()
	l.n.HA.Isolate(true)
	g.waitFor("the cut-off leader to stop producing", func() bool { return !l.n.HA.Status().Producing })
	stopped := time.Since(cut)
	cutHead := l.n.Chain.Head().Number.Uint64()
	rest := others(g.members, l)
	nl := g.leader(rest)
	t.Logf("cut to the old leader's producer stopped: %v; to a new leader producing: %v", stopped, time.Since(cut))
	g.waitHead(rest, cutHead+3)
	if h := l.n.Chain.Head().Number.Uint64(); h > cutHead+1 {
		t.Fatalf("cut-off member's head moved from %d to %d", cutHead, h)
	}
	if s := signer(t, nl, cutHead+2); s == l.id {
		t.Fatalf("block %d sealed by the cut-off leader", cutHead+2)
	}
	l.n.HA.Isolate(false)
	target := rest[0].n.Chain.Head().Number.Uint64() + 1
	g.waitHead(g.members, target)
	g.checkSame(g.members)
	select {
	case r := <-reorgs:
		t.Fatalf("the old leader reorganised on rejoining: %+v", r)
	default:
	}
}

// others is ms without x.
func others(ms []*member, x *member) []*member {
	var out []*member
	for _, m := range ms {
		if m != x {
			out = append(out, m)
		}
	}
	return out
}

// TestStaleMemberNotLeader: a leader whose Bitcoin index falls behind
// the tip its peers announce stops building and hands leadership to a
// caught-up member; a stale member does not build: made the only other
// candidate when the leader is cut off and stopped, it either loses the
// election or, winning it, hands leadership over, and every later block
// is sealed by the caught-up member.
func TestStaleMemberNotLeader(t *testing.T) {
	g := newGroup(t, 3)
	l := g.leader(g.members)
	g.waitHead(g.members, 2)

	l.btc.lag.Store(3)
	m := g.leader(others(g.members, l))
	h := m.n.Chain.Head().Number.Uint64()
	g.waitHead(g.members, h+2)
	for i := h + 1; i <= h+2; i++ {
		if s := signer(t, m, i); s == l.id {
			t.Fatalf("block %d sealed by the leader that fell behind on Bitcoin", i)
		}
	}
	if l.n.HA.Status().Producing {
		t.Fatal("the member behind on Bitcoin produces")
	}

	stale, fresh := l, others(others(g.members, l), m)[0]
	g.waitFor("the stale member to say so", func() bool { return !stale.n.HA.Status().CaughtUp })
	m.n.HA.Isolate(true) // no hand-over on the way out: an election
	old := g.stop(m)
	from := uint64(len(old))
	rest := []*member{stale, fresh}
	g.waitHead(rest, from+3)
	g.checkSame(rest)
	for i := from; i <= from+3; i++ {
		if s := signer(t, fresh, i); s != fresh.id {
			t.Fatalf("block %d sealed by %s, want the caught-up member %s (stale: %s)", i, s, fresh.id, stale.id)
		}
	}
	if stale.n.HA.Status().Producing {
		t.Fatal("the stale member produces")
	}
}

// TestMembershipAdmin: the admin endpoint lists members and, on the
// leader, removes and adds one (a follower answers that it is not the
// leader, naming it); with a token, a request without it is refused.
func TestMembershipAdmin(t *testing.T) {
	g := newGroup(t, 3)
	l := g.leader(g.members)
	f := others(g.members, l)[0]
	ctx := t.Context()
	srv := httptest.NewServer(l.n.HA.AdminHandler())
	defer srv.Close()
	cl := &ha.AdminClient{URL: srv.URL}
	ms, err := cl.Members(ctx)
	if err != nil || len(ms) != 3 {
		t.Fatalf("members %+v, %v: want 3", ms, err)
	}
	fsrv := httptest.NewServer(f.n.HA.AdminHandler())
	defer fsrv.Close()
	if err := (&ha.AdminClient{URL: fsrv.URL}).Remove(ctx, f.id); err == nil || !strings.Contains(err.Error(), "not the leader") {
		t.Fatalf("remove on a follower: %v, want not the leader", err)
	}
	if err := cl.Add(ctx, common.Address{1}, "127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "not a sequencer") {
		t.Fatalf("add a non-sequencer: %v, want refused", err)
	}
	if err := cl.Remove(ctx, f.id); err != nil {
		t.Fatal(err)
	}
	if ms, err := cl.Members(ctx); err != nil || len(ms) != 2 {
		t.Fatalf("members after remove %+v, %v: want 2", ms, err)
	}
	if err := cl.Add(ctx, f.id, f.raft); err != nil {
		t.Fatal(err)
	}
	if ms, err := cl.Members(ctx); err != nil || len(ms) != 3 {
		t.Fatalf("members after add %+v, %v: want 3", ms, err)
	}
	st, err := cl.Status(ctx)
	if err != nil || st.State != "Leader" || st.ID != l.id {
		t.Fatalf("status %+v, %v: want the leader's", st, err)
	}
	g.waitHead(g.members, l.n.Chain.Head().Number.Uint64()+1)
	g.checkSame(g.members)

	// A token-protected endpoint (a copy of the leader's config with a
	// token, on a non-loopback address, is accepted by New).
	hc := ha.Config{ID: l.id, Sequencers: g.spec.Config.Sequencers, Bind: "127.0.0.1:0", Dir: t.TempDir(),
		Chain: l.n.Chain, Bitcoin: l.btc, Producer: l.n.Sequencer, Admin: "0.0.0.0:7360"}
	if _, err := ha.New(hc); err == nil || !strings.Contains(err.Error(), "admin_token_file") {
		t.Fatalf("non-loopback admin without a token: %v, want refused", err)
	}
	hc.AdminToken = "s3cret"
	tg, err := ha.New(hc)
	if err != nil {
		t.Fatal(err)
	}
	tsrv := httptest.NewServer(tg.AdminHandler())
	defer tsrv.Close()
	if _, err := (&ha.AdminClient{URL: tsrv.URL}).Status(ctx); err == nil || !strings.Contains(err.Error(), "token") {
		t.Fatalf("no token: %v, want refused", err)
	}
	if _, err := (&ha.AdminClient{URL: tsrv.URL, Token: "wrong"}).Status(ctx); err == nil {
		t.Fatal("wrong token accepted")
	}
	if _, err := (&ha.AdminClient{URL: tsrv.URL, Token: "s3cret"}).Status(ctx); err != nil {
		t.Fatalf("right token: %v", err)
	}
}

// TestBoundedLogRestart: with a small snapshot threshold the raft log
// keeps a bounded tail while blocks go on; a follower and then the
// leader, stopped for a few blocks (fewer than the tail) and restarted on
// their raft directories and on-disk chains, restore their own snapshot
// (their chains hold its block), replay the tail and follow the group
// again with the same blocks. (A member away longer than the tail gets
// the leader's snapshot and waits for L2 sync to bring its chain to the
// snapshot's block: TestFSMWaitsForChain, TestFSMSnapshotRestore.)
func TestBoundedLogRestart(t *testing.T) {
	const trailing, threshold = 10, 4
	g := newGroupWith(t, 3, true, func(c *ha.Config) {
		c.TrailingLogs, c.SnapshotThreshold, c.SnapshotInterval = trailing, threshold, 50*time.Millisecond
	})
	l := g.leader(g.members)
	g.waitFor("a snapshot that truncated the log", func() bool {
		st := l.n.HA.Status()
		return st.LogFirst > 1
	})
	for _, m := range g.members {
		st := m.n.HA.Status()
		// The log holds at most the trailing entries, the entries since
		// the last snapshot and the configuration and no-op entries.
		if st.LogFirst > 1 && st.LogLast-st.LogFirst+1 > trailing+threshold+4 {
			t.Fatalf("member %d log %d..%d: more than the bounded tail", m.i, st.LogFirst, st.LogLast)
		}
	}
	f := others(g.members, l)[0]
	for _, m := range []*member{f, l} {
		g.stop(m)
		rest := others(g.members, m)
		h := g.leader(rest).n.Chain.Head().Number.Uint64()
		g.waitHead(rest, h+1)
		g.start(m)
		g.waitHead(g.members, h+4)
		g.checkSame(g.members)
		if st := m.n.HA.Status(); st.Applied == nil || !st.CaughtUp {
			t.Fatalf("restarted member %d: %+v, want caught up with the group", m.i, st)
		}
	}
}
