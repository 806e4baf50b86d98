package chain

import (
	"crypto/ecdsa"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/indextest"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/finality/tracker"
	"github.com/hemi-go/hemi/internal/node/indexadapt"
)

// fakeForkChoice is a ForkChoice the test steers: it prefers a candidate
// branch holding a keystone marked a winner when the current branch holds
// none, and always refuses when current[0] is marked superfinal (the
// contract of ForkChoice). longer, when set, prefers the branch with
// more keystones instead. It records every question.
type fakeForkChoice struct {
	mu         sync.Mutex
	winners    map[[32]byte]bool
	superfinal map[[32]byte]bool
	longer     bool
	finalized  uint64 // what Finalized reports
	asked      [][2][]tracker.KeystoneRef
}

// Finalized makes the fake a Finalizer.
func (f *fakeForkChoice) Finalized() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.finalized
}

func newFakeForkChoice() *fakeForkChoice {
	return &fakeForkChoice{winners: map[[32]byte]bool{}, superfinal: map[[32]byte]bool{}}
}

func (f *fakeForkChoice) Prefer(current, candidate []tracker.KeystoneRef) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, [2][]tracker.KeystoneRef{slices.Clone(current), slices.Clone(candidate)})
	if len(current) > 0 && f.superfinal[current[0].ID] {
		return false
	}
	if f.longer {
		return len(candidate) > len(current)
	}
	has := func(ks []tracker.KeystoneRef) bool {
		return slices.ContainsFunc(ks, func(k tracker.KeystoneRef) bool { return f.winners[k.ID] })
	}
	return has(candidate) && !has(current)
}

// win marks the keystones of blocks as winners.
func (f *fakeForkChoice) win(t testing.TB, c *Chain, blocks ...*Block) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range blocks {
		k, err := c.keystoneFor(b.Header)
		if err != nil {
			t.Fatal(err)
		}
		f.winners[k.ID] = true
	}
}

// lastQuestion is the last (current, candidate) fork choice was asked.
func (f *fakeForkChoice) lastQuestion() (current, candidate []tracker.KeystoneRef) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.asked) == 0 {
		return nil, nil
	}
	q := f.asked[len(f.asked)-1]
	return q[0], q[1]
}

// forkScenario is a chain with keystones every forkInterval blocks over
// the Bitcoin fixture, and helpers to grow competing branches of sealed
// blocks on any stored block (STYLE habit 13): the same sequencer key
// equivocating, as in a failover gone wrong.
type forkScenario struct {
	*harness
	f  *indextest.Chain
	ix *index.Index
	fc *fakeForkChoice
}

const forkInterval = 2

// newForkScenario opens the scenario's chain in dir ("" in memory) with
// fc as its fork choice (nil: none).
func newForkScenario(t testing.TB, dir string, fc *fakeForkChoice) *forkScenario {
	t.Helper()
	f := newBTCFixture(t, 12)
	btcDir, l2Dir := "", ""
	if dir != "" {
		btcDir, l2Dir = filepath.Join(dir, "btc"), filepath.Join(dir, "l2")
	} else {
		btcDir = t.TempDir()
	}
	ix := indextest.Open(t, regtest, btcDir)
	indextest.Feed(t, ix, f.Blocks)
	s := &forkScenario{f: f, ix: ix, fc: fc}
	s.harness = s.open(t, l2Dir)
	return s
}

// open opens (or reopens) the scenario's chain in l2Dir.
func (s *forkScenario) open(t testing.TB, l2Dir string) *harness {
	t.Helper()
	spec := testGenesis(t, viewAt(t, indexadapt.NewChain(s.ix), s.f.Blocks[1]))
	spec.Config.KeystoneInterval = forkInterval
	h := newHarness(t, s.ix, l2Dir, spec)
	if s.fc != nil {
		if err := h.chain.SetForkChoice(s.fc); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// blockOn builds and seals a block on parent (any stored block) holding
// a transfer of wei from user k to `to`, at the next nonce of k on that
// branch. Its view follows its number, so every branch moves forward.
func (s *forkScenario) blockOn(parent *types.Header, k *ecdsa.PrivateKey, to common.Address, wei int64) *Block {
	s.t.Helper()
	st, err := s.chain.StateAt(parent.Root)
	if err != nil {
		s.t.Fatal(err)
	}
	tx := s.transfer(k, st.GetNonce(addr(k)), to, wei)
	v := viewAt(s.t, s.btc, s.f.Blocks[min(2+int(parent.Number.Uint64()), 9)])
	b, err := s.chain.BuildBlock(BuildParams{Parent: parent, Time: parent.Time + 2, View: v, Coinbase: addr(seqKey), Txs: []*types.Transaction{tx}})
	if err != nil {
		s.t.Fatal(err)
	}
	if len(b.Skipped) > 0 {
		s.t.Fatalf("skipped: %v", b.Skipped[0].Err)
	}
	if err := block.Seal(b.Block.Header, seqKey); err != nil {
		s.t.Fatal(err)
	}
	return b.Block
}

// grow inserts n blocks on parent, each a transfer of 1 wei from k to
// `to`, and returns them.
func (s *forkScenario) grow(parent *types.Header, n int, k *ecdsa.PrivateKey, to common.Address) []*Block {
	s.t.Helper()
	var out []*Block
	for range n {
		b := s.blockOn(parent, k, to, 1)
		if err := s.chain.InsertBlock(b); err != nil {
			s.t.Fatalf("insert %d on %d: %v", b.NumberU64(), parent.Number, err)
		}
		out = append(out, b)
		parent = b.Header
	}
	return out
}

// expectHead checks the head is tip and that the canonical chain from
// genesis to it is exactly the branch ending at tip: canonical hashes,
// nothing canonical above it, and the head pointers in the database.
func (s *forkScenario) expectHead(tip *Block) {
	s.t.Helper()
	c := s.chain
	if head := c.Head(); head.Hash() != tip.Hash() {
		s.t.Fatalf("head %d %s, want %d %s", head.Number, head.Hash(), tip.NumberU64(), tip.Hash())
	}
	if rawdb.ReadHeadBlockHash(c.db) != tip.Hash() || rawdb.ReadHeadHeaderHash(c.db) != tip.Hash() {
		s.t.Fatal("stored head pointers are not the tip")
	}
	h := tip.Header
	for {
		n := h.Number.Uint64()
		if got := rawdb.ReadCanonicalHash(c.db, n); got != h.Hash() {
			s.t.Fatalf("canonical %d is %s, the branch has %s", n, got, h.Hash())
		}
		if n == 0 {
			break
		}
		var err error
		if h, err = c.HeaderByHash(h.ParentHash); err != nil {
			s.t.Fatal(err)
		}
	}
	for n := tip.NumberU64() + 1; n < tip.NumberU64()+8; n++ {
		if got := rawdb.ReadCanonicalHash(c.db, n); got != (common.Hash{}) {
			s.t.Fatalf("canonical hash at %d above the head: %s", n, got)
		}
	}
}

// expectTxs checks each block's transactions are (canonical) or are not
// found by TxLookup and Receipt, and that found receipts are the block's.
func (s *forkScenario) expectTxs(canonical bool, blocks ...*Block) {
	s.t.Helper()
	for _, b := range blocks {
		rs, err := s.chain.Receipts(b.Hash())
		if err != nil {
			s.t.Fatal(err)
		}
		for i, txh := range b.Body.TxHashes() {
			loc, err := s.chain.TxLookup(txh)
			r, rloc, rerr := s.chain.Receipt(txh)
			if !canonical {
				if i < len(b.Body.SystemTxs) {
					continue // the same view update at the same number is the same tx on both branches
				}
				if !isNotFound(err) || !isNotFound(rerr) {
					s.t.Fatalf("tx %d of side block %d: lookup %v, receipt %v; want not found", i, b.NumberU64(), err, rerr)
				}
				continue
			}
			if err != nil || rerr != nil {
				s.t.Fatalf("tx %d of block %d: lookup %v, receipt %v", i, b.NumberU64(), err, rerr)
			}
			if loc.BlockHash != b.Hash() || loc.Index != uint64(i) || rloc.BlockHash != b.Hash() {
				s.t.Fatalf("tx %d of block %d found at %d/%d in %s", i, b.NumberU64(), loc.BlockNumber, loc.Index, loc.BlockHash)
			}
			if r.TxHash != txh || r.CumulativeGasUsed != rs[i].CumulativeGasUsed || r.Bloom != rs[i].Bloom || len(r.Logs) != len(rs[i].Logs) {
				s.t.Fatalf("receipt %d of block %d differs from the block's receipts", i, b.NumberU64())
			}
		}
	}
}

// balance is addr's balance in the head state.
func (s *forkScenario) balance(a common.Address) uint64 {
	s.t.Helper()
	st, err := s.chain.StateAt(s.chain.Head().Root)
	if err != nil {
		s.t.Fatal(err)
	}
	return st.GetBalance(a).Uint64()
}

// refs are the keystone refs of blocks that are keystones.
func (s *forkScenario) refs(blocks ...*Block) []tracker.KeystoneRef {
	s.t.Helper()
	var out []tracker.KeystoneRef
	for _, b := range blocks {
		if !s.chain.IsKeystone(b.NumberU64()) {
			continue
		}
		k, err := s.chain.keystoneFor(b.Header)
		if err != nil {
			s.t.Fatal(err)
		}
		out = append(out, tracker.KeystoneRef{Number: k.Number, ID: k.ID})
	}
	return out
}
