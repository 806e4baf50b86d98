package p2p

import (
	"bytes"
	"context"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/peer"
	"github.com/btcsuite/btcd/wire/v2"
)

// FuzzHandlers decodes arbitrary bytes as each message type a peer can
// send us and runs the client's handler on it: no input may panic, and
// any ban must leave the peer disconnected.
func FuzzHandlers(f *testing.F) {
	tc := buildChain(f, 3, 1)
	enc := func(m wire.Message) []byte {
		var b bytes.Buffer
		_ = m.BtcEncode(&b, wire.ProtocolVersion, wire.WitnessEncoding)
		return b.Bytes()
	}
	hdrs := wire.NewMsgHeaders()
	for _, b := range tc.blocks[1:] {
		h := b.Header
		_ = hdrs.AddBlockHeader(&h)
	}
	inv := wire.NewMsgInv()
	_ = inv.AddInvVect(wire.NewInvVect(wire.InvTypeBlock, &tc.hashes[2]))
	_ = inv.AddInvVect(wire.NewInvVect(wire.InvTypeTx, &tc.hashes[1]))
	for kind := range uint8(7) {
		f.Add(kind, enc(hdrs))
		f.Add(kind, enc(inv))
		f.Add(kind, enc(tc.blocks[2]))
		f.Add(kind, enc(wire.NewMsgReject(wire.CmdTx, wire.RejectInvalid, "bad")))
		f.Add(kind, garbage(90))
	}
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		fc := newFakeChain(tc.params)
		c, err := New(Config{Params: tc.params, Peers: []string{"127.0.0.1:1"}, Logger: testLogger()}, fc)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c.runCtx, c.running = ctx, true
		p, err := peer.NewOutboundPeer(&peer.Config{ChainParams: tc.params}, "127.0.0.1:1")
		if err != nil {
			t.Fatal(err)
		}
		ps := &peerState{p: p, addr: "127.0.0.1:1", host: "127.0.0.1", ready: true,
			inflight: map[chainhash.Hash]struct{}{}, notFound: map[chainhash.Hash]struct{}{}}
		c.peers[ps] = struct{}{}
		// A broadcast in progress, so tx paths run too.
		c.pending[tc.hashes[1]] = &broadcast{tx: tc.blocks[1].Transactions[0], txid: tc.hashes[1],
			peers: map[*peerState]*peerVerdict{ps: {}}, open: 1, done: make(chan struct{})}
		c.nPending.Add(1)

		r := bytes.NewReader(data)
		decode := func(m wire.Message) bool {
			return m.BtcDecode(r, wire.ProtocolVersion, wire.WitnessEncoding) == nil
		}
		switch kind % 7 {
		case 0:
			var m wire.MsgHeaders
			if decode(&m) {
				c.onHeaders(ps, &m)
			}
		case 1:
			var m wire.MsgInv
			if decode(&m) {
				c.onInv(ps, &m)
			}
		case 2:
			var m wire.MsgBlock
			if decode(&m) {
				c.onBlock(ps, &m)
			}
		case 3:
			var m wire.MsgNotFound
			if decode(&m) {
				c.onNotFound(ps, &m)
			}
		case 4:
			var m wire.MsgGetData
			if decode(&m) {
				c.onGetData(ps, &m)
			}
		case 5:
			var m wire.MsgTx
			if decode(&m) {
				c.onTx(ps, &m)
			}
		case 6:
			var m wire.MsgReject
			if decode(&m) {
				c.onReject(ps, &m)
			}
		}
		c.mu.Lock()
		banned := ps.banned
		c.mu.Unlock()
		if banned && p.Connected() {
			t.Fatal("banned peer still connected")
		}
		if _, h := fc.BlockTip(); h != 0 {
			t.Fatalf("fuzzed input stored blocks up to %d", h)
		}
	})
}
