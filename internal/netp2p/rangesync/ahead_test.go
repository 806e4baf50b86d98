package rangesync

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hemi-go/hemi/internal/chain"
)

// gatedChain holds the first InsertChain until open is closed: an import
// slower than the fetch, which is what fills the fetched-ahead queue.
type gatedChain struct {
	*chain.Chain
	first chan struct{} // closed when the first InsertChain arrives
	open  chan struct{}
	calls int
}

func (g *gatedChain) InsertChain(blocks []*chain.Block) (int, error) {
	g.calls++
	if g.calls == 1 {
		close(g.first)
		<-g.open
	}
	return g.Chain.InsertChain(blocks)
}

// TestSyncAheadBoundedInBytes: while the import is stuck, the blocks
// fetched ahead of it stay within MaxAheadBytes (plus the window being
// imported, one answer in flight and the one that crossed the bound),
// however many windows MaxAhead allows; released, the sync completes.
// Before the byte bound a follower fetched MaxAhead windows of any size
// (16 x 128 blocks of 200 transfers: ~200 MB of heap, issue 10).
func TestSyncAheadBoundedInBytes(t *testing.T) {
	fx := sharedFixture(t)
	src, _ := longChain(t)
	proto := ProtocolID(src.Genesis().Hash())
	cs := &countingSource{Source: src}
	srv := serve(t, cs, proto, nil)
	const window, ahead = 32, 64 // MaxAhead alone allows 2,048 blocks ahead
	// The bound: the wire bytes of 4 windows.
	var limit int64
	for n := uint64(1); n <= 4*window; n++ {
		b, err := src.BlockByNumber(n)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := EncodeBlock(b)
		if err != nil {
			t.Fatal(err)
		}
		limit += int64(len(snappy.Encode(nil, enc)))
	}
	mem, err := fx.openChain(fx.spec(seqKey, 0), "")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	fc := &gatedChain{Chain: mem, first: make(chan struct{}), open: make(chan struct{})}
	hf := newHost(t)
	connect(t, hf, srv)
	s, err := New(Config{Host: hf, Chain: fc, Window: window, MaxAhead: ahead, MaxAheadBytes: limit,
		RequestTimeout: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	const target = 3000
	tip, err := src.HeaderByNumber(target)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Sync(ctx, Target{Number: target, Hash: tip.Hash()}, []peer.ID{srv.ID()}) }()
	<-fc.first
	// Let the fetch run ahead as far as it will: until it has fetched
	// what MaxAhead alone allows, or stopped for a while.
	last, still := cs.served(), 0
	for still < 20 && last < ahead*window {
		time.Sleep(100 * time.Millisecond)
		if n := cs.served(); n != last {
			last, still = n, 0
		} else {
			still++
		}
	}
	served := cs.served()
	close(fc.open)
	if err := <-done; err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if got := fc.Head().Hash(); got != tip.Hash() {
		t.Fatalf("head %s, want %s", got, tip.Hash())
	}
	// The window importing, 4 held (the bound), the one that crossed it,
	// one in flight, and a block read past a window's end by the server.
	if bound := (1+4+1+1)*window + 8; served > bound {
		t.Fatalf("the server read %d blocks while the import was stuck at block 1, want at most %d (MaxAheadBytes %d)",
			served, bound, limit)
	}
	t.Logf("blocks read while the import was stuck: %d (MaxAheadBytes %d, the bytes of %d blocks)", served, limit, 4*window)
}
