package chain

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
)

// TestRandomForks grows blocks on random stored parents while fork choice
// alternates between refusing every branch and preferring the one with
// more keystones (Reconsider runs after each change of mind), and checks
// after every step the invariants the fork code keeps: the head is the
// tip of the canonical index, the side tips are exactly the stored
// non-canonical blocks without a stored child, every transaction of a
// canonical block is found there, and a transaction only side blocks hold
// is not found.
func TestRandomForks(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 4} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			fc := newFakeForkChoice()
			s := newForkScenario(t, "", fc)
			rng := rand.New(rand.NewPCG(seed, 7))
			all := []*Block{{Header: s.chain.Genesis()}}
			children := map[common.Hash]int{}
			for step := range 60 {
				if step%10 == 0 {
					fc.mu.Lock()
					fc.longer = !fc.longer
					fc.mu.Unlock()
					if _, err := s.chain.Reconsider(); err != nil {
						t.Fatal(err)
					}
				}
				parent := all[len(all)-1-rng.IntN(min(len(all), 6))]
				k := userKeys[rng.IntN(len(userKeys))]
				b := s.blockOn(parent.Header, k, toA, 1+rng.Int64N(1_000_000))
				if err := s.chain.InsertBlock(b); err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				all = append(all, b)
				children[b.Header.ParentHash]++
				checkForkInvariants(t, s, all, children)
			}
			s.chain.headMu.RLock()
			reorgs := s.chain.reorgBase + uint64(len(s.chain.reorgs))
			s.chain.headMu.RUnlock()
			if reorgs == 0 {
				t.Fatal("no reorg happened: the test exercised nothing")
			}
			t.Logf("%d blocks, %d reorgs", len(all)-1, reorgs)
		})
	}
}

func checkForkInvariants(t *testing.T, s *forkScenario, all []*Block, children map[common.Hash]int) {
	t.Helper()
	head := s.chain.Head()
	for _, b := range all {
		if b.Hash() == head.Hash() {
			s.expectHead(b)
		}
	}
	var wantTips []common.Hash
	canonTx := map[common.Hash]bool{}
	for _, b := range all[1:] {
		if rawdb.ReadCanonicalHash(s.chain.db, b.NumberU64()) == b.Hash() {
			s.expectTxs(true, b)
			for _, h := range b.Body.TxHashes() {
				canonTx[h] = true
			}
		} else if children[b.Hash()] == 0 {
			wantTips = append(wantTips, b.Hash())
		}
	}
	for _, b := range all[1:] {
		if rawdb.ReadCanonicalHash(s.chain.db, b.NumberU64()) == b.Hash() {
			continue
		}
		for _, tx := range b.Body.Txs {
			if !canonTx[tx.Hash()] {
				if _, err := s.chain.TxLookup(tx.Hash()); !isNotFound(err) {
					t.Fatalf("tx %s of side block %d only: lookup %v", tx.Hash(), b.NumberU64(), err)
				}
			}
		}
	}
	tips, err := s.chain.SideTips()
	if err != nil {
		t.Fatal(err)
	}
	var got []common.Hash
	for _, h := range tips {
		got = append(got, h.Hash())
	}
	cmpHash := func(a, b common.Hash) int { return a.Cmp(b) }
	slices.SortFunc(got, cmpHash)
	slices.SortFunc(wantTips, cmpHash)
	if !slices.Equal(got, wantTips) {
		t.Fatalf("side tips %v, want %v", got, wantTips)
	}
}
