package rangesync

import (
	"context"
	"errors"
	"log/slog"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hemi-go/hemi/internal/chain"
)

// countingSource counts the blocks a server reads, to show a peer served.
type countingSource struct {
	Source
	mu sync.Mutex
	n  int
}

func (c *countingSource) BlockByNumber(n uint64) (*chain.Block, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.Source.BlockByNumber(n)
}

func (c *countingSource) served() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// progressChain records the syncer's progress at every InsertChain, so a
// test sees what eth_syncing answered during the sync.
type progressChain struct {
	*chain.Chain
	s        *Syncer
	mu       sync.Mutex
	seen     int
	bad      string
	starting uint64
}

func (p *progressChain) InsertChain(blocks []*chain.Block) (int, error) {
	starting, current, highest, syncing := p.s.SyncProgress()
	p.mu.Lock()
	p.seen++
	switch {
	case !syncing:
		p.bad = "not syncing during a sync"
	case starting != p.starting || highest != longBlocks || current+1 != blocks[0].NumberU64():
		p.bad = "progress " + slogValue(starting, current, highest) + " before block " + slogValue(blocks[0].NumberU64())
	}
	p.mu.Unlock()
	return p.Chain.InsertChain(blocks)
}

func slogValue(v ...uint64) string { return slog.AnyValue(v).String() }

// TestCatchUp: a follower started empty catches up 10,000 blocks from two
// peers (each its own database of the same chain); its chain is the
// source's at every height (hash, hence state root), each state root it
// reports opens (every 250th height and the head) with the source's
// balances; eth_syncing's progress is right at every batch; both peers
// served; nobody is penalised.
func TestCatchUp(t *testing.T) {
	fx := sharedFixture(t)
	src, peer2 := longChain(t)
	a, b := &countingSource{Source: src}, &countingSource{Source: peer2}
	proto := ProtocolID(src.Genesis().Hash())
	ha, hb := serve(t, a, proto, nil), serve(t, b, proto, nil)

	follower, err := fx.openChain(fx.spec(seqKey, 0), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer follower.Close()
	hf := newHost(t)
	connect(t, hf, ha)
	connect(t, hf, hb)
	pen := &penalties{}
	pc := &progressChain{Chain: follower}
	s, err := New(Config{Host: hf, Chain: pc, Penalizer: pen, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	pc.s = s
	head := src.Head()
	if err := s.Sync(context.Background(), Target{Number: head.Number.Uint64(), Hash: head.Hash()}, []peer.ID{ha.ID(), hb.ID()}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, syncing := s.SyncProgress(); syncing {
		t.Error("still syncing after Sync returned")
	}
	if pc.seen == 0 || pc.bad != "" {
		t.Errorf("progress during the sync: %d batches, %s", pc.seen, pc.bad)
	}
	if got := follower.Head().Hash(); got != head.Hash() {
		t.Fatalf("follower head %s, source %s", got, head.Hash())
	}
	for n := uint64(1); n <= longBlocks; n++ {
		want, err1 := src.HeaderByNumber(n)
		got, err2 := follower.HeaderByNumber(n)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		if got.Hash() != want.Hash() || got.Root != want.Root {
			t.Fatalf("block %d: follower %s root %s, source %s root %s", n, got.Hash(), got.Root, want.Hash(), want.Root)
		}
		if n%250 == 0 || n == longBlocks {
			compareState(t, src, follower, want.Root, n)
		}
	}
	if a.served() == 0 || b.served() == 0 {
		t.Errorf("blocks served: %d by the first peer, %d by the second; want both > 0", a.served(), b.served())
	}
	for _, p := range []peer.ID{ha.ID(), hb.ID()} {
		if got := pen.of(p); len(got) > 0 {
			t.Errorf("honest peer penalised: %v", got)
		}
	}
}

// compareState opens root in both chains and compares the balances the
// test's transfers touched up to block n.
func compareState(t *testing.T, src, dst *chain.Chain, root common.Hash, n uint64) {
	t.Helper()
	a, err1 := src.StateAt(root)
	b, err2 := dst.StateAt(root)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("state of block %d: %v", n, err)
	}
	for _, acc := range []common.Address{addr(userKey), addr(seqKey), common.BigToAddress(bigU(0x10000 + n - n%10))} {
		if a.GetBalance(acc).Cmp(b.GetBalance(acc)) != 0 {
			t.Fatalf("block %d: balance of %s %s in the follower, %s in the source", n, acc, b.GetBalance(acc), a.GetBalance(acc))
		}
	}
	if b.GetBalance(addr(userKey)).IsZero() {
		t.Fatalf("block %d: the funded user has nothing", n)
	}
}

// syncFrom runs a sync of the follower fc to target from the peers.
func syncFrom(t *testing.T, fc *chain.Chain, hf host.Host, pen *penalties, target Target, window uint64, peers ...host.Host) error {
	t.Helper()
	ids := make([]peer.ID, len(peers))
	for i, p := range peers {
		connect(t, hf, p)
		ids[i] = p.ID()
	}
	s, err := New(Config{Host: hf, Chain: fc, Penalizer: pen, Window: window, RequestTimeout: 5 * time.Second,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return s.Sync(ctx, target, ids)
}

func bigU(n uint64) *big.Int { return new(big.Int).SetUint64(n) }

// TestSyncBranch: a follower holding blocks 1..500 fills the gap below a
// block it heard of (600) by hash, in requests of 32 blocks, back to the
// block it has, and imports the gap oldest first; an unknown hash is
// answered StatusNotFound, which is not penalised.
func TestSyncBranch(t *testing.T) {
	fx := sharedFixture(t)
	src, _ := longChain(t)
	proto := ProtocolID(src.Genesis().Hash())
	srv := serve(t, src, proto, nil)
	fc, err := fx.openChain(fx.spec(seqKey, 0), "")
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	var blocks []*chain.Block
	for n := uint64(1); n <= 500; n++ {
		b, err := src.BlockByNumber(n)
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, b)
	}
	if _, err := fc.InsertChain(blocks); err != nil {
		t.Fatal(err)
	}
	hf := newHost(t)
	connect(t, hf, srv)
	pen := &penalties{}
	s, err := New(Config{Host: hf, Chain: fc, Penalizer: pen, Window: 32, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	tip, _ := src.HeaderByNumber(600)
	n, err := s.SyncBranch(context.Background(), srv.ID(), tip.Hash())
	if err != nil || n != 100 {
		t.Fatalf("SyncBranch: %d blocks, %v; want 100", n, err)
	}
	if got := fc.Head().Hash(); got != tip.Hash() {
		t.Fatalf("head %s, want block 600 %s", got, tip.Hash())
	}
	_, err = s.SyncBranch(context.Background(), srv.ID(), common.Hash{1})
	var se *StatusError
	if !errors.As(err, &se) || se.Status != StatusNotFound {
		t.Fatalf("unknown hash: %v, want StatusNotFound", err)
	}
	if got := pen.of(srv.ID()); len(got) > 0 {
		t.Fatalf("honest peer penalised: %v", got)
	}
}
