package devnettest

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/devnet"
	"github.com/hemi-go/hemi/internal/finality"
	"github.com/hemi-go/hemi/internal/popm"
)

// End-to-end settings: 1 s L2 blocks, a keystone every 3 blocks,
// superfinal at 3 Bitcoin confirmations, rewards 10 L2 blocks after the
// keystone (the first publication enters the Bitcoin view, which lags the
// tip by 2 blocks, well within that).
const (
	e2eInterval   = 3
	e2eDepth      = 3
	e2eDelay      = 10
	e2eKeystones  = 4 // followed one Bitcoin block at a time before the reorg
	e2eMaxVSize   = 202
	e2eTestBudget = 90 * time.Second
)

// TestPoPEndToEnd is issue 4's flow on one in-process devnet: blocks are
// produced; every keystone is published by the PoP miner and mined in the
// next Bitcoin block; after every Bitcoin block each published keystone
// (and the blocks it covers) has exactly the expected confirmations, is
// superfinal exactly from the configured depth on, and the safe and
// finalized heads (service and JSON-RPC tags) are the newest such blocks;
// the first keystone's publisher is rewarded in block K + RewardDelay;
// then a Bitcoin reorg orphans a publication: finality drops, the miner
// re-publishes the same transaction, it is mined and finality recovers.
func TestPoPEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a whole devnet (regtest node, indexer, L2, PoP miner)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), e2eTestBudget)
	defer cancel()
	s, err := StartStack(ctx, StackConfig{
		DataDir: t.TempDir(), L2BlockTime: time.Second, KeystoneInterval: e2eInterval,
		SuperfinalDepth: e2eDepth, RewardDelay: e2eDelay, RPC: true,
		// No fee bumps while the reorg keeps transactions out of blocks.
		PoPM: devnet.PoPMConfig{BumpBlocks: 100},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("stack: %v", err)
		}
	}()
	rc, err := gethrpc.DialContext(ctx, s.RPCURL)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	e := &e2e{t: t, ctx: ctx, s: s, rc: rc, ordinary: map[int32]bool{}, sent: map[uint64]PoPEvent{},
		pub: map[uint64]int32{}, seen: map[uint64][]string{}}

	// Blocks produced, each on its parent.
	h6, err := s.WaitL2(ctx, 2*e2eInterval)
	if err != nil {
		t.Fatal(err)
	}
	for n := h6.Number.Uint64(); n > 0; n-- {
		h, _ := s.L2.Chain.HeaderByNumber(n)
		p, _ := s.L2.Chain.HeaderByNumber(n - 1)
		if h == nil || p == nil || h.ParentHash != p.Hash() {
			t.Fatalf("L2 block %d is not on block %d", n, n-1)
		}
	}

	// Steady state: Bitcoin is mined one block at a time and everything
	// is checked after each block, until each of the first keystones is
	// superfinal.
	for i := uint64(1); i <= e2eKeystones; i++ {
		k := i * e2eInterval
		ev, err := s.WaitEvent(ctx, 0, popm.NotePublished, k)
		if err != nil {
			t.Fatal(err)
		}
		ks, err := s.L2.Chain.KeystoneAt(k)
		if err != nil {
			t.Fatal(err)
		}
		if ev.KeystoneID != ks.ID || ev.VSize > e2eMaxVSize || ev.Fee <= 0 {
			t.Fatalf("keystone %d: published id %x, %d vB, fee %d; want id %x, <= %d vB", k, ev.KeystoneID, ev.VSize, ev.Fee, ks.ID, e2eMaxVSize)
		}
		if sealed, _, ok := s.SealedAt(k); ok {
			t.Logf("keystone %d: tx %s, %d vB, fee %d sat, sent %s after its block arrived", k, ev.Txid, ev.VSize, ev.Fee, ev.SentAt.Sub(sealed).Round(time.Millisecond))
		}
		for !e.superfinal(k) {
			e.mine(1)
		}
	}
	for i := uint64(1); i <= e2eKeystones; i++ {
		k := i * e2eInterval
		want := []string{fmt.Sprintf("%d/false", e2eDepth-1), fmt.Sprintf("%d/true", e2eDepth)}
		for _, w := range want {
			if !slices.Contains(e.seen[k], w) {
				t.Fatalf("keystone %d: observed (confirmations/superfinal) %v, never %s", k, e.seen[k], w)
			}
		}
	}
	// The finalized head never went back and stood at each keystone in
	// turn, except one whose Bitcoin block also confirmed a later
	// keystone: the head then steps over it to the later one.
	if !slices.IsSorted(e.finalized) {
		t.Fatalf("finalized head went back: %v", e.finalized)
	}
	for i := uint64(1); i <= e2eKeystones; i++ {
		k := i * e2eInterval
		if next := e.effective(k + e2eInterval); next != 0 && next == e.effective(k) {
			continue
		}
		if !slices.Contains(e.finalized, k) {
			t.Fatalf("finalized head over time %v: never at keystone %d", slices.Compact(slices.Clone(e.finalized)), k)
		}
	}
	e.checkRPCFinality(e2eInterval)
	e.checkReward(e2eInterval)

	// A Bitcoin reorg orphans the next keystone's publication.
	kr := uint64(e2eKeystones+1) * e2eInterval
	pubEv, err := s.WaitEvent(ctx, 0, popm.NotePublished, kr)
	if err != nil {
		t.Fatal(err)
	}
	for e.pub[kr] == 0 {
		e.mine(1)
	}
	if f := e.finality(kr); !f.Published || f.Confirmations < 1 || e.heads().Safe < kr {
		t.Fatalf("keystone %d before the reorg: %+v, heads %+v", kr, f.Status, e.heads())
	}
	_, before := s.BTC.Tip()
	held, _ := s.BTC.HashAt(e.pub[kr])
	from := len(s.Events(0))
	if err := s.BTC.InvalidateBlock(held); err != nil {
		t.Fatal(err)
	}
	_, tip := s.BTC.Tip()
	for h := range e.ordinary {
		if h > tip {
			delete(e.ordinary, h)
		}
	}
	// One block more than the orphaned branch: more work.
	empty, err := s.MineEmptyBTC(ctx, int(before-tip)+1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(s.BTC.MempoolTxids(), pubEv.Txid) {
		t.Fatalf("the orphaned publication %s is not back in the mempool", pubEv.Txid)
	}
	re, err := s.WaitEvent(ctx, from, popm.NoteRepublished, kr)
	if err != nil {
		t.Fatal(err)
	}
	if re.Txid != pubEv.Txid {
		t.Fatalf("republished %s, want the orphaned %s again", re.Txid, pubEv.Txid)
	}
	if f, err := s.WaitFinality(ctx, kr, "unpublished after the reorg", func(f *finality.BlockFinality) bool {
		return !f.Published && f.Confirmations == 0 && !f.Superfinal
	}); err != nil {
		t.Fatal(err)
	} else {
		t.Logf("keystone %d after the reorg to %s: published %v", kr, empty[len(empty)-1], f.Published)
	}
	for k := range e.pub {
		if e.pub[k] > tip {
			delete(e.pub, k) // orphaned with the block
		}
	}
	e.syncPairs()
	e.checkAll()
	if got := e.heads().Safe; got >= kr {
		t.Fatalf("safe head %d after keystone %d's publication was orphaned", got, kr)
	}
	// The miner's transaction is mined again; finality recovers.
	for !e.superfinal(kr) {
		e.mine(1)
	}
	emptyTip, _ := s.BTC.HeightOf(empty[len(empty)-1])
	if e.pub[kr] != emptyTip+1 {
		t.Fatalf("keystone %d: republication mined at %d, want %d (the first block after the empty branch)", kr, e.pub[kr], emptyTip+1)
	}
	t.Logf("keystone %d: re-published %s mined at %d, superfinal again (observed %v)", kr, re.Txid, e.pub[kr], e.seen[kr])
}

// e2e follows the stack: which heights were mined with the mempool,
// which sent transactions were matched with their confirmation, each
// keystone's publication height and what finality said.
type e2e struct {
	t   *testing.T
	ctx context.Context
	s   *Stack
	rc  *gethrpc.Client
	// ordinary are the Bitcoin heights of the best chain mined by
	// MineBTC (not MineEmptyBTC).
	ordinary map[int32]bool
	// next is the first event not yet read; sent is each keystone's
	// last transaction sent and not yet confirmed.
	next int
	sent map[uint64]PoPEvent
	// pub is each keystone's own publication height (0: none).
	pub map[uint64]int32
	// seen lists "confirmations/superfinal" observed per keystone.
	seen      map[uint64][]string
	finalized []uint64
}

// mine mines n ordinary blocks one at a time and checks everything after
// each.
func (e *e2e) mine(n int) {
	e.t.Helper()
	for range n {
		hs, err := e.s.MineBTC(e.ctx, 1)
		if err != nil {
			e.t.Fatal(err)
		}
		h, ok := e.s.BTC.HeightOf(hs[0])
		if !ok {
			e.t.Fatalf("mined block %s is not on the best chain", hs[0])
		}
		e.ordinary[h] = true
		e.syncPairs()
		e.checkAll()
	}
}

// syncPairs matches every transaction the miner sent with its
// confirmation, waiting for those due by the tip: a publication is mined
// in the first ordinary block after its broadcast. A republication
// unpublishes its keystone until it is confirmed again.
func (e *e2e) syncPairs() {
	e.t.Helper()
	_, tip := e.s.BTC.Tip()
	for {
		for _, ev := range e.s.Events(e.next) {
			e.next = ev.Seq + 1
			switch ev.Kind {
			case popm.NotePublished, popm.NoteBumped, popm.NoteRepublished:
				e.sent[ev.KeystoneNumber] = ev
				if ev.Kind == popm.NoteRepublished {
					delete(e.pub, ev.KeystoneNumber)
				}
			case popm.NoteConfirmed:
				sent, ok := e.sent[ev.KeystoneNumber]
				if !ok {
					e.t.Fatalf("keystone %d: confirmed %s, never sent", ev.KeystoneNumber, ev.Txid)
				}
				delete(e.sent, ev.KeystoneNumber)
				if ev.Txid != sent.Txid {
					e.t.Fatalf("keystone %d: confirmed %s, sent %s", ev.KeystoneNumber, ev.Txid, sent.Txid)
				}
				if want := e.nextOrdinary(sent.BTCHeight); ev.Height != want {
					e.t.Fatalf("keystone %d: tx %s sent at Bitcoin height %d mined at %d, want %d (the next block mined)",
						ev.KeystoneNumber, ev.Txid, sent.BTCHeight, ev.Height, want)
				}
				e.pub[ev.KeystoneNumber] = ev.Height
			}
		}
		due := false
		for _, sent := range e.sent {
			if e.nextOrdinary(sent.BTCHeight) <= tip {
				due = true
			}
		}
		if !due {
			return
		}
		if err := e.s.sleep(e.ctx, stackPoll); err != nil {
			e.t.Fatalf("waiting for the miner to see its transactions mined by height %d: %v", tip, err)
		}
	}
}

// nextOrdinary is the first ordinary height above h (a large number if
// none yet).
func (e *e2e) nextOrdinary(h int32) int32 {
	best := int32(1 << 30)
	for x := range e.ordinary {
		if x > h && x < best {
			best = x
		}
	}
	return best
}

// effective is the height of the earliest publication of k or of a later
// keystone (0: none).
func (e *e2e) effective(k uint64) int32 {
	var best int32
	for kk, h := range e.pub {
		if kk >= k && h > 0 && (best == 0 || h < best) {
			best = h
		}
	}
	return best
}

// checkAll asserts each published keystone's finality and the covered
// blocks', then the safe and finalized heads, as of the Bitcoin tip.
func (e *e2e) checkAll() {
	e.t.Helper()
	_, tip := e.s.BTC.Tip()
	var safe, fin uint64
	head := e.s.L2.Chain.Head().Number.Uint64()
	for k := uint64(e2eInterval); k <= head; k += e2eInterval {
		p := e.effective(k)
		if p == 0 {
			continue
		}
		confs := uint32(tip - p + 1)
		f, err := e.s.WaitFinality(e.ctx, k, fmt.Sprintf("%d confirmations", confs), func(f *finality.BlockFinality) bool {
			return f.Published && f.Publication.Height == p && f.Confirmations == confs
		})
		if err != nil {
			e.t.Fatal(err)
		}
		if f.Superfinal != (confs >= e2eDepth) || f.Depth != e2eDepth {
			e.t.Fatalf("keystone %d at %d confirmations: superfinal %v (depth %d)", k, confs, f.Superfinal, f.Depth)
		}
		if f.KeystoneNumber != k || !f.KeystoneExists {
			e.t.Fatalf("keystone %d covered by %d (exists %v)", k, f.KeystoneNumber, f.KeystoneExists)
		}
		e.seen[k] = append(e.seen[k], fmt.Sprintf("%d/%v", confs, f.Superfinal))
		for n := k - e2eInterval + 1; n < k; n++ {
			c := e.finality(n)
			if c.KeystoneNumber != k || c.Status != f.Status {
				e.t.Fatalf("block %d (covered by %d): %+v, keystone: %+v", n, c.KeystoneNumber, c.Status, f.Status)
			}
		}
		safe = max(safe, k)
		if f.Superfinal {
			fin = max(fin, k)
		}
	}
	want := finality.Heads{Safe: safe, Finalized: fin}
	if err := e.s.WaitFor(e.ctx, fmt.Sprintf("heads %+v", want), func() bool { return e.heads() == want }); err != nil {
		e.t.Fatalf("%v: have %+v", err, e.heads())
	}
	e.finalized = append(e.finalized, fin)
	for tag, n := range map[string]uint64{"safe": safe, "finalized": fin} {
		var h *types.Header
		if err := e.rc.CallContext(e.ctx, &h, "eth_getBlockByNumber", tag, false); err != nil {
			e.t.Fatal(err)
		}
		if h == nil || h.Number.Uint64() != n {
			e.t.Fatalf("eth_getBlockByNumber(%q) = %v, want block %d", tag, h, n)
		}
	}
}

// superfinal reports whether the last check saw keystone k published and
// superfinal.
func (e *e2e) superfinal(k uint64) bool {
	seen := e.seen[k]
	return e.pub[k] != 0 && len(seen) > 0 && strings.HasSuffix(seen[len(seen)-1], "/true")
}

func (e *e2e) heads() finality.Heads { return e.s.L2.Finality.Heads() }

func (e *e2e) finality(n uint64) *finality.BlockFinality {
	e.t.Helper()
	f, err := e.s.Finality(n)
	if err != nil {
		e.t.Fatalf("finality of block %d: %v", n, err)
	}
	return f
}

// checkRPCFinality compares hemi_getFinality with the service.
func (e *e2e) checkRPCFinality(n uint64) {
	e.t.Helper()
	var got struct {
		Number         hexutil.Uint64 `json:"number"`
		KeystoneNumber hexutil.Uint64 `json:"keystoneNumber"`
		Published      bool           `json:"published"`
		Confirmations  hexutil.Uint64 `json:"confirmations"`
		Superfinal     bool           `json:"superfinal"`
		Depth          hexutil.Uint64 `json:"superfinalDepth"`
		Publication    *struct {
			BTCTxid   string         `json:"btcTxid"`
			BTCHeight hexutil.Uint64 `json:"btcHeight"`
		} `json:"publication"`
	}
	if err := e.rc.CallContext(e.ctx, &got, "hemi_getFinality", hexutil.Uint64(n)); err != nil {
		e.t.Fatal(err)
	}
	f := e.finality(n)
	if uint64(got.Number) != n || uint64(got.KeystoneNumber) != f.KeystoneNumber || got.Published != f.Published ||
		uint32(got.Confirmations) != f.Confirmations || got.Superfinal != f.Superfinal || uint32(got.Depth) != e2eDepth ||
		got.Publication == nil || got.Publication.BTCTxid != chainhash.Hash(f.Publication.Txid).String() ||
		int32(got.Publication.BTCHeight) != f.Publication.Height {
		e.t.Fatalf("hemi_getFinality(%d) = %+v, service %+v", n, got, f)
	}
}

// checkReward: the PoP miner's reward address gains exactly the reward
// for a first publication in block k + RewardDelay, nothing in the block
// before.
func (e *e2e) checkReward(k uint64) {
	e.t.Helper()
	if _, err := e.s.WaitL2(e.ctx, k+e2eDelay); err != nil {
		e.t.Fatal(err)
	}
	ec := ethclient.NewClient(e.rc)
	addr := e.s.Wallet.RewardAddress()
	bal := func(n uint64) *big.Int {
		b, err := ec.BalanceAt(e.ctx, addr, new(big.Int).SetUint64(n))
		if err != nil {
			e.t.Fatal(err)
		}
		return b
	}
	pop := e.s.L2.Spec.Config.PoP
	want := new(big.Int).Mul(pop.Reward, big.NewInt(int64(pop.RewardTable[0])))
	want.Div(want, big.NewInt(100))
	before2, before, after := bal(k+e2eDelay-2), bal(k+e2eDelay-1), bal(k+e2eDelay)
	if before.Cmp(before2) != 0 {
		e.t.Fatalf("reward address balance moved before block %d: %s -> %s", k+e2eDelay, before2, before)
	}
	if got := new(big.Int).Sub(after, before); got.Cmp(want) != 0 {
		e.t.Fatalf("reward in block %d: %s wei, want %s", k+e2eDelay, got, want)
	}
}
