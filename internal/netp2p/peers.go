package netp2p

import (
	"slices"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Scoring. A peer starts at 0; each fault subtracts its penalty and each
// block it relayed that this node accepted adds 1, up to 0 again, so an
// honest peer's rare fault (a block this node judged late) is forgotten
// and a faulty one reaches BanScore after about ten faults.
const (
	// PenaltyReject is what a message the validator rejects costs its
	// sender.
	PenaltyReject = 10
	// PenaltyInvalid is what a block that passed the validator but fails
	// execution or the chain's rules costs its sender (it made this node
	// execute it).
	PenaltyInvalid = 20
	// BanScore: a peer whose score falls to it is disconnected and its
	// connections are refused for Config.BanDuration.
	BanScore = -100
)

// PeerInfo is one peer as Service.Peers reports it (the status page, logs
// and metrics show the same).
type PeerInfo struct {
	ID peer.ID
	// Addr is the remote address of a connection ("" when disconnected).
	Addr string
	// Inbound is true when the peer dialed this node.
	Inbound bool
	// Static peers come from Config.Peers and are redialed.
	Static bool
	// Connected: at least one open connection.
	Connected bool
	// Ready: the handshake succeeded (same genesis and chain id).
	Ready bool
	// Score is the peer's score (0 is a clean peer; BanScore bans).
	Score int
	// HeadNumber and HeadHash are the newest head the peer announced in
	// the handshake or relayed as a block this node accepted.
	HeadNumber uint64
	HeadHash   common.Hash
	// BannedUntil is set while the peer is banned.
	BannedUntil time.Time
}

type peerState struct {
	info  PeerInfo
	conns int // open connections, counted from libp2p's per-connection notifications
}

// peerTable holds every known peer's state and is the connection gater:
// banned peers are refused at dial and at the secured handshake, inbound
// peers beyond MaxPeers too (static peers always pass). Safe for
// concurrent use: libp2p calls the gater from its own goroutines.
type peerTable struct {
	mu       sync.Mutex
	peers    map[peer.ID]*peerState
	static   map[peer.ID]bool
	banned   map[peer.ID]time.Time
	maxPeers int
	banFor   time.Duration
	now      func() time.Time
	m        *metrics
	// connected counts peers with an open connection (for the gater; the
	// network itself is not asked while it calls the gater).
	connected int
}

func newPeerTable(static []peer.ID, maxPeers int, banFor time.Duration, m *metrics) *peerTable {
	t := &peerTable{peers: map[peer.ID]*peerState{}, static: map[peer.ID]bool{}, banned: map[peer.ID]time.Time{},
		maxPeers: maxPeers, banFor: banFor, now: time.Now, m: m}
	for _, p := range static {
		t.static[p] = true
		t.peers[p] = &peerState{info: PeerInfo{ID: p, Static: true}}
	}
	return t
}

// isBanned reports whether p is banned now. t.mu is held.
func (t *peerTable) isBanned(p peer.ID) bool {
	until, ok := t.banned[p]
	if !ok {
		return false
	}
	if t.now().After(until) {
		delete(t.banned, p)
		if st := t.peers[p]; st != nil {
			st.info.Score = 0
		}
		return false
	}
	return true
}

// ban bans p for the ban duration. t.mu is held.
func (t *peerTable) ban(p peer.ID) {
	t.banned[p] = t.now().Add(t.banFor)
	t.m.bans.Inc()
}

// Ban bans p at once (a peer on another chain).
func (t *peerTable) Ban(p peer.ID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ban(p)
}

// get returns p's state, creating it. t.mu is held.
func (t *peerTable) get(p peer.ID) *peerState {
	st := t.peers[p]
	if st == nil {
		st = &peerState{info: PeerInfo{ID: p, Static: t.static[p]}}
		t.peers[p] = st
	}
	return st
}

// Penalise lowers p's score by points and reports whether p is now
// banned (the caller disconnects it).
func (t *peerTable) Penalise(p peer.ID, points int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.get(p)
	st.info.Score -= points
	t.m.peerScore.WithLabelValues(p.String()).Set(float64(st.info.Score))
	if st.info.Score <= BanScore && !t.isBanned(p) {
		t.ban(p)
		return true
	}
	return false
}

// Reward raises p's score by one, up to 0, and records its head.
func (t *peerTable) Reward(p peer.ID, number uint64, hash common.Hash) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.peers[p]
	if st == nil {
		return
	}
	if st.info.Score < 0 {
		st.info.Score++
		t.m.peerScore.WithLabelValues(p.String()).Set(float64(st.info.Score))
	}
	if number >= st.info.HeadNumber {
		st.info.HeadNumber, st.info.HeadHash = number, hash
		t.m.peerHead.WithLabelValues(p.String()).Set(float64(number))
	}
}

// SetReady records a successful handshake and the head it announced.
func (t *peerTable) SetReady(p peer.ID, number uint64, hash common.Hash) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.get(p)
	st.info.Ready = true
	st.info.HeadNumber, st.info.HeadHash = number, hash
	t.m.peerHead.WithLabelValues(p.String()).Set(float64(number))
	t.m.peerScore.WithLabelValues(p.String()).Set(float64(st.info.Score))
	t.m.ready.Set(float64(t.countReady()))
}

// Ready reports whether p completed the handshake and is connected.
func (t *peerTable) Ready(p peer.ID) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.peers[p]
	return st != nil && st.info.Ready && st.info.Connected
}

func (t *peerTable) countReady() int {
	n := 0
	for _, st := range t.peers {
		if st.info.Ready && st.info.Connected {
			n++
		}
	}
	return n
}

// Connected records an open connection.
func (t *peerTable) Connected(p peer.ID, addr ma.Multiaddr, inbound bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.get(p)
	st.conns++
	if !st.info.Connected {
		t.connected++
	}
	st.info.Connected, st.info.Addr, st.info.Inbound = true, addr.String(), inbound
	t.m.peers.Set(float64(t.connected))
}

// Disconnected records a closed connection and reports whether p has
// none left. A peer left without connections that is neither static nor
// banned is forgotten, so the table stays bounded. (libp2p notifies every
// connection's close after its open, so counting them is exact; asking
// the network instead races with its bookkeeping.)
func (t *peerTable) Disconnected(p peer.ID) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.peers[p]
	if st == nil || !st.info.Connected {
		return false
	}
	if st.conns--; st.conns > 0 {
		return false
	}
	t.connected--
	st.info.Connected, st.info.Ready, st.info.Addr = false, false, ""
	t.m.peers.Set(float64(t.connected))
	t.m.ready.Set(float64(t.countReady()))
	t.m.peerScore.DeleteLabelValues(p.String())
	t.m.peerHead.DeleteLabelValues(p.String())
	if !st.info.Static && !t.isBanned(p) {
		delete(t.peers, p)
	}
	return true
}

// Info returns p's state.
func (t *peerTable) Info(p peer.ID) (PeerInfo, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.peers[p]
	if st == nil {
		// A banned peer may have no state: libp2p does not report a
		// connection closed before its notification went out.
		if t.isBanned(p) {
			return PeerInfo{ID: p, Static: t.static[p], BannedUntil: t.banned[p]}, true
		}
		return PeerInfo{}, false
	}
	return t.infoOf(p, st), true
}

// infoOf is st's info with its ban (the ban map is the truth: a peer may
// be banned by its handshake before libp2p reports its connection and the
// table has a state for it). t.mu is held.
func (t *peerTable) infoOf(p peer.ID, st *peerState) PeerInfo {
	info := st.info
	if t.isBanned(p) {
		info.BannedUntil = t.banned[p]
	}
	return info
}

// All returns every known peer (connected, static or banned), connected
// ones first, then by id.
func (t *peerTable) All() []PeerInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]PeerInfo, 0, len(t.peers))
	for p, st := range t.peers {
		out = append(out, t.infoOf(p, st))
	}
	for p, until := range t.banned {
		if t.peers[p] == nil && t.isBanned(p) {
			out = append(out, PeerInfo{ID: p, Static: t.static[p], BannedUntil: until})
		}
	}
	slices.SortFunc(out, func(a, b PeerInfo) int {
		if a.Connected != b.Connected {
			if a.Connected {
				return -1
			}
			return 1
		}
		return compareIDs(a.ID, b.ID)
	})
	return out
}

func compareIDs(a, b peer.ID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// The connection gater (connmgr.ConnectionGater).

// InterceptPeerDial refuses to dial a banned peer.
func (t *peerTable) InterceptPeerDial(p peer.ID) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.isBanned(p)
}

// InterceptAddrDial allows every address of a peer that may be dialed.
func (t *peerTable) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }

// InterceptAccept allows every inbound connection up to the security
// handshake, where the peer id is known.
func (t *peerTable) InterceptAccept(network.ConnMultiaddrs) bool { return true }

// InterceptSecured refuses banned peers, and inbound peers when MaxPeers
// are connected (a static peer is always let in: it is configured).
func (t *peerTable) InterceptSecured(dir network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.isBanned(p) {
		return false
	}
	if dir == network.DirInbound && !t.static[p] {
		if st := t.peers[p]; (st == nil || !st.info.Connected) && t.connected >= t.maxPeers {
			return false
		}
	}
	return true
}

// InterceptUpgraded allows every connection that got this far.
func (t *peerTable) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
