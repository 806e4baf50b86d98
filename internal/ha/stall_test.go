package ha

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/testtools/testkit"
)

// steadyBitcoin is a Bitcoin layer at the tip its one peer announces.
type steadyBitcoin struct{}

func (steadyBitcoin) SyncHeights() (int32, int32, int) { return 10, 10, 1 }

// memProducer commits the child of its chain's head every tick, unless
// stalled (a producer whose blocks stop coming).
type memProducer struct {
	g       atomic.Pointer[Group]
	c       *memChain
	tag     byte
	stalled atomic.Bool
}

func (p *memProducer) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(20 * time.Millisecond):
		}
		if p.stalled.Load() {
			continue
		}
		_ = p.g.Load().Commit(&chain.Built{Block: child(p.c.Head(), p.tag)})
	}
}

// TestStalledLeaderHandsOver: a leader whose chain has not advanced for
// 3 block times hands leadership to a caught-up member, which goes on
// from the last committed block; no height gets two blocks.
func TestStalledLeaderHandsOver(t *testing.T) {
	const n = 3
	var (
		ids   []common.Address
		peers []Peer
	)
	for i := range n {
		ids = append(ids, common.Address{byte(i + 1)})
		peers = append(peers, Peer{ID: ids[i], Address: testkit.FreeAddr(t)})
	}
	ctx, cancel := context.WithCancel(context.Background())
	groups := make([]*Group, n)
	prods := make([]*memProducer, n)
	done := make(chan error, n)
	for i := range n {
		c := newMemChain()
		prods[i] = &memProducer{c: c, tag: byte(i + 1)}
		g, err := New(Config{ID: ids[i], Sequencers: ids, Bind: peers[i].Address, Peers: peers, Dir: t.TempDir(),
			Chain: c, Bitcoin: steadyBitcoin{}, Producer: prods[i], BlockTime: 100 * time.Millisecond, NoSync: true,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		prods[i].g.Store(g)
		groups[i] = g
		go func() { done <- g.Run(ctx) }()
	}
	stopped := false
	stopAll := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		for range n {
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	}
	defer stopAll()
	leader := func(not int) int {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			for i, g := range groups {
				if i != not && g.IsLeader() && g.producing.Load() {
					return i
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatal("no producing leader")
		return -1
	}
	waitApplied := func(min uint64) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			ok := true
			for _, g := range groups {
				if a := g.LastApplied(); a == nil || a.Number < min {
					ok = false
				}
			}
			if ok {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("members did not apply block %d", min)
	}
	l := leader(-1)
	waitApplied(5)
	prods[l].stalled.Store(true)
	stalledAt := groups[l].LastApplied().Number
	nl := leader(l)
	waitApplied(stalledAt + 5)
	if nl == l {
		t.Fatal("the stalled leader kept leadership")
	}
	stopAll()
	// Every member holds one chain: no second block at any height (every
	// stored block is on the head's chain) and the same block at every
	// height on all.
	var ref []common.Hash
	for i, p := range prods {
		var hashes []common.Hash
		for h := p.c.Head(); ; {
			hashes = append([]common.Hash{h.Hash()}, hashes...)
			if h.Number.Sign() == 0 {
				break
			}
			parent, err := p.c.HeaderByHash(h.ParentHash)
			if err != nil {
				t.Fatal(err)
			}
			h = parent
		}
		if len(p.c.byHash) != len(hashes) {
			t.Fatalf("member %d stores %d blocks, %d on its chain: two blocks at a height", i, len(p.c.byHash), len(hashes))
		}
		if uint64(len(hashes)) < stalledAt+5 {
			t.Fatalf("member %d holds %d blocks, want at least %d", i, len(hashes), stalledAt+5)
		}
		if ref == nil {
			ref = hashes
		}
		for j := range min(len(ref), len(hashes)) {
			if ref[j] != hashes[j] {
				t.Fatalf("block %d: member %d has %s, member 0 %s", j, i, hashes[j], ref[j])
			}
		}
	}
}

// TestAdminEndpointServed: Run serves the admin endpoint on Config.Admin
// (a one-member group leads itself and commits); a port in use fails Run
// with an error naming ha.admin.
func TestAdminEndpointServed(t *testing.T) {
	id := common.Address{1}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	newGroup := func(admin string) (*Group, *memProducer) {
		c := newMemChain()
		p := &memProducer{c: c, tag: 1}
		raftAddr := testkit.FreeAddr(t)
		g, err := New(Config{ID: id, Sequencers: []common.Address{id}, Bind: raftAddr, Peers: []Peer{{ID: id, Address: raftAddr}},
			Dir: t.TempDir(), Chain: c, Bitcoin: steadyBitcoin{}, Producer: p, BlockTime: 100 * time.Millisecond,
			NoSync: true, Admin: admin, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		p.g.Store(g)
		return g, p
	}
	g, _ := newGroup(busy.Addr().String())
	if err := g.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "ha.admin") {
		t.Fatalf("Run with the admin port in use: %v, want an ha.admin error", err)
	}
	admin := testkit.FreeAddr(t)
	g, p := newGroup(admin)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	cl := &AdminClient{URL: "http://" + admin}
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := cl.Status(ctx)
		if err == nil && st.State == "Leader" && st.Applied != nil && st.Applied.Number >= 3 && st.CaughtUp {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %+v, %v: want the one member leading and committing", st, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if p.c.Head().Number.Uint64() < 3 {
		t.Fatalf("head %d", p.c.Head().Number)
	}
	if _, err := cl.Status(context.Background()); err == nil {
		t.Fatal("admin endpoint still serves after Run returned")
	}
}
