package peerserve

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hemi-go/hemi/internal/testtools/testkit"
)

// limitServer runs a Server over src with limits lim, its metrics in a
// fresh registry and its logs (Info and up) in a buffer.
type limitServer struct {
	*Server
	reg  *prometheus.Registry
	logs *testkit.LogBuffer
}

func startLimitServer(t *testing.T, src Source, lim Limits) *limitServer {
	t.Helper()
	return startLimitServerConfig(t, Config{Source: src, Limits: lim})
}

// startLimitServerConfig is startLimitServer with more of Config.
func startLimitServerConfig(t *testing.T, cfg Config) *limitServer {
	t.Helper()
	ls := &limitServer{reg: prometheus.NewRegistry(), logs: &testkit.LogBuffer{}}
	cfg.Params = &chaincfg.RegressionNetParams
	cfg.Logger = ls.logs.Logger(slog.LevelInfo)
	cfg.Registerer = ls.reg
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ls.Server = srv
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return ls
}

// metric reads a gauge or counter of the server's registry by name and
// labels; missing means 0 and false.
func (ls *limitServer) metric(t testing.TB, name string, labels ...string) (float64, bool) {
	t.Helper()
	return testkit.Metric(t, ls.reg, name, labels...)
}

// waitMetric waits until the metric has value want.
func (ls *limitServer) waitMetric(t testing.TB, want float64, name string, labels ...string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		got, ok := ls.metric(t, name, labels...)
		if ok && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%v = %v (exported: %v), want %v", name, labels, got, ok, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// idleConns opens n TCP connections to addr that never send a byte.
func idleConns(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	for range n {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return conns
}

// syncChain fetches every header and block of src through c, as a
// syncing node does, and checks them.
func syncChain(t *testing.T, c *client, src *memSource) {
	t.Helper()
	genesis, _ := src.HashAt(0)
	_, height := src.Tip()
	gh := wire.NewMsgGetHeaders()
	_ = gh.AddBlockLocatorHash(&genesis)
	c.QueueMessage(gh, nil)
	hdrs := expect[*wire.MsgHeaders](t, c)
	want := hashesOf(src, 1, height)
	if len(hdrs.Headers) != len(want) {
		t.Fatalf("got %d headers, want %d", len(hdrs.Headers), len(want))
	}
	gd := wire.NewMsgGetData()
	for i, h := range hdrs.Headers {
		hash := h.BlockHash()
		if hash != want[i] {
			t.Fatalf("header %d is %s, want %s", i+1, hash, want[i])
		}
		_ = gd.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &hash))
	}
	c.QueueMessage(gd, nil)
	for i := range want {
		if b := expect[*wire.MsgBlock](t, c); b.BlockHash() != want[i] {
			t.Fatalf("block %d is %s, want %s", i+1, b.BlockHash(), want[i])
		}
	}
}

// TestIdleConnectionsDoNotLockOutPeers: more idle connections than peer
// slots, none of which ever sends its version, leave a real peer free to
// connect and sync at once (before: they filled the 125 slots until btcd's
// 30 s negotiation timeout).
func TestIdleConnectionsDoNotLockOutPeers(t *testing.T) {
	src := newMemSource(t)
	src.mine(t, 0, 20, 0)
	// A long handshake timeout, so that only eviction frees handshake
	// slots and the counts below are exact.
	srv := startLimitServer(t, src, Limits{HandshakeTimeout: 10 * time.Minute})
	const idle = DefaultMaxPeers + 5
	idleConns(t, srv.Addr(), idle)
	// The server accepts in order, so the peer below comes after every
	// idle connection.
	c := dial(t, srv.Addr(), false)
	syncChain(t, c, src)
	srv.waitMetric(t, 1, "hemi_btc_peerserve_peers")
	srv.waitMetric(t, DefaultMaxPending-1, "hemi_btc_peerserve_handshakes")
	srv.waitMetric(t, idle-DefaultMaxPending+1, "hemi_btc_peerserve_refused_total", "reason", reasonEvicted)
	if n := srv.PeerCount(); n != 1 {
		t.Fatalf("PeerCount = %d, want 1 (unfinished handshakes are not peers)", n)
	}
}

// TestEvictionSparesOtherAddresses: a flood of idle connections from one
// address evicts its own handshakes, not another address's handshake in
// progress, which then completes.
func TestEvictionSparesOtherAddresses(t *testing.T) {
	src := newMemSource(t)
	src.mine(t, 0, 3, 0)
	srv := startLimitServer(t, src, Limits{MaxPending: 4, HandshakeTimeout: 10 * time.Minute})
	// half, from 127.0.0.1, is the oldest handshake: it sent its version
	// and got the server's verack, and holds its own.
	half := idleConns(t, srv.Addr(), 1)[0]
	sendVersionAwaitVerAck(t, half)
	// The flood comes from another loopback address.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	for range 10 {
		conn, err := d.Dial("tcp", srv.Addr())
		if err != nil {
			t.Skipf("no second loopback address: %v", err)
		}
		t.Cleanup(func() { _ = conn.Close() })
	}
	srv.waitMetric(t, 7, "hemi_btc_peerserve_refused_total", "reason", reasonEvicted)
	if err := wire.WriteMessage(half, wire.NewMsgVerAck(), wire.ProtocolVersion, chaincfg.RegressionNetParams.Net); err != nil {
		t.Fatal(err)
	}
	srv.waitMetric(t, 1, "hemi_btc_peerserve_peers")
	srv.waitMetric(t, 3, "hemi_btc_peerserve_handshakes")
}

// sendVersionAwaitVerAck starts a handshake on a raw connection and stops
// before sending its own verack.
func sendVersionAwaitVerAck(t *testing.T, conn net.Conn) {
	t.Helper()
	me := wire.NewNetAddressIPPort(net.IPv4(127, 0, 0, 1), 1, 0)
	if err := wire.WriteMessage(conn, wire.NewMsgVersion(me, me, 43, 0), wire.ProtocolVersion, chaincfg.RegressionNetParams.Net); err != nil {
		t.Fatal(err)
	}
	for got := false; !got; {
		_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
		m, _, err := wire.ReadMessage(conn, wire.ProtocolVersion, chaincfg.RegressionNetParams.Net)
		if err != nil && !errors.Is(err, wire.ErrUnknownMessage) {
			t.Fatalf("handshake: %v", err)
		}
		_, got = m.(*wire.MsgVerAck)
	}
}

// TestHandshakeTimeout: a connection that does not finish the handshake in
// time is closed and counted.
func TestHandshakeTimeout(t *testing.T) {
	src := newMemSource(t)
	src.mine(t, 0, 2, 0)
	srv := startLimitServer(t, src, Limits{HandshakeTimeout: 200 * time.Millisecond})
	conn := idleConns(t, srv.Addr(), 1)[0]
	if !closedByServer(conn) {
		t.Fatal("server kept a connection that never sent its version")
	}
	srv.waitMetric(t, 1, "hemi_btc_peerserve_refused_total", "reason", reasonHandshakeTimeout)
	srv.waitMetric(t, 0, "hemi_btc_peerserve_handshakes")
}

// TestPerAddressLimit: one address holds at most its limit of connections,
// handshaking or established; the next is closed with one Warn line, and a
// freed slot is usable again.
func TestPerAddressLimit(t *testing.T) {
	src := newMemSource(t)
	src.mine(t, 0, 5, 0)
	srv := startLimitServer(t, src, Limits{MaxPerLoopbackIP: 3, HandshakeTimeout: 10 * time.Minute})
	dial(t, srv.Addr(), false)
	dial(t, srv.Addr(), false)
	idle := idleConns(t, srv.Addr(), 1)[0]
	for i := range 2 {
		over := idleConns(t, srv.Addr(), 1)[0]
		if !closedByServer(over) {
			t.Fatalf("connection %d over the per-address limit was kept", 4+i)
		}
	}
	srv.waitMetric(t, 2, "hemi_btc_peerserve_refused_total", "reason", reasonPerAddress)
	logs := srv.logs.String()
	if n := strings.Count(logs, "per-address limit reached"); n != 1 {
		t.Fatalf("%d per-address log lines at Info or above, want 1 (Warn, once while at the limit):\n%s", n, logs)
	}
	for _, want := range []string{"level=WARN", "ip=127.0.0.1", "limit=3", "loopback=true"} {
		if !strings.Contains(logs, want) {
			t.Fatalf("per-address log lacks %q:\n%s", want, logs)
		}
	}

	// Another loopback address has its own count.
	pending := 1.0
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	if other, err := d.Dial("tcp", srv.Addr()); err == nil {
		t.Cleanup(func() { _ = other.Close() })
		pending++
		srv.waitMetric(t, pending, "hemi_btc_peerserve_handshakes")
	} else {
		t.Logf("no second loopback address: %v", err)
	}

	// Closing the idle connection frees its slot for a real peer.
	_ = idle.Close()
	srv.waitMetric(t, pending-1, "hemi_btc_peerserve_handshakes")
	c := dial(t, srv.Addr(), false)
	syncChain(t, c, src)
	srv.waitMetric(t, 3, "hemi_btc_peerserve_peers")
}

// TestMaxPeersCountsEstablished: the peer slots hold peers that finished
// the handshake, connections still handshaking do not take them, and a
// handshake that finishes when they are full is dropped.
func TestMaxPeersCountsEstablished(t *testing.T) {
	src := newMemSource(t)
	src.mine(t, 0, 3, 0)
	srv := startLimitServerConfig(t, Config{Source: src, MaxPeers: 1, Limits: Limits{HandshakeTimeout: 10 * time.Minute}})
	idleConns(t, srv.Addr(), 5)
	// half sends its version and gets the server's verack but holds its own.
	half := idleConns(t, srv.Addr(), 1)[0]
	sendVersionAwaitVerAck(t, half)
	c := dial(t, srv.Addr(), false)
	syncChain(t, c, src)
	srv.waitMetric(t, 1, "hemi_btc_peerserve_peers")
	srv.waitMetric(t, 6, "hemi_btc_peerserve_handshakes")

	over := idleConns(t, srv.Addr(), 1)[0]
	if !closedByServer(over) {
		t.Fatal("connection accepted with the peer slots full")
	}
	if err := wire.WriteMessage(half, wire.NewMsgVerAck(), wire.ProtocolVersion, chaincfg.RegressionNetParams.Net); err != nil {
		t.Fatal(err)
	}
	if !closedByServer(half) {
		t.Fatal("handshake finished with the peer slots full was kept")
	}
	srv.waitMetric(t, 2, "hemi_btc_peerserve_refused_total", "reason", reasonMaxPeers)
	srv.waitMetric(t, 5, "hemi_btc_peerserve_handshakes")
	srv.waitMetric(t, 1, "hemi_btc_peerserve_peers")
}

func TestLimitsErrors(t *testing.T) {
	src := newMemSource(t)
	tests := []struct {
		name string
		lim  Limits
	}{
		{name: "negative pending", lim: Limits{MaxPending: -1}},
		{name: "negative handshake timeout", lim: Limits{HandshakeTimeout: -time.Second}},
		{name: "negative per ip", lim: Limits{MaxPerIP: -1}},
		{name: "negative per loopback ip", lim: Limits{MaxPerLoopbackIP: -1}},
		{name: "negative message timeout", lim: Limits{MessageTimeout: -time.Second}},
		{name: "budget below one block", lim: Limits{MessageBudget: maxMessageBytes - 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Config{Params: &chaincfg.RegressionNetParams, Source: src, Limits: tc.lim})
			if err == nil || !strings.Contains(err.Error(), ErrConfig.Error()) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
		})
	}
}
