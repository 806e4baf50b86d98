package peerserve

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// FuzzPeerMessage sends one arbitrary, correctly framed message after the
// handshake and checks that the server either answers a following ping or
// drops the connection, and keeps serving new peers either way.
func FuzzPeerMessage(f *testing.F) {
	src := newMemSource(f)
	src.mine(f, 0, 20, 0)
	// One connection per input, closed at its end: faster than the server
	// may release closed ones, so the per-address limit is lifted here.
	srv := startServerLimits(f, src, Limits{MaxPerLoopbackIP: 1 << 20})
	tip, _ := src.Tip()
	genesis, _ := src.HashAt(0)

	gh := wire.NewMsgGetHeaders()
	_ = gh.AddBlockLocatorHash(&genesis)
	gd := wire.NewMsgGetData()
	_ = gd.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &tip))
	_ = gd.AddInvVect(wire.NewInvVect(wire.InvTypeTx, &tip))
	inv := wire.NewMsgInv()
	_ = inv.AddInvVect(wire.NewInvVect(wire.InvTypeTx, &tip))
	_ = inv.AddInvVect(wire.NewInvVect(wire.InvTypeBlock, &tip))
	for _, m := range []wire.Message{gh, gd, inv, wire.NewMsgMemPool(), wire.NewMsgSendHeaders(),
		wire.NewMsgGetBlocks(&tip), wire.NewMsgNotFound(), wire.NewMsgHeaders()} {
		var buf []byte
		w := &sliceWriter{b: &buf}
		if err := m.BtcEncode(w, wire.ProtocolVersion, wire.WitnessEncoding); err != nil {
			f.Fatal(err)
		}
		f.Add(m.Command(), buf)
	}
	raw, _ := src.RawBlock(tip)
	f.Add(wire.CmdBlock, raw)
	f.Add(wire.CmdTx, raw[81:])
	f.Add("getheaders", []byte{0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add("nonsense", []byte{})
	f.Add(wire.CmdBlock, make([]byte, freeMessageBytes+1)) // takes message budget

	f.Fuzz(func(t *testing.T, cmd string, payload []byte) {
		if len(cmd) > wire.CommandSize || len(payload) > 2*freeMessageBytes {
			return
		}
		conn, err := net.Dial("tcp", srv.Addr())
		if err != nil {
			t.Fatalf("server stopped accepting: %v", err)
		}
		defer conn.Close()
		handshake(t, conn)
		if _, err := conn.Write(rawMessage(cmd, payload)); err != nil {
			return // dropped already
		}
		ping := rawPing(0xfeed)
		if _, err := conn.Write(ping); err != nil {
			return
		}
		for {
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			m, _, err := wire.ReadMessage(conn, wire.ProtocolVersion, chaincfg.RegressionNetParams.Net)
			if errors.Is(err, wire.ErrUnknownMessage) {
				continue
			}
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatal("server neither answered nor dropped the peer")
				}
				return // dropped
			}
			if p, ok := m.(*wire.MsgPong); ok && p.Nonce == 0xfeed {
				return
			}
		}
	})
}

type sliceWriter struct{ b *[]byte }

func (w *sliceWriter) Write(p []byte) (int, error) { *w.b = append(*w.b, p...); return len(p), nil }

func rawPing(nonce uint64) []byte {
	var buf []byte
	_ = wire.NewMsgPing(nonce).BtcEncode(&sliceWriter{b: &buf}, wire.ProtocolVersion, wire.BaseEncoding)
	return rawMessage(wire.CmdPing, buf)
}
