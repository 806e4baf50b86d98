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
)

// TestRegtestReorgMovesFinality publishes keystone 50 on the embedded
// regtest node, then reorganises Bitcoin (InvalidateBlock and
// ReconsiderBlock) so the publication first lands on the winning fork,
// then is orphaned and re-mined later on the other fork: block 10's
// finality (covered by keystone 25, committed to by 50's publication)
// follows, including losing and regaining superfinality.
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
	s.waitHeads(50, 0)
	s.mine(depth - 5)
	s.waitFinality(10, want{published: true, btcBlock: b[0], from: 50, confs: depth, superfinal: true})
	s.waitHeads(50, 50)

	// Forth: a publication of keystone 25 itself, later than 50's,
	// changes nothing for block 10.
	s.publish(25)
	s.mine(1)
	s.waitFinality(10, want{published: true, btcBlock: b[0], from: 50, confs: depth + 1, superfinal: true})
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

// TestTwoBtcdReorgOrphansPublication: our node follows btcd A; A
// publishes keystone 50 while split from B; B mines a longer fork
// that double-spends its input; when they reconnect A (and we)
// reorganise to B's chain and the publication is gone for good: block 10
// is unpublished again. Then B
// publishes keystone 25 and block 10 is covered by that.
func TestTwoBtcdReorgOrphansPublication(t *testing.T) {
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
