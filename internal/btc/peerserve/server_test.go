package peerserve

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/peer"
	"github.com/btcsuite/btcd/wire/v2"
)

const waitTimeout = 30 * time.Second

// startServer runs a Server over src until the test ends.
func startServer(t testing.TB, src Source) *Server {
	t.Helper()
	return startServerLimits(t, src, Limits{})
}

// startServerLimits is startServer with limits lim.
func startServerLimits(t testing.TB, src Source, lim Limits) *Server {
	t.Helper()
	srv, err := New(Config{
		Params: &chaincfg.RegressionNetParams,
		Source: src,
		Logger: slog.New(slog.DiscardHandler),
		Limits: lim,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return srv
}

// client is a btcd peer connected to a Server, recording what it receives.
type client struct {
	*peer.Peer
	msgs chan wire.Message
}

func dial(t testing.TB, addr string, sendHeaders bool) *client {
	t.Helper()
	c := &client{msgs: make(chan wire.Message, 4096)}
	c.Peer = dialPeer(t, addr, peer.MessageListeners{
		OnRead: func(_ *peer.Peer, _ int, m wire.Message, err error) {
			if err == nil {
				select {
				case c.msgs <- m:
				default:
				}
			}
		},
	})
	if sendHeaders {
		c.QueueMessage(wire.NewMsgSendHeaders(), nil)
	}
	return c
}

// dialPeer connects a btcd peer with listeners l and waits for the
// handshake; the peer is disconnected when the test ends.
func dialPeer(t testing.TB, addr string, l peer.MessageListeners) *peer.Peer {
	t.Helper()
	p, err := peer.NewOutboundPeer(&peer.Config{
		ChainParams:      &chaincfg.RegressionNetParams,
		Services:         wire.SFNodeNetwork | wire.SFNodeWitness,
		UserAgentName:    "peerserve-test",
		UserAgentVersion: "1.0.0",
		TrickleInterval:  10 * time.Millisecond,
		AllowSelfConns:   true, // the server runs in this process
		Listeners:        l,
	}, addr)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p.AssociateConnection(conn)
	t.Cleanup(func() { p.Disconnect(); p.WaitForDisconnect() })
	deadline := time.Now().Add(waitTimeout)
	for !p.VerAckReceived() {
		if time.Now().After(deadline) {
			t.Fatal("no verack from server")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return p
}

// expect returns the next received message of type T, skipping others.
func expect[T wire.Message](t testing.TB, c *client) T {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case m := <-c.msgs:
			if v, ok := m.(T); ok {
				return v
			}
		case <-timer.C:
			var zero T
			t.Fatalf("no %T received", zero)
			return zero
		}
	}
}

func hashesOf(src *memSource, from, to int32) []chainhash.Hash {
	var out []chainhash.Hash
	for h := from; h <= to; h++ {
		hash, _ := src.HashAt(h)
		out = append(out, hash)
	}
	return out
}

func TestLocate(t *testing.T) {
	src := newMemSource(t)
	src.mine(t, 0, 30, 0)
	at := func(h int32) *chainhash.Hash { x, _ := src.HashAt(h); return &x }
	unknown := &chainhash.Hash{1}
	side := src.mine(t, 20, 1, 99)[0] // best chain is now 0..21
	src.mine(t, 20, 10, 0)            // and back to 0..30, side is a side block
	tests := []struct {
		name    string
		locator []*chainhash.Hash
		stop    *chainhash.Hash
		max     int
		want    []chainhash.Hash
	}{
		{name: "empty locator no stop", want: nil, max: 10},
		{name: "empty locator known stop", stop: at(5), max: 10, want: []chainhash.Hash{*at(5)}},
		{name: "empty locator side stop", stop: &side, max: 10, want: []chainhash.Hash{side}},
		{name: "empty locator unknown stop", stop: unknown, max: 10},
		{name: "genesis", locator: []*chainhash.Hash{at(0)}, max: 100, want: hashesOf(src, 1, 30)},
		{name: "unknown locator falls back to genesis", locator: []*chainhash.Hash{unknown}, max: 5, want: hashesOf(src, 1, 5)},
		{name: "side locator skipped", locator: []*chainhash.Hash{&side, at(10)}, max: 100, want: hashesOf(src, 11, 30)},
		{name: "nil entries skipped", locator: []*chainhash.Hash{nil, at(28)}, max: 100, want: hashesOf(src, 29, 30)},
		{name: "at tip", locator: []*chainhash.Hash{at(30)}, max: 100},
		{name: "stop bounds", locator: []*chainhash.Hash{at(3)}, stop: at(7), max: 100, want: hashesOf(src, 4, 7)},
		{name: "stop below start ignored", locator: []*chainhash.Hash{at(10)}, stop: at(2), max: 3, want: hashesOf(src, 11, 13)},
		{name: "max bounds", locator: []*chainhash.Hash{at(0)}, max: 4, want: hashesOf(src, 1, 4)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := locate(src, tc.locator, tc.stop, tc.max)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d hashes, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("hash %d = %s, want %s", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	src := newMemSource(t)
	tests := []struct {
		name string
		cfg  Config
		want error
	}{
		{name: "no params", cfg: Config{Source: src}, want: ErrConfig},
		{name: "no source", cfg: Config{Params: &chaincfg.RegressionNetParams}, want: ErrConfig},
		{name: "negative max peers", cfg: Config{Params: &chaincfg.RegressionNetParams, Source: src, MaxPeers: -1}, want: ErrConfig},
		{name: "bad listen address", cfg: Config{Params: &chaincfg.RegressionNetParams, Source: src, ListenAddr: "127.0.0.1:99999"}, want: ErrListen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestServe(t *testing.T) {
	src := newMemSource(t)
	src.mine(t, 0, 2100, 0)
	srv := startServer(t, src)
	c := dial(t, srv.Addr(), false)
	genesis, _ := src.HashAt(0)
	h100, _ := src.HashAt(100)

	t.Run("getheaders caps at 2000", func(t *testing.T) {
		gh := wire.NewMsgGetHeaders()
		_ = gh.AddBlockLocatorHash(&genesis)
		c.QueueMessage(gh, nil)
		hdrs := expect[*wire.MsgHeaders](t, c)
		if len(hdrs.Headers) != wire.MaxBlockHeadersPerMsg {
			t.Fatalf("got %d headers, want %d", len(hdrs.Headers), wire.MaxBlockHeadersPerMsg)
		}
		if hdrs.Headers[0].PrevBlock != genesis {
			t.Fatal("first header does not follow genesis")
		}
	})
	t.Run("getheaders with stop", func(t *testing.T) {
		gh := wire.NewMsgGetHeaders()
		_ = gh.AddBlockLocatorHash(&genesis)
		gh.HashStop = h100
		c.QueueMessage(gh, nil)
		hdrs := expect[*wire.MsgHeaders](t, c)
		if len(hdrs.Headers) != 100 || hdrs.Headers[99].BlockHash() != h100 {
			t.Fatalf("got %d headers, want 100 ending at the stop hash", len(hdrs.Headers))
		}
	})
	t.Run("getheaders at tip is empty", func(t *testing.T) {
		tip, _ := src.Tip()
		gh := wire.NewMsgGetHeaders()
		_ = gh.AddBlockLocatorHash(&tip)
		c.QueueMessage(gh, nil)
		if hdrs := expect[*wire.MsgHeaders](t, c); len(hdrs.Headers) != 0 {
			t.Fatalf("got %d headers, want 0", len(hdrs.Headers))
		}
	})
	t.Run("getblocks caps at 500", func(t *testing.T) {
		gb := wire.NewMsgGetBlocks(&chainhash.Hash{})
		_ = gb.AddBlockLocatorHash(&genesis)
		c.QueueMessage(gb, nil)
		inv := expect[*wire.MsgInv](t, c)
		if len(inv.InvList) != wire.MaxBlocksPerMsg {
			t.Fatalf("got %d inv, want %d", len(inv.InvList), wire.MaxBlocksPerMsg)
		}
	})
	t.Run("getdata blocks", func(t *testing.T) {
		gd := wire.NewMsgGetData()
		_ = gd.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &h100))
		_ = gd.AddInvVect(wire.NewInvVect(wire.InvTypeBlock, &genesis))
		c.QueueMessage(gd, nil)
		for _, want := range []chainhash.Hash{h100, genesis} {
			b := expect[*wire.MsgBlock](t, c)
			if b.BlockHash() != want {
				t.Fatalf("block %s, want %s", b.BlockHash(), want)
			}
			var buf bytes.Buffer
			_ = b.Serialize(&buf)
			raw, _ := src.RawBlock(want)
			if !bytes.Equal(buf.Bytes(), raw) {
				t.Fatal("served block differs from the source's bytes")
			}
		}
	})
	t.Run("getdata unknown gives notfound", func(t *testing.T) {
		gd := wire.NewMsgGetData()
		_ = gd.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &chainhash.Hash{7}))
		_ = gd.AddInvVect(wire.NewInvVect(wire.InvTypeTx, &chainhash.Hash{8}))
		_ = gd.AddInvVect(wire.NewInvVect(wire.InvTypeFilteredBlock, &h100))
		c.QueueMessage(gd, nil)
		nf := expect[*wire.MsgNotFound](t, c)
		if len(nf.InvList) != 3 {
			t.Fatalf("notfound has %d entries, want 3", len(nf.InvList))
		}
	})

	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: chainhash.Hash{9}}, Sequence: 1})
	tx.AddTxOut(&wire.TxOut{Value: 1000, PkScript: []byte{0x51}})
	txid := tx.TxHash()

	t.Run("tx inv is requested, accepted and relayed", func(t *testing.T) {
		other := dial(t, srv.Addr(), false)
		inv := wire.NewMsgInv()
		_ = inv.AddInvVect(wire.NewInvVect(wire.InvTypeTx, &txid))
		c.QueueMessage(inv, nil)
		gd := expect[*wire.MsgGetData](t, c)
		if len(gd.InvList) != 1 || gd.InvList[0].Hash != txid || gd.InvList[0].Type != wire.InvTypeWitnessTx {
			t.Fatalf("getdata = %+v, want witness tx %s", gd.InvList, txid)
		}
		c.QueueMessage(tx, nil)
		ann := expect[*wire.MsgInv](t, other)
		if len(ann.InvList) != 1 || ann.InvList[0].Hash != txid {
			t.Fatalf("relay inv = %+v, want tx %s", ann.InvList, txid)
		}
		if _, err := src.MempoolTx(txid); err != nil {
			t.Fatalf("tx not in source mempool: %v", err)
		}
		gd2 := wire.NewMsgGetData()
		_ = gd2.AddInvVect(wire.NewInvVect(wire.InvTypeTx, &txid))
		other.QueueMessage(gd2, nil)
		if got := expect[*wire.MsgTx](t, other); got.TxHash() != txid {
			t.Fatalf("served tx %s, want %s", got.TxHash(), txid)
		}
	})
	t.Run("mempool answers with inv", func(t *testing.T) {
		c.QueueMessage(wire.NewMsgMemPool(), nil)
		inv := expect[*wire.MsgInv](t, c)
		if len(inv.InvList) != 1 || inv.InvList[0].Hash != txid {
			t.Fatalf("mempool inv = %+v, want %s", inv.InvList, txid)
		}
	})
	t.Run("rejected tx gets reject", func(t *testing.T) {
		src.mu.Lock()
		src.reject = rejectErr{code: wire.RejectNonstandard}
		src.mu.Unlock()
		defer func() { src.mu.Lock(); src.reject = nil; src.mu.Unlock() }()
		bad := tx.Copy()
		bad.LockTime = 5
		c.QueueMessage(bad, nil)
		rej := expect[*wire.MsgReject](t, c)
		if rej.Code != wire.RejectNonstandard || rej.Cmd != wire.CmdTx || rej.Hash != bad.TxHash() {
			t.Fatalf("reject = %+v", rej)
		}
	})
	t.Run("new tips announced", func(t *testing.T) {
		hc := dial(t, srv.Addr(), true)
		ic := dial(t, srv.Addr(), false)
		// Let both learn where they are, as a syncing peer would.
		for _, cl := range []*client{hc, ic} {
			tip, _ := src.Tip()
			gh := wire.NewMsgGetHeaders()
			_ = gh.AddBlockLocatorHash(&tip)
			cl.QueueMessage(gh, nil)
			expect[*wire.MsgHeaders](t, cl)
		}
		_, height := src.Tip()
		mined := src.mine(t, height, 2, 0)
		hdrs := expect[*wire.MsgHeaders](t, hc)
		if len(hdrs.Headers) != 2 || hdrs.Headers[1].BlockHash() != mined[1] {
			t.Fatalf("sendheaders peer got %d headers, want the 2 new ones", len(hdrs.Headers))
		}
		inv := expect[*wire.MsgInv](t, ic)
		if len(inv.InvList) != 1 || inv.InvList[0].Hash != mined[1] {
			t.Fatalf("inv peer got %+v, want the new tip", inv.InvList)
		}
		// A reorg of depth 1: the sendheaders peer gets the new branch.
		_, height = src.Tip()
		fork := src.mine(t, height-1, 2, 7)
		hdrs = expect[*wire.MsgHeaders](t, hc)
		if len(hdrs.Headers) != 2 || hdrs.Headers[0].BlockHash() != fork[0] {
			t.Fatalf("reorg headers = %d, want the 2 fork headers", len(hdrs.Headers))
		}
	})
}

// rawMessage frames payload as a regtest message with a correct checksum.
func rawMessage(cmd string, payload []byte) []byte {
	var hdr [wire.MessageHeaderSize]byte
	binary.LittleEndian.PutUint32(hdr[0:4], uint32(chaincfg.RegressionNetParams.Net))
	copy(hdr[4:16], cmd)
	binary.LittleEndian.PutUint32(hdr[16:20], uint32(len(payload)))
	copy(hdr[20:24], chainhash.DoubleHashB(payload)[:4])
	return append(hdr[:], payload...)
}

// handshake performs a version/verack exchange on a raw connection.
func handshake(t *testing.T, conn net.Conn) {
	t.Helper()
	me := wire.NewNetAddressIPPort(net.IPv4(127, 0, 0, 1), 1, 0)
	v := wire.NewMsgVersion(me, me, 42, 0)
	v.Services = wire.SFNodeWitness
	if err := wire.WriteMessage(conn, v, wire.ProtocolVersion, chaincfg.RegressionNetParams.Net); err != nil {
		t.Fatal(err)
	}
	if err := wire.WriteMessage(conn, wire.NewMsgVerAck(), wire.ProtocolVersion, chaincfg.RegressionNetParams.Net); err != nil {
		t.Fatal(err)
	}
	for got := false; !got; {
		_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
		m, _, err := wire.ReadMessage(conn, wire.ProtocolVersion, chaincfg.RegressionNetParams.Net)
		if err != nil {
			if errors.Is(err, wire.ErrUnknownMessage) {
				continue
			}
			t.Fatalf("handshake: %v", err)
		}
		_, got = m.(*wire.MsgVerAck)
	}
}

// closedByServer reads until the server closes the connection.
func closedByServer(conn net.Conn) bool {
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	return err == nil || !(errors.As(err, &ne) && ne.Timeout()) // nil at EOF, or reset
}

func TestBadInput(t *testing.T) {
	src := newMemSource(t)
	src.mine(t, 0, 5, 0)
	srv := startServer(t, src)
	badChecksum := rawMessage(wire.CmdPing, make([]byte, 8))
	badChecksum[20] ^= 0xff
	oversized := rawMessage(wire.CmdInv, nil)
	binary.LittleEndian.PutUint32(oversized[16:20], wire.MaxMessagePayload+1)
	tests := []struct {
		name      string
		handshake bool
		send      []byte
		dropped   bool
	}{
		{name: "garbage before version", send: bytes.Repeat([]byte{0xde, 0xad}, 64), dropped: true},
		{name: "wrong network magic", send: append([]byte{1, 2, 3, 4}, rawMessage("version", nil)[4:]...), dropped: true},
		{name: "bad checksum", handshake: true, send: badChecksum, dropped: true},
		{name: "oversized payload", handshake: true, send: oversized, dropped: true},
		{name: "truncated getheaders", handshake: true, send: rawMessage(wire.CmdGetHeaders, []byte{1, 0, 0, 0, 0xfd}), dropped: true},
		{name: "too many locator hashes", handshake: true, send: rawMessage(wire.CmdGetHeaders, append([]byte{1, 0, 0, 0, 0xfd, 0xf5, 0x01}, make([]byte, 32*502)...)), dropped: true},
		{name: "duplicate version", handshake: true, send: rawMessage(wire.CmdVersion, make([]byte, 90)), dropped: true},
		{name: "unknown command ignored", handshake: true, send: rawMessage("hemi", []byte{1, 2, 3}), dropped: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if tc.handshake {
				handshake(t, conn)
			}
			if _, err := conn.Write(tc.send); err != nil {
				t.Fatal(err)
			}
			if tc.dropped {
				if !closedByServer(conn) {
					t.Fatal("server kept the connection")
				}
			} else {
				// Still served: a ping gets its pong.
				ping := wire.NewMsgPing(77)
				if err := wire.WriteMessage(conn, ping, wire.ProtocolVersion, chaincfg.RegressionNetParams.Net); err != nil {
					t.Fatal(err)
				}
				for {
					_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
					m, _, err := wire.ReadMessage(conn, wire.ProtocolVersion, chaincfg.RegressionNetParams.Net)
					if errors.Is(err, wire.ErrUnknownMessage) {
						continue
					}
					if err != nil {
						t.Fatalf("connection dropped: %v", err)
					}
					if p, ok := m.(*wire.MsgPong); ok && p.Nonce == 77 {
						break
					}
				}
			}
		})
	}
	// The server still serves well-behaved peers.
	c := dial(t, srv.Addr(), false)
	tip, _ := src.Tip()
	gd := wire.NewMsgGetData()
	_ = gd.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &tip))
	c.QueueMessage(gd, nil)
	if b := expect[*wire.MsgBlock](t, c); b.BlockHash() != tip {
		t.Fatal("wrong block after bad input")
	}
}

func TestManyPeers(t *testing.T) {
	src := newMemSource(t)
	src.mine(t, 0, 50, 0)
	srv := startServer(t, src)
	tip, _ := src.Tip()
	var wg sync.WaitGroup
	for range 20 {
		c := dial(t, srv.Addr(), false)
		wg.Go(func() {
			gh := wire.NewMsgGetHeaders()
			genesis, _ := src.HashAt(0)
			_ = gh.AddBlockLocatorHash(&genesis)
			c.QueueMessage(gh, nil)
			timer := time.NewTimer(waitTimeout)
			defer timer.Stop()
			for {
				select {
				case m := <-c.msgs:
					if h, ok := m.(*wire.MsgHeaders); ok {
						if len(h.Headers) != 50 || h.Headers[49].BlockHash() != tip {
							t.Errorf("got %d headers", len(h.Headers))
						}
						return
					}
				case <-timer.C:
					t.Error("no headers")
					return
				}
			}
		})
	}
	wg.Wait()
	if n := srv.PeerCount(); n != 20 {
		t.Fatalf("PeerCount = %d, want 20", n)
	}
}

func FuzzStripWitness(f *testing.F) {
	src := newMemSource(f)
	src.mine(f, 0, 1, 0)
	tip, _ := src.Tip()
	raw, _ := src.RawBlock(tip)
	f.Add(raw)
	f.Add([]byte{})
	f.Add(raw[:81])
	f.Fuzz(func(t *testing.T, data []byte) {
		m := stripWitness(data)
		if m == nil {
			return
		}
		var b wire.MsgBlock
		if err := b.Deserialize(bytes.NewReader(data)); err != nil {
			t.Fatalf("stripWitness accepted what Deserialize rejects: %v", err)
		}
		var buf bytes.Buffer
		if err := m.BtcEncode(&buf, wire.ProtocolVersion, wire.BaseEncoding); err != nil {
			t.Fatal(err)
		}
		var back wire.MsgBlock
		if err := back.DeserializeNoWitness(bytes.NewReader(buf.Bytes())); err != nil {
			t.Fatalf("stripped block does not decode: %v", err)
		}
		if back.BlockHash() != b.BlockHash() || len(back.Transactions) != len(b.Transactions) {
			t.Fatal("stripped block differs")
		}
	})
}

func TestBuildLocator(t *testing.T) {
	tests := []struct {
		name    string
		height  int32
		wantLen int
	}{
		{name: "genesis only", height: 0, wantLen: 1},
		{name: "short chain", height: 5, wantLen: 6},
		{name: "ten blocks", height: 10, wantLen: 11},
		{name: "long chain", height: 1000, wantLen: 10 + 8 + 1}, // 1000..991, 989, 985, 977, 961, 929, 865, 737, 481, 0
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := newMemSource(t)
			if tc.height > 0 {
				src.mine(t, 0, int(tc.height), 0)
			}
			loc := buildLocator(src)
			if len(loc) != tc.wantLen {
				t.Fatalf("locator has %d entries, want %d", len(loc), tc.wantLen)
			}
			tip, _ := src.Tip()
			genesis, _ := src.HashAt(0)
			if *loc[0] != tip || *loc[len(loc)-1] != genesis {
				t.Fatal("locator must run from the tip to genesis")
			}
			prev := tc.height + 1
			for _, h := range loc {
				height, ok := src.HeightOf(*h)
				if !ok || height >= prev {
					t.Fatalf("locator entry at height %d after %d", height, prev)
				}
				prev = height
			}
		})
	}
}

// TestAnnouncementsConnect: after a tip announced by inv (more than
// maxHeaderAnnounce blocks at once), the next announcement to a sendheaders
// peer is not a headers message starting after that tip, whose header the
// peer does not have: such headers do not connect, and a peer counts those
// against the sender (a burst of regtest blocks once made our own client
// ban the devnet's node). Once the peer fetched the headers, announcements
// are headers again, and each connects.
func TestAnnouncementsConnect(t *testing.T) {
	src := newMemSource(t)
	src.mine(t, 0, 10, 0)
	srv := startServer(t, src)
	c := dial(t, srv.Addr(), true)
	known := map[chainhash.Hash]bool{}
	for h := int32(0); h <= 10; h++ {
		hash, _ := src.HashAt(h)
		known[hash] = true
	}
	// next returns the next announcement, checking that headers connect
	// to what the peer knows and recording them.
	next := func() wire.Message {
		t.Helper()
		timer := time.NewTimer(waitTimeout)
		defer timer.Stop()
		for {
			select {
			case m := <-c.msgs:
				switch m := m.(type) {
				case *wire.MsgInv:
					return m
				case *wire.MsgHeaders:
					if len(m.Headers) > 0 && !known[m.Headers[0].PrevBlock] {
						t.Fatalf("headers announcement starting at %s does not connect to the peer's headers",
							m.Headers[0].BlockHash())
					}
					for _, h := range m.Headers {
						known[h.BlockHash()] = true
					}
					return m
				}
			case <-timer.C:
				t.Fatal("no announcement")
				return nil
			}
		}
	}
	tip, _ := src.Tip()
	gh := wire.NewMsgGetHeaders()
	_ = gh.AddBlockLocatorHash(&tip)
	c.QueueMessage(gh, nil)
	expect[*wire.MsgHeaders](t, c)

	burst := src.mine(t, 10, 20, 0)
	if inv, ok := next().(*wire.MsgInv); !ok || inv.InvList[0].Hash != burst[19] {
		t.Fatalf("burst of 20: want an inv of the new tip")
	}
	one := src.mine(t, 30, 1, 0)
	if inv, ok := next().(*wire.MsgInv); !ok || inv.InvList[0].Hash != one[0] {
		t.Fatalf("a block after an inv'd tip: want an inv of it, not headers the peer cannot connect")
	}
	// The peer asks for what it lacks; announcements are headers again.
	gh = wire.NewMsgGetHeaders()
	_ = gh.AddBlockLocatorHash(&tip)
	c.QueueMessage(gh, nil)
	next()
	two := src.mine(t, 31, 2, 0)
	if hdrs, ok := next().(*wire.MsgHeaders); !ok || len(hdrs.Headers) != 2 || hdrs.Headers[1].BlockHash() != two[1] {
		t.Fatalf("after getheaders: want the 2 new headers")
	}
}
