package peerserve

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// partialBlock is the framing of a block message of length payload bytes
// with all but the last byte of its payload: what a peer holding server
// memory without ever finishing a message sends.
func partialBlock(length int) []byte {
	var hdr [wire.MessageHeaderSize]byte
	binary.LittleEndian.PutUint32(hdr[0:4], uint32(chaincfg.RegressionNetParams.Net))
	copy(hdr[4:16], wire.CmdBlock)
	binary.LittleEndian.PutUint32(hdr[16:20], uint32(length))
	return append(hdr[:], make([]byte, length-1)...)
}

// TestMessageBudget: many peers each sending most of a large message hold
// at most the message budget between them (before: every one held its
// whole message, 370 MB for 100 peers of 4 MB), the others wait without
// being read, and a real peer's small messages still get through.
func TestMessageBudget(t *testing.T) {
	const (
		peers  = 20
		length = 1_000_000
		budget = 4_000_000 // the smallest allowed: four of the messages
	)
	src := newMemSource(t)
	src.mine(t, 0, 10, 0)
	srv := startLimitServer(t, src, Limits{MessageBudget: budget, MessageTimeout: 10 * time.Minute,
		HandshakeTimeout: 10 * time.Minute})
	msg := partialBlock(length)

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	conns := make([]net.Conn, peers)
	for i := range conns {
		conn, err := net.Dial("tcp", srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		handshake(t, conn)
		conns[i] = conn
		// The write blocks once the server stops reading this peer;
		// closing the connection ends it.
		go func() { _, _ = conn.Write(msg) }()
	}
	srv.waitMetric(t, budget, "hemi_btc_peerserve_message_budget_bytes")
	srv.waitMetric(t, peers-budget/length, "hemi_btc_peerserve_message_budget_waiting")

	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if grown > peers*length/2 {
		t.Fatalf("heap grew %d bytes with %d peers sending %d-byte messages under a %d-byte budget", grown, peers, length, budget)
	}
	t.Logf("%d peers each sending %d of a %d-byte message: heap grew %d bytes (budget %d)", peers, length-1, length, grown, budget)

	c := dial(t, srv.Addr(), false)
	syncChain(t, c, src)

	for _, conn := range conns {
		_ = conn.Close()
	}
	srv.waitMetric(t, 0, "hemi_btc_peerserve_message_budget_bytes")
	srv.waitMetric(t, 0, "hemi_btc_peerserve_message_budget_waiting")
	if peak, _ := srv.metric(t, "hemi_btc_peerserve_message_budget_peak_bytes"); peak != budget {
		t.Fatalf("peak budget %v, want %v", peak, budget)
	}
}

// TestSlowMessageDropped: a peer that stops in the middle of a large
// message is dropped after the message timeout and its budget freed.
func TestSlowMessageDropped(t *testing.T) {
	src := newMemSource(t)
	src.mine(t, 0, 2, 0)
	srv := startLimitServer(t, src, Limits{MessageTimeout: 200 * time.Millisecond, HandshakeTimeout: 10 * time.Minute})
	conn, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	handshake(t, conn)
	if _, err := conn.Write(partialBlock(200_000)[:100_000]); err != nil {
		t.Fatal(err)
	}
	if !closedByServer(conn) {
		t.Fatal("server kept a peer stalled in a large message")
	}
	srv.waitMetric(t, 1, "hemi_btc_peerserve_refused_total", "reason", reasonSlowMessage)
	srv.waitMetric(t, 0, "hemi_btc_peerserve_message_budget_bytes")
	if logs := srv.logs.String(); !bytes.Contains([]byte(logs), []byte("reason="+reasonSlowMessage)) {
		t.Fatalf("no log of the drop:\n%s", logs)
	}
}

// TestLargeMessageLimits: a message larger than any valid one, or a large
// one before the handshake, drops the peer without reserving budget.
func TestLargeMessageLimits(t *testing.T) {
	src := newMemSource(t)
	src.mine(t, 0, 2, 0)
	srv := startLimitServer(t, src, Limits{})
	tests := []struct {
		name      string
		handshake bool
		length    int
		reason    string
	}{
		{name: "larger than a block", handshake: true, length: maxMessageBytes + 1, reason: reasonTooLarge},
		{name: "large before the handshake", length: freeMessageBytes + 1, reason: reasonEarlyLarge},
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
			if _, err := conn.Write(partialBlock(tc.length)[:wire.MessageHeaderSize]); err != nil {
				t.Fatal(err)
			}
			if !closedByServer(conn) {
				t.Fatal("server kept the peer")
			}
			srv.waitMetric(t, 1, "hemi_btc_peerserve_refused_total", "reason", tc.reason)
		})
	}
	if peak, _ := srv.metric(t, "hemi_btc_peerserve_message_budget_peak_bytes"); peak != 0 {
		t.Fatalf("budget reserved for refused messages: peak %v", peak)
	}
}

// readConn is a net.Conn reading from r, for budgetConn unit tests.
type readConn struct {
	net.Conn // nil: only Read and Close are used
	r        io.Reader
	closed   bool
}

func (c *readConn) Read(p []byte) (int, error) { return c.r.Read(p) }
func (c *readConn) Close() error               { c.closed = true; return nil }

func testBudgetConn(r io.Reader, established bool) (*budgetConn, *msgBudget, *[]string) {
	m, _ := newMetrics(nil)
	b := newMsgBudget(maxMessageBytes, m)
	var drops []string
	c := newBudgetConn(context.Background(), &readConn{r: r}, b, time.Hour,
		func() bool { return established }, func(reason string, _ error) { drops = append(drops, reason) })
	return c, b, &drops
}

// TestBudgetConnFraming: messages read through a budgetConn are those
// written, a large one counts from its header until the next message is
// read, and Close gives everything back.
func TestBudgetConnFraming(t *testing.T) {
	net := chaincfg.RegressionNetParams.Net
	me := wire.NewNetAddressIPPort([]byte{127, 0, 0, 1}, 1, 0)
	big := wire.NewMsgTx(2)
	big.AddTxOut(&wire.TxOut{Value: 1, PkScript: make([]byte, 3*freeMessageBytes)})
	msgs := []wire.Message{wire.NewMsgVersion(me, me, 1, 0), wire.NewMsgVerAck(), big, wire.NewMsgPing(9), big}
	var stream bytes.Buffer
	for _, m := range msgs {
		if err := wire.WriteMessage(&stream, m, wire.ProtocolVersion, net); err != nil {
			t.Fatal(err)
		}
	}
	c, b, drops := testBudgetConn(&stream, true)
	held := func() int64 { b.mu.Lock(); defer b.mu.Unlock(); return b.held }
	bigLen := int64(big.SerializeSize())
	wantHeld := []int64{0, 0, bigLen, 0, bigLen}
	for i, want := range msgs {
		_, got, err := wire.ReadMessage(c, wire.ProtocolVersion, net)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		var enc bytes.Buffer
		if err := want.BtcEncode(&enc, wire.ProtocolVersion, wire.BaseEncoding); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, enc.Bytes()) {
			t.Fatalf("message %d (%s) differs", i, want.Command())
		}
		if h := held(); h != wantHeld[i] {
			t.Fatalf("after message %d (%s) budget holds %d, want %d", i, want.Command(), h, wantHeld[i])
		}
	}
	if _, _, err := wire.ReadMessage(c, wire.ProtocolVersion, net); !errors.Is(err, io.EOF) {
		t.Fatalf("after the stream: %v, want EOF", err)
	}
	if h := held(); h != 0 {
		t.Fatalf("budget holds %d after the last message was handled", h)
	}
	_ = c.Close()
	if len(*drops) != 0 {
		t.Fatalf("drops: %v", *drops)
	}
}

// FuzzBudgetConn reads an arbitrary stream through a budgetConn in
// arbitrary chunks: what comes out is the stream (or its start, when the
// peer is dropped for a reason), the budget never holds more than one
// message and nothing after Close.
func FuzzBudgetConn(f *testing.F) {
	net := chaincfg.RegressionNetParams.Net
	var stream bytes.Buffer
	_ = wire.WriteMessage(&stream, wire.NewMsgPing(1), wire.ProtocolVersion, net)
	f.Add(stream.Bytes(), []byte{1, 7, 24, 3}, true)
	f.Add(partialBlock(freeMessageBytes+10), []byte{30}, true)
	f.Add(partialBlock(freeMessageBytes+10), []byte{30}, false)
	f.Add(partialBlock(maxMessageBytes + 1)[:30], []byte{0}, true)
	f.Add([]byte{}, []byte{}, true)
	f.Fuzz(func(t *testing.T, data, chunks []byte, established bool) {
		c, b, drops := testBudgetConn(bytes.NewReader(data), established)
		var out []byte
		buf := make([]byte, 256)
		for i := 0; ; i++ {
			n := 1 + len(buf)/2
			if len(chunks) > 0 {
				n = 1 + int(chunks[i%len(chunks)])
			}
			got, err := c.Read(buf[:n])
			out = append(out, buf[:got]...)
			b.mu.Lock()
			held := b.held
			b.mu.Unlock()
			if held < 0 || held > maxMessageBytes {
				t.Fatalf("budget holds %d", held)
			}
			if err != nil {
				break
			}
			if got == 0 {
				t.Fatal("Read returned nothing and no error")
			}
		}
		if !bytes.HasPrefix(data, out) {
			t.Fatal("budgetConn changed the stream")
		}
		// Only an incomplete header at the end is held back (the reader
		// could not use it either) unless the peer was dropped.
		if len(*drops) == 0 && len(data)-len(out) >= wire.MessageHeaderSize {
			t.Fatalf("read %d of %d bytes without a drop", len(out), len(data))
		}
		_ = c.Close()
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.held != 0 || b.waiting != 0 {
			t.Fatalf("after Close the budget holds %d with %d waiting", b.held, b.waiting)
		}
	})
}
