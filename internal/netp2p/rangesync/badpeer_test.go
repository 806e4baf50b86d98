package rangesync

import (
	"bufio"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/hemi-go/hemi/internal/chain"
)

// shortTarget is the block the bad-peer tests sync to.
const shortTarget = 600

var badChains struct {
	once             sync.Once
	err              error
	otherSeq, forked *chain.Chain
}

// otherChains are two chains of shortTarget blocks a lying peer serves:
// one sealed by a key outside the sequencer set (same genesis), one of
// another genesis sealed by the real sequencer (a wrong chain).
func otherChains(t *testing.T) (otherSeqChain, otherGenesis *chain.Chain) {
	t.Helper()
	fx := sharedFixture(t)
	badChains.once.Do(func() {
		build := func(seq string, salt int64) (*chain.Chain, error) {
			key := seqKey
			if seq == "other" {
				key = otherSeq
			}
			c, err := fx.openChain(fx.spec(key, salt), "")
			if err != nil {
				return nil, err
			}
			return c, fx.build(c, key, shortTarget, 7)
		}
		if badChains.otherSeq, badChains.err = build("other", 0); badChains.err == nil {
			badChains.forked, badChains.err = build("real", 42)
		}
	})
	if badChains.err != nil {
		t.Fatal(badChains.err)
	}
	if badChains.otherSeq.Genesis().Hash() != shared.long.Genesis().Hash() {
		t.Fatal("the other sequencer's chain should share the genesis")
	}
	return badChains.otherSeq, badChains.forked
}

// junkHost answers every request of proto with answer's bytes.
func junkHost(t *testing.T, proto protocol.ID, answer func(req *Request) []byte) host.Host {
	t.Helper()
	h := newHost(t)
	h.SetStreamHandler(proto, func(st network.Stream) {
		defer st.Close()
		raw, _ := io.ReadAll(io.LimitReader(st, maxRequestBytes))
		req, err := DecodeRequest(raw)
		if err != nil {
			st.Reset()
			return
		}
		if a := answer(req); a != nil {
			st.Write(a)
		}
	})
	return h
}

// TestBadPeers: a peer answering junk, blocks of a key outside the
// sequencer set, another chain, or nothing is penalised with the right
// reason and dropped; alone it makes the sync fail with ErrNoPeers and
// nothing stored; next to an honest peer the sync completes to the
// target.
func TestBadPeers(t *testing.T) {
	fx := sharedFixture(t)
	src, _ := longChain(t)
	otherSeqChain, otherGenesis := otherChains(t)
	proto := ProtocolID(src.Genesis().Hash())
	want, err := src.HeaderByNumber(shortTarget)
	if err != nil {
		t.Fatal(err)
	}
	target := Target{Number: shortTarget, Hash: want.Hash()}
	garbage := append([]byte{byte(StatusOK), 5}, "junk!"...)
	cases := []struct {
		name   string
		peer   func(t *testing.T) host.Host
		reason error
	}{
		{"garbage frames", func(t *testing.T) host.Host {
			return junkHost(t, proto, func(*Request) []byte { return garbage })
		}, ErrJunk},
		{"unknown status", func(t *testing.T) host.Host {
			return junkHost(t, proto, func(*Request) []byte { return []byte{99} })
		}, ErrJunk},
		{"nothing", func(t *testing.T) host.Host {
			return junkHost(t, proto, func(*Request) []byte { return []byte{byte(StatusOK)} })
		}, ErrNoAnswer},
		{"closes at once", func(t *testing.T) host.Host {
			return junkHost(t, proto, func(*Request) []byte { return nil })
		}, ErrNoAnswer},
		{"blocks out of order", func(t *testing.T) host.Host {
			return junkHost(t, proto, func(req *Request) []byte {
				return framesOf(t, src, req.From+1, req.From) // swapped
			})
		}, ErrJunk},
		{"sealed outside the sequencer set", func(t *testing.T) host.Host {
			return serve(t, otherSeqChain, proto, nil)
		}, ErrJunk},
		{"another chain", func(t *testing.T) host.Host {
			return serve(t, otherGenesis, proto, nil)
		}, ErrWrongChain},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := tc.peer(t)
			// Alone: the sync fails, the peer is penalised and dropped,
			// nothing is stored.
			alone, err := fx.openChain(fx.spec(seqKey, 0), "")
			if err != nil {
				t.Fatal(err)
			}
			defer alone.Close()
			pen := &penalties{}
			err = syncFrom(t, alone, newHost(t), pen, target, 50, bad)
			if !errors.Is(err, ErrNoPeers) {
				t.Fatalf("sync from the bad peer alone: %v, want ErrNoPeers", err)
			}
			if n := pen.count(bad.ID(), tc.reason); n != DefaultMaxPeerFailures {
				t.Fatalf("penalties %v, want %d wrapping %v", pen.of(bad.ID()), DefaultMaxPeerFailures, tc.reason)
			}
			if h := alone.Head().Number.Uint64(); h != 0 {
				t.Fatalf("the follower stored blocks up to %d from a bad peer", h)
			}
			// With an honest peer: the sync completes.
			good := serve(t, src, proto, nil)
			fc, err := fx.openChain(fx.spec(seqKey, 0), "")
			if err != nil {
				t.Fatal(err)
			}
			defer fc.Close()
			pen = &penalties{}
			if err := syncFrom(t, fc, newHost(t), pen, target, 50, bad, good); err != nil {
				t.Fatal(err)
			}
			if got := fc.Head().Hash(); got != target.Hash {
				t.Fatalf("head %s, want %s", got, target.Hash)
			}
			if got := pen.of(good.ID()); len(got) > 0 {
				t.Fatalf("honest peer penalised: %v", got)
			}
			for _, r := range pen.of(bad.ID()) {
				if !errors.Is(r, tc.reason) {
					t.Fatalf("penalty %v, want %v", r, tc.reason)
				}
			}
		})
	}
}

// framesOf is a StatusOK answer holding src's blocks numbers, in order.
func framesOf(t *testing.T, src *chain.Chain, numbers ...uint64) []byte {
	var buf bytesBuffer
	writeStatus(&buf, StatusOK, "")
	for _, n := range numbers {
		b, err := src.BlockByNumber(n)
		if err != nil {
			t.Error(err)
			return nil
		}
		enc, err := EncodeBlock(b)
		if err != nil {
			t.Error(err)
			return nil
		}
		writeFrame(&buf, enc)
	}
	return buf.b
}

type bytesBuffer struct{ b []byte }

func (w *bytesBuffer) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

// rawRequest sends req's bytes to h over proto from a new host and reads
// the status and the blocks of the answer.
func rawRequest(t *testing.T, from, h host.Host, proto protocol.ID, req []byte) (error, []*chain.Block) {
	t.Helper()
	connect(t, from, h)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := from.NewStream(ctx, h.ID(), proto)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Write(req); err != nil {
		t.Fatal(err)
	}
	st.CloseWrite()
	br := bufio.NewReader(st)
	if err := readStatus(br); err != nil {
		return err, nil
	}
	var blocks []*chain.Block
	for {
		b, _, err := readFrame(br)
		if err == io.EOF {
			return nil, blocks
		}
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, b)
	}
}

// TestServerLimits: a request for a huge range (or any malformed request)
// is answered StatusBadRequest and its peer penalised, nothing served; a
// request at the protocol's cap is served in part (the server's cap);
// too many requests are answered StatusRateLimited; the server keeps
// serving.
func TestServerLimits(t *testing.T) {
	src, _ := longChain(t)
	proto := ProtocolID(src.Genesis().Hash())
	pen := &penalties{}
	srv := serve(t, src, proto, func(c *ServerConfig) {
		c.Penalizer = pen
		c.MaxBlocks = 100
		c.RequestRate, c.RequestBurst = 0.001, 6
	})
	client := newHost(t)
	enc := func(r Request) []byte {
		b, err := EncodeRequest(&r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	bad := []struct {
		name string
		req  []byte
	}{
		{"huge range", enc(Request{Kind: ByNumber, From: 1, Count: 1 << 40})},
		{"one above the cap", enc(Request{Kind: ByNumber, From: 1, Count: MaxRequestBlocks + 1})},
		{"zero blocks", enc(Request{Kind: ByNumber, From: 1, Count: 0})},
		{"unknown kind", enc(Request{Kind: 9, From: 1, Count: 1})},
		{"not RLP", []byte("GET / HTTP/1.1\r\n")},
		{"oversized", make([]byte, 4096)},
	}
	for i, tc := range bad {
		err, blocks := rawRequest(t, client, srv, proto, tc.req)
		var se *StatusError
		if !errors.As(err, &se) || se.Status != StatusBadRequest || len(blocks) > 0 {
			t.Fatalf("%s: answer %v with %d blocks, want StatusBadRequest", tc.name, err, len(blocks))
		}
		if n := pen.count(client.ID(), ErrBadRequest); n != i+1 {
			t.Fatalf("%s: %d penalties, want %d", tc.name, n, i+1)
		}
	}
	// Bad requests are refused before the rate limiter: the burst of 6
	// is still whole. At the protocol cap, the server's cap answers.
	err, blocks := rawRequest(t, client, srv, proto, enc(Request{Kind: ByNumber, From: 11, Count: MaxRequestBlocks}))
	if err != nil || len(blocks) != 100 || blocks[0].NumberU64() != 11 || blocks[99].NumberU64() != 110 {
		t.Fatalf("capped answer: %v, %d blocks", err, len(blocks))
	}
	// By hash: the block and its ancestors, oldest first.
	tip, _ := src.HeaderByNumber(500)
	err, blocks = rawRequest(t, client, srv, proto, enc(Request{Kind: ByHash, Hash: tip.Hash(), Count: 3}))
	if err != nil || len(blocks) != 3 || blocks[0].NumberU64() != 498 || blocks[2].Hash() != tip.Hash() {
		t.Fatalf("by hash: %v, %d blocks", err, len(blocks))
	}
	err, _ = rawRequest(t, client, srv, proto, enc(Request{Kind: ByHash, Hash: src.Genesis().ParentHash, Count: 3}))
	if se := (*StatusError)(nil); !errors.As(err, &se) || se.Status != StatusNotFound {
		t.Fatalf("unknown hash: %v, want StatusNotFound", err)
	}
	// Above the head: an empty answer.
	err, blocks = rawRequest(t, client, srv, proto, enc(Request{Kind: ByNumber, From: longBlocks + 1, Count: 10}))
	if err != nil || len(blocks) != 0 {
		t.Fatalf("above the head: %v, %d blocks", err, len(blocks))
	}
	// The burst (6) is spent by two more requests; the next is refused.
	for range 2 {
		if err, _ := rawRequest(t, client, srv, proto, enc(Request{Kind: ByNumber, From: 1, Count: 1})); err != nil {
			t.Fatal(err)
		}
	}
	err, _ = rawRequest(t, client, srv, proto, enc(Request{Kind: ByNumber, From: 1, Count: 1}))
	if se := (*StatusError)(nil); !errors.As(err, &se) || se.Status != StatusRateLimited {
		t.Fatalf("over the rate: %v, want StatusRateLimited", err)
	}
	// Another peer is still served.
	err, blocks = rawRequest(t, newHost(t), srv, proto, enc(Request{Kind: ByNumber, From: 1, Count: 2}))
	if err != nil || len(blocks) != 2 {
		t.Fatalf("another peer: %v, %d blocks", err, len(blocks))
	}
	if n := len(pen.of(client.ID())); n != len(bad) {
		t.Fatalf("%d penalties, want %d (rate limiting is not penalised)", n, len(bad))
	}
}
