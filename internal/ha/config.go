package ha

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/prometheus/client_golang/prometheus"
)

// Timings are the raft timings of the group, tuned for members on one
// LAN (round trips under a millisecond): the failover target is kill to
// the next block committed by another member at p50 <= 500 ms, max <= 2 s.
//
// A follower that hears nothing from the leader for a random time in
// [Heartbeat, 2*Heartbeat) starts an election (the leader sends a
// heartbeat every Heartbeat/10); a candidate that wins no majority within
// [Election, 2*Election) tries again. So a killed leader is replaced
// after 200-400 ms plus a round trip, then the new leader's barrier (one
// commit, CommitTimeout at most) and the block due, which the producer
// builds at once when its time has passed. A leader that hears from no
// majority for LeaderLease steps down, so a cut-off leader stops
// committing after 150 ms. Lower values elect spuriously when a loaded
// machine stalls a process for a few hundred milliseconds (GC, swap).
type Timings struct {
	Heartbeat   time.Duration
	Election    time.Duration
	LeaderLease time.Duration // at most Heartbeat (raft's rule)
	// Commit is raft's CommitTimeout: the longest a follower waits to
	// learn the commit index without a new entry.
	Commit time.Duration
	// Apply bounds how long Commit waits for raft to take an entry (not
	// the commit itself, which ends with the commit or a lost leadership).
	Apply time.Duration
	// Transport bounds one raft RPC's I/O.
	Transport time.Duration
}

// DefaultTimings are the LAN timings documented on Timings.
var DefaultTimings = Timings{
	Heartbeat:   200 * time.Millisecond,
	Election:    200 * time.Millisecond,
	LeaderLease: 150 * time.Millisecond,
	Commit:      10 * time.Millisecond,
	Apply:       time.Second,
	Transport:   2 * time.Second,
}

// Defaults of the log bound and the Bitcoin tolerance (Config's doc).
const (
	DefaultTrailingLogs      = 1024
	DefaultSnapshotThreshold = 2048
	DefaultMaxBitcoinLag     = 1
)

// Peer is one member of the group: its raft server id (its sealing
// address, one of the genesis sequencers) and its raft address.
type Peer struct {
	ID      common.Address
	Address string // host:port
}

// Config configures a Group. It is not modified after New.
type Config struct {
	// ID is this member's sealing address; it must be in Sequencers.
	ID common.Address
	// Sequencers is the genesis sequencer set: only these may be
	// members.
	Sequencers []common.Address
	// Bind is the raft listen address (host:port, ":0" picks a port).
	Bind string
	// Advertise is the address other members reach this one at (default:
	// the bound address, which then must not be unspecified).
	Advertise string
	// RPCURL is this member's JSON-RPC URL as the other members reach
	// it (http or https): a member that does not lead forwards the
	// transactions sent to it to the leader's (Relay), which it learns
	// from the leader's Status over the raft port. Empty: no member can
	// forward to this one while it leads (they keep the transactions
	// until another leads).
	RPCURL string
	// Peers is the group at bootstrap, this member included: used once,
	// when Dir holds no raft state, and then raft's own configuration
	// (changed by AddMember and RemoveMember) rules. Empty: join an
	// existing group (another member's `hemi ha add`).
	Peers []Peer
	// Dir holds raft.db (the log and stable store, bbolt) and the
	// snapshots.
	Dir string
	// Chain is this member's L2 chain; Bitcoin its Bitcoin layer's sync
	// position; Producer the block producer run while it leads.
	Chain    Chain
	Bitcoin  Bitcoin
	Producer Producer
	// Publisher, when set, gets each of this member's own blocks once
	// the group committed it, before the chain stores it (optional).
	Publisher Publisher
	// BlockTime is the genesis block time: a leader whose chain has not
	// advanced for 3 block times hands leadership over.
	BlockTime time.Duration
	// MaxBitcoinLag is how many blocks the Bitcoin index may trail the
	// tip its peers announce and still count as caught up (default
	// DefaultMaxBitcoinLag, 1: a block just announced is being fetched
	// and indexed).
	MaxBitcoinLag int32
	// Timings default to DefaultTimings (each zero field).
	Timings Timings
	// TrailingLogs is how many log entries a snapshot keeps behind it
	// (default 1024: a member briefly away catches up from the log, a
	// member further behind restores the snapshot and syncs the chain);
	// SnapshotThreshold how many new entries trigger a snapshot (default
	// 2048); SnapshotInterval how often raft checks (default 30 s). The
	// log thus holds at most about TrailingLogs+SnapshotThreshold blocks.
	TrailingLogs      uint64
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	// Admin is the admin endpoint's listen address ("" off). On an
	// address other than loopback it needs AdminToken.
	Admin string
	// AdminToken, if set, is required as "Authorization: Bearer <token>"
	// on every admin request (read from the file ha.admin_token_file).
	AdminToken string
	// NoSync skips bbolt's fsync (tests).
	NoSync     bool
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// withDefaults checks c and fills its defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Chain == nil || c.Bitcoin == nil || c.Producer == nil {
		return c, errors.New("ha: Config needs Chain, Bitcoin and Producer")
	}
	if c.Dir == "" || c.Bind == "" {
		return c, errors.New("ha: Config needs Dir (ha.dir) and Bind (ha.listen)")
	}
	if !slices.Contains(c.Sequencers, c.ID) {
		return c, fmt.Errorf("ha: this member's key %s is not a sequencer of the genesis (%v)", c.ID, c.Sequencers)
	}
	seen := map[common.Address]bool{}
	self := false
	for _, p := range c.Peers {
		if !slices.Contains(c.Sequencers, p.ID) {
			return c, fmt.Errorf("ha: ha.peers: %s is not a sequencer of the genesis (%v)", p.ID, c.Sequencers)
		}
		if seen[p.ID] {
			return c, fmt.Errorf("ha: ha.peers: %s listed twice", p.ID)
		}
		seen[p.ID] = true
		if _, _, err := net.SplitHostPort(p.Address); err != nil {
			return c, fmt.Errorf("ha: ha.peers: %s address %q: %w", p.ID, p.Address, err)
		}
		self = self || p.ID == c.ID
	}
	if len(c.Peers) > 0 && !self {
		return c, fmt.Errorf("ha: ha.peers must list this member (%s) with its own raft address", c.ID)
	}
	if c.RPCURL != "" {
		if u, err := url.Parse(c.RPCURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, fmt.Errorf("ha: ha.rpc_url %q: want http://host:port or https://host:port, this member's JSON-RPC as the other members reach it", c.RPCURL)
		}
	}
	if c.BlockTime <= 0 {
		c.BlockTime = 2 * time.Second
	}
	if c.MaxBitcoinLag <= 0 {
		c.MaxBitcoinLag = DefaultMaxBitcoinLag
	}
	t, d := &c.Timings, DefaultTimings
	for _, f := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&t.Heartbeat, d.Heartbeat}, {&t.Election, d.Election}, {&t.LeaderLease, d.LeaderLease},
		{&t.Commit, d.Commit}, {&t.Apply, d.Apply}, {&t.Transport, d.Transport},
	} {
		if *f.v <= 0 {
			*f.v = f.def
		}
	}
	if t.LeaderLease > t.Heartbeat {
		return c, fmt.Errorf("ha: ha.leader_lease %v must not exceed ha.heartbeat %v", t.LeaderLease, t.Heartbeat)
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = DefaultTrailingLogs
	}
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = DefaultSnapshotThreshold
	}
	if c.SnapshotInterval <= 0 {
		c.SnapshotInterval = 30 * time.Second
	}
	if c.Admin != "" && c.AdminToken == "" {
		host, _, err := net.SplitHostPort(c.Admin)
		if err != nil {
			return c, fmt.Errorf("ha: ha.admin %q: %w", c.Admin, err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return c, fmt.Errorf("ha: ha.admin %s is not a loopback address: set ha.admin_token_file so membership changes are authenticated", c.Admin)
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default().With("subsystem", "ha")
	}
	return c, nil
}

// ParsePeer reads a member as configured (ha.peers, --ha-peer): its
// sealing address and raft address joined by "@", e.g.
// "0x5fbD…@10.0.0.2:7350".
func ParsePeer(s string) (Peer, error) {
	id, addr, ok := strings.Cut(s, "@")
	if !ok || !common.IsHexAddress(id) {
		return Peer{}, fmt.Errorf("ha peer %q: want <sequencer address>@<host:port>, e.g. 0x5FbDB2315678afecb367f032d93F642f64180aa3@10.0.0.2:7350", s)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return Peer{}, fmt.Errorf("ha peer %q: raft address: %w", s, err)
	}
	return Peer{ID: common.HexToAddress(id), Address: addr}, nil
}
