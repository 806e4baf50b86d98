package chain

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

var (
	toA = common.HexToAddress("0xaaaa000000000000000000000000000000000001")
	toB = common.HexToAddress("0xbbbb000000000000000000000000000000000002")
)

// TestSideBlockStored: without a fork choice, a block on a non-head
// parent is validated against that parent and stored on its side branch,
// readable by hash, never canonical; its transactions are not found; it
// is known afterwards; a block on an unknown parent is refused.
func TestSideBlockStored(t *testing.T) {
	s := newForkScenario(t, "", nil)
	a := s.grow(s.chain.Genesis(), 3, userKeys[0], toA)
	b := s.grow(a[0].Header, 3, userKeys[1], toB) // 2', 3', 4': longer, with keystones
	s.expectHead(a[2])
	s.expectTxs(true, a...)
	s.expectTxs(false, b...)
	got, err := s.chain.BlockByHash(b[2].Hash())
	if err != nil || got.Header.Hash() != b[2].Hash() {
		t.Fatalf("side block by hash: %v", err)
	}
	if rs, err := s.chain.Receipts(b[1].Hash()); err != nil || len(rs) != 2 {
		t.Fatalf("side block receipts: %d, %v", len(rs), err)
	}
	if _, err := s.chain.StateAt(b[2].Header.Root); err != nil {
		t.Fatalf("side block state: %v", err)
	}
	tips, err := s.chain.SideTips()
	if err != nil || len(tips) != 1 || tips[0].Hash() != b[2].Hash() {
		t.Fatalf("side tips %v, %v; want block %d'", tips, err, b[2].NumberU64())
	}
	wantErr(t, s.chain.InsertBlock(b[1]), ErrKnownBlock)
	wantErr(t, s.chain.InsertBlock(a[1]), ErrKnownBlock)
	orphan := s.blockOn(b[2].Header, userKeys[1], toB, 1)
	orphan.Header.ParentHash = common.Hash{7}
	wantErr(t, s.chain.InsertBlock(orphan), ErrUnknownParent)
	if reorged, err := s.chain.Reconsider(); err != nil || reorged {
		t.Fatalf("Reconsider without a fork choice: %v %v", reorged, err)
	}
	if s.balance(toB) != 0 || s.balance(toA) != 3 {
		t.Fatalf("head balances A %d B %d", s.balance(toA), s.balance(toB))
	}
}

// TestForkChoice drives competing branches through the fake fork choice.
// The canonical branch a has blocks 1..lenA, the candidate b forks at
// block 1 and has blocks 2'..(1+lenB); keystones every 2 blocks.
func TestForkChoice(t *testing.T) {
	tests := []struct {
		name       string
		lenA, lenB int
		// steer sets the fake's mind once both branches exist (the
		// candidate's last block is inserted after it).
		steer  func(s *forkScenario, a, b []*Block)
		reorgs bool
	}{
		{"preferred longer candidate", 3, 4, func(s *forkScenario, a, b []*Block) { s.fc.win(t, s.chain, b[0]) }, true},
		{"longer candidate refused", 3, 5, func(s *forkScenario, a, b []*Block) {}, false},
		{"preferred shorter candidate", 5, 2, func(s *forkScenario, a, b []*Block) { s.fc.win(t, s.chain, b[0]) }, true},
		{"current superfinal refuses", 3, 4, func(s *forkScenario, a, b []*Block) {
			s.fc.win(t, s.chain, b[0])
			s.fc.superfinal[s.refs(a...)[0].ID] = true
		}, false},
		// Fork choice says yes, but its own Finalized names block 2 of
		// the current branch: the chain refuses by itself.
		{"preferred below the finalized block: chain refuses", 3, 4, func(s *forkScenario, a, b []*Block) {
			s.fc.win(t, s.chain, b[0])
			s.fc.finalized = 2
		}, false},
		{"preferred with the fork at the finalized block", 3, 4, func(s *forkScenario, a, b []*Block) {
			s.fc.win(t, s.chain, b[0])
			s.fc.finalized = 1
		}, true},
		{"both preferred: incumbent stays", 3, 4, func(s *forkScenario, a, b []*Block) { s.fc.win(t, s.chain, a[1], b[0]) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newForkScenario(t, "", newFakeForkChoice())
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			heads := s.chain.Subscribe(ctx, 1)
			reorgs := s.chain.SubscribeReorgs(ctx)
			a := s.grow(s.chain.Genesis(), tt.lenA, userKeys[0], toA)
			b := s.grow(a[0].Header, tt.lenB-1, userKeys[1], toB)
			s.expectHead(a[len(a)-1])
			last := s.blockOn(b[len(b)-1].Header, userKeys[1], toB, 1)
			b = append(b, last)
			tt.steer(s, a, b)
			if err := s.chain.InsertBlock(last); err != nil {
				t.Fatal(err)
			}
			cur, cand := s.fc.lastQuestion()
			if want := s.refs(a[1:]...); !slices.Equal(cur, want) {
				t.Fatalf("asked with current %v, want %v", cur, want)
			}
			if want := s.refs(b...); !slices.Equal(cand, want) {
				t.Fatalf("asked with candidate %v, want %v", cand, want)
			}
			win, lose := a[1:], b
			if tt.reorgs {
				win, lose = b, a[1:]
			}
			s.expectHead(win[len(win)-1])
			s.expectTxs(true, a[0])
			s.expectTxs(true, win...)
			s.expectTxs(false, lose...)
			if got, want := s.balance(toA), uint64(1+len(a[1:])); tt.reorgs {
				if got != 1 || s.balance(toB) != uint64(len(b)) {
					t.Fatalf("after the reorg: A %d B %d, want 1 and %d", got, s.balance(toB), len(b))
				}
			} else if got != want || s.balance(toB) != 0 {
				t.Fatalf("without reorg: A %d B %d, want %d and 0", got, s.balance(toB), want)
			}
			tips, err := s.chain.SideTips()
			if err != nil || len(tips) != 1 || tips[0].Hash() != lose[len(lose)-1].Hash() {
				t.Fatalf("side tips %v, %v", tips, err)
			}
			// Subscribe: a[0..], then on a reorg the new branch from the
			// fork point's child; SubscribeReorgs names both branches.
			want := a
			if tt.reorgs {
				want = append(slices.Clone(a), b...)
			}
			for i, w := range want {
				select {
				case h := <-heads:
					if h.Hash() != w.Hash() {
						t.Fatalf("head %d delivered %d %s, want %d %s", i, h.Number, h.Hash(), w.NumberU64(), w.Hash())
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("head %d not delivered", i)
				}
			}
			if tt.reorgs {
				select {
				case ev := <-reorgs:
					if ev.Fork.Hash() != a[0].Hash() || !sameHashes(ev.Old, a[1:]) || !sameHashes(ev.New, b) {
						t.Fatalf("reorg event fork %d, %d old, %d new", ev.Fork.Number, len(ev.Old), len(ev.New))
					}
				case <-time.After(5 * time.Second):
					t.Fatal("no reorg event")
				}
			}
			select {
			case h := <-heads:
				t.Fatalf("extra head %d delivered", h.Number)
			case ev := <-reorgs:
				t.Fatalf("extra reorg to %d", len(ev.New))
			case <-time.After(50 * time.Millisecond):
			}
			// The winner goes on; the sequencer builds on the new head.
			s.mine(viewAt(t, s.btc, s.f.Blocks[9]))
		})
	}
}

func sameHashes(hs []*types.Header, bs []*Block) bool {
	if len(hs) != len(bs) {
		return false
	}
	for i := range hs {
		if hs[i].Hash() != bs[i].Hash() {
			return false
		}
	}
	return true
}

// TestReconsiderAndRestart: a refused branch wins once fork choice
// changes its mind (Reconsider); the reorg and the side tips survive a
// restart; Reconsider then switches back when the old branch wins.
func TestReconsiderAndRestart(t *testing.T) {
	dir := t.TempDir()
	fc := newFakeForkChoice()
	s := newForkScenario(t, dir, fc)
	a := s.grow(s.chain.Genesis(), 4, userKeys[0], toA)
	b := s.grow(a[1].Header, 3, userKeys[1], toB) // 3', 4', 5'
	s.expectHead(a[3])
	if reorged, err := s.chain.Reconsider(); err != nil || reorged {
		t.Fatalf("Reconsider before a change: %v %v", reorged, err)
	}
	fc.win(t, s.chain, b[1]) // the keystone 4'
	reorged, err := s.chain.Reconsider()
	if err != nil || !reorged {
		t.Fatalf("Reconsider after the change: %v %v", reorged, err)
	}
	s.expectHead(b[2])
	s.expectTxs(true, b...)
	s.expectTxs(false, a[2:]...)

	// Restart: the same head, lookups and side tip.
	s.chain.Close()
	fc2 := newFakeForkChoice()
	s.fc = fc2
	s.harness = s.open(t, dir+"/l2")
	s.expectHead(b[2])
	s.expectTxs(true, a[:2]...)
	s.expectTxs(true, b...)
	s.expectTxs(false, a[2:]...)
	tips, err := s.chain.SideTips()
	if err != nil || len(tips) != 1 || tips[0].Hash() != a[3].Hash() {
		t.Fatalf("side tips after restart: %v %v", tips, err)
	}
	if err := s.chain.SetForkChoice(fc2); err == nil {
		t.Fatal("a second SetForkChoice was accepted")
	}
	fc2.win(t, s.chain, a[3])
	if reorged, err := s.chain.Reconsider(); err != nil || !reorged {
		t.Fatalf("Reconsider back: %v %v", reorged, err)
	}
	s.expectHead(a[3])
	s.expectTxs(true, a...)
	s.expectTxs(false, b...)
	if s.balance(toA) != 4 || s.balance(toB) != 0 {
		t.Fatalf("balances A %d B %d", s.balance(toA), s.balance(toB))
	}
	// A block on the side branch is stored as its new tip (fc2 prefers a).
	b4 := s.grow(b[2].Header, 1, userKeys[1], toB)
	s.expectHead(a[3])
	tips, _ = s.chain.SideTips()
	if len(tips) != 1 || tips[0].Hash() != b4[0].Hash() {
		t.Fatalf("side tip did not move to the new side block: %v", tips)
	}
}

// TestMaxReorgDepth: a branch forking deeper than MaxReorgDepth below the
// head is stored but fork choice is not asked, whatever it would say.
func TestMaxReorgDepth(t *testing.T) {
	fc := newFakeForkChoice()
	fc.longer = true
	s := newForkScenario(t, "", fc)
	s.chain.cfg.MaxReorgDepth = 2
	a := s.grow(s.chain.Genesis(), 4, userKeys[0], toA)
	asked := len(fc.asked)
	b := s.grow(a[0].Header, 5, userKeys[1], toB) // forks 3 below the head
	s.expectHead(a[3])
	if len(fc.asked) != asked {
		t.Fatalf("fork choice asked %d times about a branch beyond the limit", len(fc.asked)-asked)
	}
	s.chain.cfg.MaxReorgDepth = 3
	if reorged, err := s.chain.Reconsider(); err != nil || !reorged {
		t.Fatalf("within the limit: %v %v", reorged, err)
	}
	s.expectHead(b[4])
}

// TestSubscribeDuringReorgs: a reader of Subscribe while the chain flips
// between branches (run with -race) gets every header after one it got
// before or after a fork point it got before (never a gap), and ends at
// the head (SubscribeSettled's too); SubscribeReorgs gets every flip.
func TestSubscribeDuringReorgs(t *testing.T) {
	fc := newFakeForkChoice()
	fc.longer = true
	s := newForkScenario(t, "", fc)
	a := s.grow(s.chain.Genesis(), 2, userKeys[0], toA)
	if err := s.chain.InsertBlock(s.blockOn(a[0].Header, userKeys[1], toB, 1)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	heads := s.chain.Subscribe(ctx, 1)
	settled := s.chain.SubscribeSettled(ctx, 1, time.Millisecond)
	reorgs := s.chain.SubscribeReorgs(ctx)
	const flips = 12
	for range flips {
		if flipUntilReorg(s) == 0 {
			t.Fatal("no reorg")
		}
	}
	head := s.chain.Head()
	for _, sub := range []<-chan *types.Header{heads, settled} {
		got := map[common.Hash]bool{s.chain.Genesis().Hash(): true}
		var last *types.Header
		for last == nil || last.Hash() != head.Hash() {
			select {
			case h := <-sub:
				if !got[h.ParentHash] {
					t.Fatalf("header %d delivered before its parent", h.Number)
				}
				got[h.Hash()] = true
				last = h
			case <-time.After(5 * time.Second):
				t.Fatalf("the subscription stopped short of the head %d", head.Number)
			}
		}
	}
	for i := range flips {
		select {
		case ev := <-reorgs:
			if len(ev.New) == 0 || ev.New[0].ParentHash != ev.Fork.Hash() {
				t.Fatalf("reorg %d: new branch does not start on the fork point", i)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("reorg %d not delivered", i)
		}
	}
}
