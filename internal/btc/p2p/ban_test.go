package p2p

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/peer"
	"github.com/btcsuite/btcd/wire/v2"
)

const badIP = "127.0.0.2" // the misbehaving peer; the honest one is on 127.0.0.1

// garbage returns n deterministic pseudo-random bytes.
func garbage(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// rawHeader is a P2P message header announcing length payload bytes.
func rawHeader(net wire.BitcoinNet, cmd string, length uint32) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.LittleEndian, uint32(net))
	var c [wire.CommandSize]byte
	copy(c[:], cmd)
	b.Write(c[:])
	_ = binary.Write(&b, binary.LittleEndian, length)
	b.Write([]byte{1, 2, 3, 4})
	return b.Bytes()
}

func TestBanMisbehavingPeer(t *testing.T) {
	t.Parallel()
	tc := buildChain(t, 120, 2)
	fork := buildChainFrom(t, &testChain{params: tc.params, blocks: tc.blocks[:1], hashes: tc.hashes[:1],
		index: map[chainhash.Hash]int{tc.hashes[0]: 0}}, 20)
	const badVersion = 0x666

	writeAfterHandshake := func(b []byte) func(*remote, *peer.Peer, net.Conn) {
		return func(_ *remote, _ *peer.Peer, conn net.Conn) { _, _ = conn.Write(b) }
	}
	tests := []struct {
		name   string
		reason string
		bad    remoteOpts
	}{
		{
			name:   "garbage bytes before handshake",
			reason: reasonMalformedMessage,
			bad: remoteOpts{raw: func(conn net.Conn) {
				_, _ = conn.Write(garbage(200))
				_, _ = io.Copy(io.Discard, conn)
			}},
		},
		{
			name:   "garbage bytes after handshake",
			reason: reasonMalformedMessage,
			bad:    remoteOpts{onReady: writeAfterHandshake(garbage(300))},
		},
		{
			name:   "oversized message",
			reason: reasonMalformedMessage,
			bad:    remoteOpts{onReady: writeAfterHandshake(rawHeader(tc.params.Net, wire.CmdHeaders, 5_000_000))},
		},
		{
			name:   "message over its type's limit",
			reason: reasonMalformedMessage,
			bad: remoteOpts{onReady: writeAfterHandshake(append(rawHeader(tc.params.Net, wire.CmdPing, 64),
				make([]byte, 64)...))},
		},
		{
			name:   "headers failing proof of work",
			reason: reasonInvalidHeaders,
			bad: remoteOpts{headers: func(r *remote, _ *wire.MsgGetHeaders) *wire.MsgHeaders {
				h := tc.blocks[1].Header
				failPoW(&h, tc.params)
				msg := wire.NewMsgHeaders()
				_ = msg.AddBlockHeader(&h)
				return msg
			}},
		},
		{
			name:   "headers that do not chain",
			reason: reasonInvalidHeaders,
			bad: remoteOpts{headers: func(r *remote, _ *wire.MsgGetHeaders) *wire.MsgHeaders {
				msg := wire.NewMsgHeaders()
				_ = msg.AddBlockHeader(&tc.blocks[1].Header)
				_ = msg.AddBlockHeader(&tc.blocks[3].Header)
				return msg
			}},
		},
		{
			name:   "headers the chain rejects",
			reason: reasonInvalidHeaders,
			bad: remoteOpts{headers: func(r *remote, _ *wire.MsgGetHeaders) *wire.MsgHeaders {
				h := fork.blocks[1].Header
				h.Version = badVersion
				solve(t, &h, tc.params)
				msg := wire.NewMsgHeaders()
				_ = msg.AddBlockHeader(&h)
				return msg
			}},
		},
		{
			name:   "headers that never connect",
			reason: reasonUnconnectedHeaders,
			bad: remoteOpts{headers: func(r *remote, _ *wire.MsgGetHeaders) *wire.MsgHeaders {
				msg := wire.NewMsgHeaders()
				_ = msg.AddBlockHeader(&fork.blocks[5].Header)
				return msg
			}},
		},
		{
			name:   "blocks with mismatched merkle root",
			reason: reasonInvalidBlock,
			bad:    remoteOpts{corrupt: allHeights(120)},
		},
		{
			name:   "unrequested blocks flood",
			reason: reasonUnrequestedBlocks,
			bad: remoteOpts{onReady: func(_ *remote, p *peer.Peer, _ net.Conn) {
				for _, b := range fork.blocks[1:] {
					p.QueueMessageWithEncoding(b, nil, wire.WitnessEncoding)
				}
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.bad.ip = badIP
			if tt.bad.chain == nil {
				tt.bad.chain = tc
			}
			bad := startRemote(t, tt.bad)
			good := startRemote(t, remoteOpts{chain: tc})
			fc := newFakeChain(tc.params)
			fc.invalidVersion = badVersion
			// Slow storage so both peers are connected while blocks flow.
			fc.acceptDelay = time.Millisecond
			c := startClient(t, fc, []string{bad.addr, good.addr}, func(cfg *Config) {
				cfg.BlocksInFlightPerPeer = 4
			})
			waitFor(t, 20*time.Second, "ban of "+badIP, func() bool {
				_, ok := c.Banned()[badIP]
				return ok
			})
			if got := metricValue(c.m.bans.WithLabelValues(tt.reason)); got != 1 {
				t.Errorf("bans_total{reason=%q} = %v, want 1", tt.reason, got)
			}
			// The client keeps running and syncs from the honest peer.
			waitSynced(t, fc, tc)
			if got, want := fc.storedCount(), len(tc.blocks); got != want {
				t.Errorf("stored %d blocks, want %d (only the honest chain)", got, want)
			}
			if _, ok := c.Banned()["127.0.0.1"]; ok {
				t.Errorf("honest host banned")
			}
			// A banned host is not redialled while the ban lasts.
			c.mu.Lock()
			for ps := range c.peers {
				if ps.host == badIP {
					t.Errorf("banned peer %s still connected", ps.addr)
				}
			}
			c.mu.Unlock()
		})
	}
}

func allHeights(n int32) map[int32]bool {
	m := make(map[int32]bool)
	for i := int32(1); i <= n; i++ {
		m[i] = true
	}
	return m
}

func TestBanExpires(t *testing.T) {
	t.Parallel()
	tc := buildChain(t, 10, 1)
	connected := make(chan struct{}, 16)
	bad := startRemote(t, remoteOpts{ip: badIP, chain: tc, raw: func(conn net.Conn) {
		connected <- struct{}{}
		_, _ = conn.Write(garbage(100))
		_, _ = io.Copy(io.Discard, conn)
	}})
	fc := newFakeChain(tc.params)
	c := startClient(t, fc, []string{bad.addr}, func(cfg *Config) { cfg.BanDuration = 300 * time.Millisecond })
	<-connected
	waitFor(t, 5*time.Second, "ban", func() bool { return len(c.Banned()) > 0 })
	select {
	case <-connected:
		t.Fatal("redialled a banned host at once")
	case <-time.After(150 * time.Millisecond):
	}
	select {
	case <-connected:
	case <-time.After(5 * time.Second):
		t.Fatal("did not redial after the ban ended")
	}
}

// TestUnconnectedAnnouncementsDuringGetHeaders: a peer announces a burst of
// blocks with headers that do not connect yet (they follow a tip it
// announced by inv) while our getheaders is in flight, and only then
// answers it. The answer connects them, so the peer is not banned (before:
// the eleventh such message in a row banned it for an hour, and a devnet
// with that one peer stopped syncing). A peer whose rounds keep ending
// without a connecting answer is still banned ("headers that never
// connect" in TestBanMisbehavingPeer).
func TestUnconnectedAnnouncementsDuringGetHeaders(t *testing.T) {
	t.Parallel()
	tc := buildChain(t, 60, 1)
	r := startRemote(t, remoteOpts{chain: tc, headers: func(r *remote, msg *wire.MsgGetHeaders) *wire.MsgHeaders {
		reply := r.headersAfter(msg.BlockLocatorHashes, wire.MaxBlockHeadersPerMsg)
		r.mu.Lock()
		p := r.peers[len(r.peers)-1]
		r.mu.Unlock()
		// 20 announcements of one header each, 10 blocks past what the
		// client has, queued before the reply.
		start := 1
		if len(reply.Headers) > 0 {
			start = tc.index[reply.Headers[0].BlockHash()]
		} else {
			start = len(tc.blocks)
		}
		for i := start + 10; i < start+30 && i < len(tc.blocks); i++ {
			ann := wire.NewMsgHeaders()
			hdr := tc.blocks[i].Header
			_ = ann.AddBlockHeader(&hdr)
			p.QueueMessage(ann, nil)
		}
		return reply
	}})
	fc := newFakeChain(tc.params)
	c := startClient(t, fc, []string{r.addr}, nil)
	waitSynced(t, fc, tc)
	if b := c.Banned(); len(b) > 0 {
		t.Fatalf("honest peer banned: %v", b)
	}
	if got := metricValue(c.m.bans.WithLabelValues(reasonUnconnectedHeaders)); got != 0 {
		t.Errorf("bans_total{reason=%q} = %v, want 0", reasonUnconnectedHeaders, got)
	}
}
