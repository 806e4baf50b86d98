package ha

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/hemi-go/hemi/internal/chain"
)

var (
	// ErrNotLeader: a call only the leader serves (Commit, membership
	// changes) reached a member that does not lead; the error names the
	// leader when one is known.
	ErrNotLeader = errors.New("ha: this member is not the leader")
	// ErrNotCommitted: the group did not commit the block (leadership
	// lost, no majority reachable, shutting down). The sealed block is
	// dropped: it was never stored, served or gossiped.
	ErrNotCommitted = errors.New("ha: block not committed by the group")
)

// Group is one member of the sequencer group: a raft node whose log is
// the chain of committed blocks, the FSM that applies them to the
// member's chain, and the leadership loop that runs the block producer
// only while this member leads and is caught up.
type Group struct {
	cfg Config
	log *slog.Logger
	m   *metrics
	fsm *fsm

	stop      chan struct{}
	started   atomic.Bool
	producing atomic.Bool
	raft      atomic.Pointer[raft.Raft]
	stream    atomic.Pointer[streamLayer]
	addr      atomic.Pointer[string] // advertised raft address, once Run listens
	logs      atomic.Pointer[raftboltdb.BoltStore]
	// leaderURL is the leader's JSON-RPC URL learned last (LeaderRPC).
	leaderURL atomic.Pointer[leaderURL]
}

// New checks cfg and returns the member; nothing listens until Run.
func New(cfg Config) (*Group, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m := newMetrics(cfg.Registerer)
	stop := make(chan struct{})
	g := &Group{cfg: cfg, log: cfg.Logger, m: m, stop: stop,
		fsm: &fsm{chain: cfg.Chain, publisher: cfg.Publisher, log: cfg.Logger, m: m, stop: stop, retry: 25 * time.Millisecond}}
	return g, nil
}

// Commit commits the sealed block b to the group and returns once the
// group committed it and this member stored it (the FSM applies the
// leader's own block with chain.CommitBuilt, without executing it
// again). It implements sequencer.Committer: any error means the block
// was not committed by this call and goes nowhere (ErrNotLeader,
// ErrNotCommitted, ErrRejected, or the chain's).
func (g *Group) Commit(b *chain.Built) error {
	start := time.Now()
	r := g.raft.Load()
	if r == nil || r.State() != raft.Leader {
		g.m.failed.Inc()
		return ErrNotLeader
	}
	data, err := EncodeEntry(b.Block)
	if err != nil {
		g.m.failed.Inc()
		return err
	}
	hash := b.Block.Hash()
	g.fsm.pending.Store(hash, b)
	defer g.fsm.pending.Delete(hash)
	defer g.fsm.committedAt.Delete(hash)
	f := r.Apply(data, g.cfg.Timings.Apply)
	if err := f.Error(); err != nil {
		g.m.failed.Inc()
		return fmt.Errorf("%w: block %d: %v", ErrNotCommitted, b.Block.NumberU64(), err)
	}
	if err, _ := f.Response().(error); err != nil {
		g.m.failed.Inc()
		return err
	}
	g.m.commits.Inc()
	g.m.commitTime.Observe(time.Since(start).Seconds())
	// One line per block, with the wall-clock moment the group committed
	// it: `hemi bench net` measures propagation from it to each
	// follower's import (one machine, one clock), and failover from a
	// kill to the new leader's first one.
	at := time.Now()
	if v, ok := g.fsm.committedAt.Load(hash); ok {
		at = v.(time.Time)
	}
	g.log.Info("block committed", "number", b.Block.NumberU64(), "hash", hash, "txs", len(b.Block.Body.Txs),
		"committed_at", at.UTC().Format(time.RFC3339Nano), "took", time.Since(start).Round(time.Microsecond))
	return nil
}

// Run listens on Config.Bind, opens the raft stores under Config.Dir
// (bootstrapping the group from Config.Peers when they hold no state),
// serves the admin endpoint if configured, and runs the leadership loop
// until ctx is done. On the way out a leader hands leadership over
// first, so a graceful stop fails over without an election timeout.
func (g *Group) Run(ctx context.Context) (err error) {
	if !g.started.CompareAndSwap(false, true) {
		return errors.New("ha: Run called twice")
	}
	var stopOnce sync.Once
	stopFSM := func() { stopOnce.Do(func() { close(g.stop) }) }
	defer stopFSM()
	// The FSM may wait for the chain (a snapshot's block, a view not
	// indexed yet), inside NewRaft too: ctx ends the wait.
	go func() {
		select {
		case <-ctx.Done():
		case <-g.stop:
		}
		stopFSM()
	}()
	if err := os.MkdirAll(g.cfg.Dir, 0o700); err != nil {
		return fmt.Errorf("ha: %w", err)
	}
	hlog := newHCLog(g.log)
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(g.cfg.Dir, "raft.db"), NoSync: g.cfg.NoSync,
		BoltOptions: &bbolt.Options{Timeout: time.Second}})
	if err != nil {
		return fmt.Errorf("ha: open %s (is another node using this directory?): %w", filepath.Join(g.cfg.Dir, "raft.db"), err)
	}
	g.logs.Store(store)
	defer func() {
		g.logs.Store(nil)
		store.Close()
	}()
	logs, err := raft.NewLogCache(512, store)
	if err != nil {
		return fmt.Errorf("ha: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(g.cfg.Dir, 2, hlog)
	if err != nil {
		return fmt.Errorf("ha: snapshots in %s: %w", g.cfg.Dir, err)
	}
	ln, err := net.Listen("tcp", g.cfg.Bind)
	if err != nil {
		return fmt.Errorf("ha: listen %s (ha.listen): %w", g.cfg.Bind, err)
	}
	adv, err := advertised(ln.Addr(), g.cfg.Advertise)
	if err != nil {
		ln.Close()
		return err
	}
	if g.cfg.Admin != "" {
		stopAdmin, err := g.serveAdmin()
		if err != nil {
			ln.Close()
			return err
		}
		defer stopAdmin()
	}
	advs := adv.String()
	g.addr.Store(&advs)
	sl := newStreamLayer(ln, adv, g.Status, g.log)
	g.stream.Store(sl)
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{Stream: sl, MaxPool: 3,
		Timeout: g.cfg.Timings.Transport, Logger: hlog})
	defer trans.Close()

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(g.cfg.ID.Hex())
	t := g.cfg.Timings
	rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout, rc.CommitTimeout = t.Heartbeat, t.Election, t.LeaderLease, t.Commit
	rc.TrailingLogs, rc.SnapshotThreshold, rc.SnapshotInterval = g.cfg.TrailingLogs, g.cfg.SnapshotThreshold, g.cfg.SnapshotInterval
	notify := make(chan bool, 1)
	rc.NotifyCh = notify
	rc.Logger = hlog
	has, err := raft.HasExistingState(logs, store, snaps)
	if err != nil {
		return fmt.Errorf("ha: %w", err)
	}
	r, err := raft.NewRaft(rc, g.fsm, logs, store, snaps, trans)
	if err != nil {
		return fmt.Errorf("ha: start raft: %w", err)
	}
	g.raft.Store(r)
	defer func() {
		if serr := r.Shutdown().Error(); serr != nil && err == nil {
			err = fmt.Errorf("ha: raft shutdown: %w", serr)
		}
	}()
	switch {
	case !has && len(g.cfg.Peers) > 0:
		var servers []raft.Server
		for _, p := range g.cfg.Peers {
			servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID.Hex()), Address: raft.ServerAddress(p.Address)})
		}
		if err := r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			return fmt.Errorf("ha: bootstrap the group: %w", err)
		}
		g.log.Info("raft group bootstrapped", "members", len(servers), "id", rc.LocalID, "address", advs)
	case !has:
		g.log.Info("raft member without state and without ha.peers: waiting to be added (`hemi ha add` on the leader)", "id", rc.LocalID, "address", advs)
	default:
		g.log.Info("raft member restarted from its state", "id", rc.LocalID, "address", advs, "last_index", r.LastIndex())
	}
	return g.lead(ctx, r, notify)
}

// advertised is the address other members dial: adv if set, else the
// bound address, which must then be a concrete IP.
func advertised(bound net.Addr, adv string) (net.Addr, error) {
	if adv == "" {
		a, ok := bound.(*net.TCPAddr)
		if !ok || a.IP == nil || a.IP.IsUnspecified() {
			return nil, fmt.Errorf("ha: listening on %s, which other members cannot dial: set ha.advertise", bound)
		}
		return a, nil
	}
	a, err := net.ResolveTCPAddr("tcp", adv)
	if err != nil || a.IP == nil || a.IP.IsUnspecified() {
		return nil, fmt.Errorf("ha: ha.advertise %q is not a dialable host:port (%v)", adv, err)
	}
	return a, nil
}

// Address is the member's advertised raft address ("" before Run
// listens).
func (g *Group) Address() string {
	if a := g.addr.Load(); a != nil {
		return *a
	}
	return ""
}

// Isolate cuts the member off the group (on: every raft connection
// closed, dials and accepts refused, as a network partition would) or
// heals the cut (off). For failure drills and tests; a no-op before Run.
func (g *Group) Isolate(on bool) {
	if sl := g.stream.Load(); sl != nil {
		sl.isolate(on)
	}
}

// IsLeader reports whether this member leads the group now.
func (g *Group) IsLeader() bool {
	r := g.raft.Load()
	return r != nil && r.State() == raft.Leader
}

// LastApplied is the last block the group committed and this member
// applied (nil before the first).
func (g *Group) LastApplied() *Ref { return g.fsm.lastApplied() }

// newHCLog routes raft's hclog output to slog at Debug: raft logs every
// failed heartbeat at Error, ten times a second, while a member is down,
// an expected event for the group; the events that matter to an
// operator (leadership won and lost, hand-overs, a member behind, a
// block refused) are logged by this package, and a member down shows in
// `hemi ha status` and the metrics.
func newHCLog(log *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Info, Output: hclogWriter{log}, DisableTime: true})
}

type hclogWriter struct{ log *slog.Logger }

func (w hclogWriter) Write(p []byte) (int, error) {
	w.log.Debug("raft", "line", strings.TrimSpace(string(p)))
	return len(p), nil
}

var _ io.Writer = hclogWriter{}
