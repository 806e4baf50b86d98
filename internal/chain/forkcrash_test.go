package chain

import (
	"fmt"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/rawdb"
)

// TestKill9Reorg kills a child process that flips the chain between two
// branches (every few blocks the side branch overtakes the canonical one:
// fork choice prefers more keystones) at some moment, reopens its
// database and checks the head is consistent: the canonical index is the
// head's branch, nothing canonical above it, lookups of the head's
// transactions work, the state matches; then a reorg still happens.
func TestKill9Reorg(t *testing.T) {
	kill9(t, "HEMI_CHAIN_REORG_CRASH_CHILD", reorgCrashChild, []int{1, 3, 6}, 4*time.Millisecond, func(round, printed int, dir string) {
		fc := newFakeForkChoice()
		fc.longer = true
		s := newForkScenario(t, dir, fc)
		checkConsistent(t, s.chain)
		head := s.chain.Head()
		hb, err := s.chain.BlockByHash(head.Hash())
		if err != nil {
			t.Fatal(err)
		}
		s.expectHead(hb)
		s.expectTxs(true, hb)
		tips, err := s.chain.SideTips()
		if err != nil || len(tips) == 0 {
			t.Fatalf("round %d: side tips %v, %v", round, tips, err)
		}
		for _, tip := range tips {
			if rawdb.ReadCanonicalHash(s.chain.db, tip.Number.Uint64()) == tip.Hash() {
				t.Fatalf("round %d: side tip %d is canonical", round, tip.Number)
			}
		}
		t.Logf("round %d: killed after reorg %d was reported, reopened at %d with %d side tips", round, printed, head.Number, len(tips))
		if n := flipUntilReorg(s); n == 0 {
			t.Fatalf("round %d: no reorg after the restart", round)
		}
		checkConsistent(t, s.chain)
		s.chain.Close()
		s.ix.Close()
	})
}

// flipUntilReorg grows the highest side tip until the chain switches to
// it (at most 8 blocks) and returns how many blocks that took (0: none).
func flipUntilReorg(s *forkScenario) int {
	tips, err := s.chain.SideTips()
	if err != nil || len(tips) == 0 {
		s.t.Fatalf("side tips %v, %v", tips, err)
	}
	parent := tips[0]
	for i := 1; i <= 8; i++ {
		b := s.blockOn(parent, userKeys[1], toB, 1)
		if err := s.chain.InsertBlock(b); err != nil {
			s.t.Fatal(err)
		}
		if s.chain.Head().Hash() == b.Hash() {
			return i
		}
		parent = b.Header
	}
	return 0
}

// reorgCrashChild flips the chain in dir (fsynced) between two branches
// and prints the number of reorgs done after each, until it is killed.
func reorgCrashChild(dir string) {
	t := crashTB{}
	fc := newFakeForkChoice()
	fc.longer = true
	s := newForkScenario(t, dir, fc)
	s.chain.cfg.NoSync = false
	a := s.grow(s.chain.Genesis(), 2, userKeys[0], toA)
	side := s.blockOn(a[0].Header, userKeys[1], toB, 1)
	if err := s.chain.InsertBlock(side); err != nil {
		t.Fatal(err)
	}
	for reorgs := 1; ; reorgs++ {
		if flipUntilReorg(s) == 0 {
			t.Fatal("no reorg")
		}
		fmt.Println(reorgs)
	}
}
