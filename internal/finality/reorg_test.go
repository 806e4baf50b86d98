package finality_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/btcdtest"
	"github.com/hemi-go/hemi/internal/btc/regtest"
	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/finality"
	"github.com/hemi-go/hemi/internal/finality/tracker"
	"github.com/hemi-go/hemi/internal/pop"
)

// TestRegtestReorgMovesFinality publishes keystone 50 on the embedded
// regtest node, then reorganises Bitcoin (InvalidateBlock and
// ReconsiderBlock) so the publication first lands on the winning fork,
// then is orphaned and re-mined later on the other fork: block 10's
// finality (covered by keystone 25, committed to by 50's publication)
// follows, including losing and regaining superfinality; the finalized
// tag stays meanwhile and the loss is reported.
func TestRegtestReorgMovesFinality(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a regtest node and a Bitcoin layer")
	}
	key, addr := newWallet(t)
	btc, err := regtest.New(regtest.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- btc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; btc.Close() })
	if _, err := btc.Mine(110, addr); err != nil {
		t.Fatal(err)
	}
	const depth = 10
	s := startStack(t, btc, key, addr, depth)
	s.buildL2(55)
	s.waitFinality(10, want{})
	s.waitHeads(0, 0)

	// Fork B: six empty blocks, then set aside (the index keeps them
	// as its best chain until A has more work).
	fork := s.mine(6)
	if err := btc.InvalidateBlock(fork[0]); err != nil {
		t.Fatal(err)
	}
	// Fork A from the same parent: the publication, seven blocks.
	s.publish(50)
	a := s.mine(7)
	s.waitFinality(10, want{published: true, btcBlock: a[0], from: 50, confs: 7})
	s.waitFinality(50, want{published: true, btcBlock: a[0], from: 50, confs: 7})
	s.waitFinality(51, want{}) // keystone 75 does not exist
	s.waitHeads(50, 0)
	a = append(a, s.mine(3)...)
	s.waitFinality(10, want{published: true, btcBlock: a[0], from: 50, confs: depth, superfinal: true})
	s.waitHeads(50, 50)
	s.wantMetrics(50, 50, 2)

	// Back: fork B becomes valid again and A invalid; the publication
	// returns to the mempool and lands in B's next block once B has
	// more work. Superfinality is lost, then regained.
	if err := btc.ReconsiderBlock(fork[0]); err != nil {
		t.Fatal(err)
	}
	if err := btc.InvalidateBlock(a[0]); err != nil {
		t.Fatal(err)
	}
	b := s.mine(5) // B: 6 + 5 blocks > A's 10
	s.waitFinality(10, want{published: true, btcBlock: b[0], from: 50, confs: 5})
	// The reorg was deeper than the depth: the finalized tag stays,
	// the block says it is not superfinal now, the metric counts it.
	s.waitHeads(50, 50)
	s.wantLost(10, 50)
	s.mine(depth - 5)
	s.waitFinality(10, want{published: true, btcBlock: b[0], from: 50, confs: depth, superfinal: true})
	s.waitHeads(50, 50)
	s.wantLost(10, 0)

	// Forth: a publication of keystone 25 itself, later than 50's,
	// changes nothing for block 10.
	s.publish(25)
	s.mine(1)
	s.waitFinality(10, want{published: true, btcBlock: b[0], from: 50, confs: depth + 1, superfinal: true})

	// A restarted service (no state on disk) rebuilds the same answers
	// from the index and the chain.
	fresh, err := finality.New(finality.Config{Index: s.ix, PoP: genesis.PoPConfig{SuperfinalDepth: depth},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	fresh.Bind(s.chain)
	fctx, fcancel := context.WithCancel(context.Background())
	fdone := make(chan error, 1)
	go func() { fdone <- fresh.Run(fctx) }()
	defer func() {
		fcancel()
		if err := <-fdone; err != nil {
			t.Errorf("restarted service: %v", err)
		}
	}()
	s.fin = fresh
	s.waitHeads(50, 50)
	s.waitFinality(10, want{published: true, btcBlock: b[0], from: 50, confs: depth + 1, superfinal: true})
	s.waitFinality(30, want{published: true, btcBlock: b[0], from: 50, confs: depth + 1, superfinal: true})
}

// btcdNode adapts a btcd process to the stack.
type btcdNode struct{ *btcdtest.TestNode }

func (n btcdNode) Mine(count int, _ address.Address) ([]chainhash.Hash, error) {
	hs := n.Generate(uint32(count))
	out := make([]chainhash.Hash, len(hs))
	for i, h := range hs {
		out[i] = *h
	}
	return out, nil
}

func (n btcdNode) SubmitTx(tx *wire.MsgTx) error {
	n.SendRawTx(tx)
	return nil
}

func (n btcdNode) Block(hash chainhash.Hash) (*wire.MsgBlock, error) {
	return n.RPC().GetBlock(&hash)
}

// twoBtcd starts two connected btcd processes mining to a new wallet,
// which both have 110 blocks (the wallet's first coinbases mature); it
// skips the test with -short.
func twoBtcd(t *testing.T) (*txgen.Key, address.Address, *btcdtest.TestNode, *btcdtest.TestNode) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts two btcd processes")
	}
	key, addr := newWallet(t)
	a := btcdtest.Start(t, btcdtest.Options{MiningAddr: addr})
	b := btcdtest.Start(t, btcdtest.Options{MiningAddr: addr})
	b.Connect(a.P2PAddr())
	a.Generate(110)
	tip, _ := a.Tip()
	b.WaitForTip(tip)
	return key, addr, a, b
}

// TestTwoBtcdReorgOrphansPublication: our node follows btcd A; A
// publishes keystone 50 while split from B; B mines a longer fork
// that double-spends its input; when they reconnect A (and we)
// reorganise to B's chain and the publication is gone for good: block 10
// is unpublished again. Then B
// publishes keystone 25 and block 10 is covered by that.
func TestTwoBtcdReorgOrphansPublication(t *testing.T) {
	key, addr, a, b := twoBtcd(t)

	const depth = 4
	s := startStack(t, btcdNode{a}, key, addr, depth)
	s.buildL2(55)

	b.Disconnect(a.P2PAddr())
	tx := s.publish(50)
	a.WaitForMempool(tx.TxHash())
	onA := s.mine(2)
	s.waitFinality(10, want{published: true, btcBlock: onA[0], from: 50, confs: 2})
	s.waitHeads(50, 0)

	// B's fork spends the publication's input otherwise, so the
	// publication cannot come back after the reorg.
	s.btc = btcdNode{b}
	ds := s.doubleSpend(tx)
	b.WaitForMempool(ds.TxHash())
	s.btc = btcdNode{a}
	b.Generate(4)
	bTip, _ := b.Tip()
	b.Connect(a.P2PAddr())
	a.WaitForTip(bTip)
	s.waitIndexed()
	s.waitFinality(10, want{})
	s.waitHeads(0, 0)

	// B publishes keystone 25 (our wallet's next coinbase).
	s.btc = btcdNode{b}
	tx = s.publish(25)
	b.WaitForMempool(tx.TxHash())
	onB := b.Generate(depth)
	a.WaitForTip(*onB[len(onB)-1])
	s.btc = btcdNode{a}
	s.waitIndexed()
	s.waitFinality(10, want{published: true, btcBlock: *onB[0], from: 25, confs: depth, superfinal: true})
	s.waitFinality(30, want{})
	s.waitHeads(25, 25)
}

// TestL2ForkChoiceFollowsBitcoin: two L2 branches from the genesis
// compete. With no publication the first stays (a tie). Bitcoin node A
// publishes branch B's keystone: the node switches to B. Bitcoin node B,
// split from A, double-spends that publication and publishes branch A's
// keystone; when the Bitcoin nodes reconnect the publication of B is
// reorganised away and the L2 switches back to A. Once A's keystone is
// superfinal, a branch C that scores higher is refused.
func TestL2ForkChoiceFollowsBitcoin(t *testing.T) {
	key, addr, na, nb := twoBtcd(t)

	const depth = 4
	s := startStack(t, btcdNode{na}, key, addr, depth)
	gen := s.chain.Genesis()
	s.buildL2(25)
	a25 := s.chain.Head()
	bBranch := s.buildBranch(gen, 25, 2)
	if s.chain.Head().Hash() != a25.Hash() {
		t.Fatal("an unpublished competing branch replaced the head")
	}
	ka, err := s.chain.KeystoneByHash(a25.Hash())
	if err != nil {
		t.Fatal(err)
	}
	kb, err := s.chain.KeystoneByHash(bBranch[24].Hash())
	if err != nil {
		t.Fatal(err)
	}

	nb.Disconnect(na.P2PAddr())
	txb := s.publishKeystone(kb)
	na.WaitForMempool(txb.TxHash())
	s.mine(1)
	s.waitHead(kb.Hash)
	s.waitHeads(25, 0)

	// Bitcoin node B: the double spend and A's publication, more work.
	s.btc = btcdNode{nb}
	nb.WaitForMempool(s.doubleSpend(txb).TxHash())
	nb.WaitForMempool(s.publishKeystone(ka).TxHash())
	won := nb.Generate(3)
	nb.Connect(na.P2PAddr())
	na.WaitForTip(*won[2])
	s.waitIndexed()
	s.waitHead(ka.Hash)
	s.waitFinality(10, want{published: true, btcBlock: *won[0], from: 25, confs: 3})

	// Superfinal, then extend A to 50 (unpublished) and offer C.
	s.mine(1)
	s.waitHeads(25, 25)
	s.buildL2(25)
	a50 := s.chain.Head()
	cBranch := s.buildBranch(gen, 50, 3)
	kc25, _ := s.chain.KeystoneByHash(cBranch[24].Hash())
	kc50, _ := s.chain.KeystoneByHash(cBranch[49].Hash())
	s.publishKeystone(kc25)
	tx := s.publishKeystone(kc50)
	nb.WaitForMempool(tx.TxHash())
	s.mine(1)
	s.mine(1) // processed after the previous block's reconsideration
	s.waitFinality(10, want{published: true, btcBlock: *won[0], from: 25, confs: 6, superfinal: true})
	if h := s.chain.Head(); h.Hash() != a50.Hash() {
		t.Fatalf("head moved to %d %s below a superfinal block", h.Number, h.Hash())
	}
	// C would have won on score alone: 25 at delay 4 plus 50 against
	// nothing, over A's 25 alone.
	st := func(k *pop.L2Keystone) tracker.BranchKeystone {
		x := s.fin.KeystoneStatus(k)
		return tracker.BranchKeystone{Number: k.Number, Published: x.Published, Height: x.Publication.Height}
	}
	ka50, _ := s.chain.KeystoneByHash(a50.Hash())
	cur, cand := tracker.Score(nil, []tracker.BranchKeystone{st(ka), st(ka50)}, []tracker.BranchKeystone{st(kc25), st(kc50)})
	if cand <= cur {
		t.Fatalf("scores: current %d, candidate %d; the scenario needs the candidate ahead", cur, cand)
	}
}
