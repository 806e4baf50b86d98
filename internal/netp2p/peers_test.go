package netp2p

import (
	"slices"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// TestPeerTableGater: inbound peers beyond MaxPeers are refused, static
// and outbound ones are not; a peer penalised to BanScore is banned (no
// dial, no connection) until the ban runs out, which also clears its
// score; accepted blocks raise a score up to 0 only; connections are
// counted, so a peer with two connections stays connected until both
// close; a forgotten peer leaves no state.
func TestPeerTableGater(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	static, a, b := peer.ID("static"), peer.ID("a"), peer.ID("b")
	pt := newPeerTable([]peer.ID{static}, 1, time.Hour, newMetrics(nil))
	pt.now = func() time.Time { return now }
	addr := ma.StringCast("/ip4/127.0.0.1/tcp/1")

	if !pt.InterceptSecured(network.DirInbound, a, nil) {
		t.Fatal("first inbound peer refused under MaxPeers")
	}
	pt.Connected(a, addr, true)
	if pt.InterceptSecured(network.DirInbound, b, nil) {
		t.Fatal("inbound peer beyond MaxPeers accepted")
	}
	if !pt.InterceptSecured(network.DirInbound, static, nil) || !pt.InterceptSecured(network.DirOutbound, b, nil) {
		t.Fatal("a static or outbound peer was refused at MaxPeers")
	}
	if !pt.InterceptSecured(network.DirInbound, a, nil) {
		t.Fatal("a second connection of a connected peer was refused")
	}

	pt.Connected(a, addr, true) // a second connection
	if pt.Disconnected(a) {
		t.Fatal("peer reported gone with a connection still open")
	}
	if info, _ := pt.Info(a); !info.Connected {
		t.Fatal("peer disconnected with a connection still open")
	}
	pt.Connected(b, addr, true)
	pt.Reward(b, 5, common.Hash{5})
	if info, _ := pt.Info(b); info.Score != 0 || info.HeadNumber != 5 {
		t.Fatalf("after a reward from 0: %+v, want score 0 (the cap), head 5", info)
	}
	banned := false
	for i := 0; !banned; i++ {
		if i > -BanScore/PenaltyReject {
			t.Fatal("no ban after the score passed BanScore")
		}
		banned = pt.Penalise(b, PenaltyReject)
	}
	if info, _ := pt.Info(b); info.Score != BanScore || info.BannedUntil != now.Add(time.Hour) {
		t.Fatalf("banned peer %+v: want score %d, banned for an hour", info, BanScore)
	}
	if pt.InterceptPeerDial(b) || pt.InterceptSecured(network.DirOutbound, b, nil) {
		t.Fatal("banned peer may be dialed or connect")
	}
	// A peer refused at its handshake before libp2p reported its
	// connection (the notification is asynchronous) shows as banned.
	early := peer.ID("early")
	pt.Ban(early)
	pt.Connected(early, addr, true)
	if info, _ := pt.Info(early); info.BannedUntil.IsZero() {
		t.Fatalf("peer banned before its connection was reported: %+v, want BannedUntil set", info)
	}
	pt.Disconnected(early)
	if info, ok := pt.Info(early); !ok || info.BannedUntil.IsZero() || info.Connected {
		t.Fatalf("banned peer after its disconnection: %+v, %v: want kept, banned, disconnected", info, ok)
	}
	// A connection closed before libp2p notified it leaves no state; the
	// ban still shows.
	silent := peer.ID("silent")
	pt.Ban(silent)
	if info, ok := pt.Info(silent); !ok || info.BannedUntil.IsZero() || !slices.ContainsFunc(pt.All(), func(i PeerInfo) bool { return i.ID == silent }) {
		t.Fatalf("banned peer without a reported connection: %+v, %v; want listed as banned", info, ok)
	}
	pt.Reward(b, 6, common.Hash{6})
	if info, _ := pt.Info(b); info.Score != BanScore+1 {
		t.Fatalf("score %d after a reward, want %d", info.Score, BanScore+1)
	}
	pt.Disconnected(b)
	now = now.Add(time.Hour + time.Second)
	if !pt.InterceptPeerDial(b) {
		t.Fatal("peer still banned after the ban ran out")
	}
	if info, ok := pt.Info(b); ok && (info.Score != 0 || !info.BannedUntil.IsZero()) {
		t.Fatalf("after the ban: %+v, want a clean score", info)
	}
	if !pt.Disconnected(a) {
		t.Fatal("last connection closed: the peer was not reported gone")
	}
	if _, ok := pt.Info(a); ok {
		t.Fatal("a disconnected, unbanned, non-static peer is still in the table")
	}
}
