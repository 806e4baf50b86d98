package popm

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"golang.org/x/sync/errgroup"

	"github.com/hemi-go/hemi/internal/btc/btcdtest"
	"github.com/hemi-go/hemi/internal/btc/p2p"
	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/pop"
	"github.com/hemi-go/hemi/internal/tbc"
)

// gatedPeers hands the miner's broadcasts to the node's Bitcoin peers,
// holding those of the transactions in held until release is closed (peers
// slow to answer), and records how each one ended.
type gatedPeers struct {
	svc     *tbc.Service
	release chan struct{}
	mu      sync.Mutex
	held    map[chainhash.Hash]bool
	sends   []*gatedSend
}

type gatedSend struct {
	txid chainhash.Hash
	held bool
	done bool
	res  p2p.BroadcastResult
	err  error
}

func (g *gatedPeers) Broadcast(ctx context.Context, tx *wire.MsgTx) (p2p.BroadcastResult, error) {
	s := &gatedSend{txid: tx.TxHash()}
	g.mu.Lock()
	s.held = g.held[s.txid]
	g.sends = append(g.sends, s)
	g.mu.Unlock()
	if s.held {
		select {
		case <-g.release:
		case <-ctx.Done():
			return p2p.BroadcastResult{TxID: s.txid}, ctx.Err()
		}
	}
	res, err := g.svc.Broadcast(ctx, tx)
	g.mu.Lock()
	s.done, s.res, s.err = true, res, err
	g.mu.Unlock()
	return res, err
}

func (g *gatedPeers) hold(txids []chainhash.Hash) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, id := range txids {
		g.held[id] = true
	}
}

// heldSends returns copies of the broadcasts of held transactions.
func (g *gatedPeers) heldSends() []gatedSend {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []gatedSend
	for _, s := range g.sends {
		if s.held {
			out = append(out, *s)
		}
	}
	return out
}

// allDone reports whether every broadcast has ended.
func (g *gatedPeers) allDone() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, s := range g.sends {
		if !s.done {
			return false
		}
	}
	return true
}

// snapBitcoin records the tip of the miner's last complete snapshot:
// Tip is its first read, FeeRate its last (both from the miner's loop).
type snapBitcoin struct {
	Bitcoin
	mu        sync.Mutex
	tip, done chainhash.Hash
}

func (s *snapBitcoin) Tip(ctx context.Context) (chainhash.Hash, int32, error) {
	h, n, err := s.Bitcoin.Tip(ctx)
	s.mu.Lock()
	s.tip = h
	s.mu.Unlock()
	return h, n, err
}

func (s *snapBitcoin) FeeRate(ctx context.Context, target int) (int64, error) {
	r, err := s.Bitcoin.FeeRate(ctx, target)
	s.mu.Lock()
	s.done = s.tip
	s.mu.Unlock()
	return r, err
}

func (s *snapBitcoin) last() chainhash.Hash {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done
}

// TestMinerRecoversFromDeepReorgBtcd is an 8-block-deep Bitcoin reorg
// with two real btcd nodes, A and B, both peers of the miner's node. They
// split; on A the wallet is funded and seven keystones are published, each
// mined in its own block (an 8-block fork). B never has the funding
// transaction, so it keeps the seven as orphans (btcd neither serves an
// orphan nor fetches a transaction it holds as one). B mines a heavier
// fork; the miner's node follows it before A does, and the miner re-sends
// the seven orphaned transactions to peers that already hold them: B as
// orphans, A in its chain (the newest one's change is unspent there, so A
// does not fetch it either). Neither answers a thing.
//
// The re-sends are held (peers that take long to answer) until the next
// keystone's transaction is in A's mempool: they must all be under way at
// once, and the new keystone must not wait for them. Released, none may
// end in the broadcast timeout. Then A reorganizes onto B's fork, and the
// newest keystone is mined within a bound in blocks.
func TestMinerRecoversFromDeepReorgBtcd(t *testing.T) {
	const (
		orphaned = 7
		forkA    = orphaned + 1 // the funding block, then one per publication
		forkB    = forkA + 2
		// bumpBlocks is the miner's Config.BumpBlocks.
		bumpBlocks = 2
	)
	key := txgen.DeriveKey([]byte("popm btcd reorg"), 0)
	mineTo, _ := key.Address(txgen.P2WPKH, &chaincfg.RegressionNetParams)
	// 0.5 sat/B: a PoP transaction at the 1 sat/vB floor (202 sat for 284
	// bytes) relays without btcd's priority rules.
	opts := btcdtest.Options{MiningAddr: mineTo, ExtraArgs: []string{"--minrelaytxfee=0.000005"}}
	a := btcdtest.Start(t, opts)
	b := btcdtest.Start(t, opts)
	b.Connect(a.P2PAddr())
	a.Generate(101)
	common, _ := a.Tip()
	b.WaitForTip(common)

	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	g, ctx := errgroup.WithContext(ctx)
	t.Cleanup(func() {
		cancel()
		_ = g.Wait()
	})
	svc, err := tbc.New(tbc.Config{Params: &chaincfg.RegressionNetParams, DataDir: filepath.Join(dir, "node"),
		Peers: []string{a.P2PAddr(), b.P2PAddr()}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	g.Go(func() error { return svc.Run(ctx) })
	waitTip := func(want chainhash.Hash) {
		t.Helper()
		waitFor(t, "our index at "+want.String(), func() bool { h, _ := svc.BlockTip(); return h == want })
	}
	waitTip(common)
	waitFor(t, "both peers", func() bool { return svc.Progress().Peers == 2 })

	// Split. On A alone: fund the wallet from block 1's coinbase.
	b.Disconnect(a.P2PAddr())
	w := testWallet(t)
	cbHash, err := a.RPC().GetBlockHash(1)
	if err != nil {
		t.Fatal(err)
	}
	cbBlock, err := a.RPC().GetBlock(cbHash)
	if err != nil {
		t.Fatal(err)
	}
	cb := cbBlock.Transactions[0]
	change, _ := key.PkScript(txgen.P2WPKH)
	sp := txgen.Spend{
		Inputs:  []txgen.UTXO{{OutPoint: wire.OutPoint{Hash: cb.TxHash()}, Value: cb.TxOut[0].Value, Key: key, Kind: txgen.P2WPKH}},
		Outputs: []*wire.TxOut{wire.NewTxOut(1_000_000, w.Script())},
		Change:  change,
		FeeRate: 2,
	}
	fund, _, _, err := sp.Build()
	if err != nil {
		t.Fatal(err)
	}
	if err := txgen.Sign(fund, sp.Inputs); err != nil {
		t.Fatal(err)
	}
	a.SendRawTx(fund)
	a.Generate(1)

	peers := &gatedPeers{svc: svc, release: make(chan struct{}), held: map[chainhash.Hash]bool{}}
	snaps := &snapBitcoin{Bitcoin: newIndexBitcoin(svc.Index(), peers, svc)}
	ks := chanKeystones{ch: make(chan pop.L2Keystone)}
	events := make(chan Event, 100)
	released := false
	defer func() {
		if !released {
			close(peers.release) // let a failed run stop
		}
	}()
	t.Cleanup(runMinerConfig(t, ctx, Config{Wallet: w, Keystones: ks,
		Bitcoin: snaps, DataDir: t.TempDir(), Tick: time.Hour, BumpBlocks: bumpBlocks}, events))

	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		peers.mu.Lock()
		for _, x := range peers.sends {
			t.Logf("broadcast %s held %v done %v: %s (err %v)", x.txid, x.held, x.done, x.res, x.err)
		}
		peers.mu.Unlock()
		mp, err := a.RPC().GetRawMempool()
		t.Logf("A's mempool: %v %v", mp, err)
		for {
			select {
			case ev := <-events:
				t.Logf("unread event %s keystone %d tx %s block %s", ev.Kind, ev.KeystoneNumber, ev.Txid, ev.BlockHash)
			default:
				return
			}
		}
	})
	var pubs []chainhash.Hash
	for n := uint64(1); n <= orphaned; n++ {
		ks.ch <- testKS(n)
		ev := nextEvent(t, events, NotePublished)
		a.WaitForMempool(ev.Txid)
		pubs = append(pubs, ev.Txid)
		h := a.Generate(1)[0]
		if c := nextEvent(t, events, NoteConfirmed); c.Txid != ev.Txid || c.BlockHash != *h {
			t.Fatalf("confirmed %+v, want %s in %s", c, ev.Txid, h)
		}
	}
	aTip, _ := a.Tip()
	waitTip(aTip)

	// B's heavier fork: the miner's node reorganizes onto it at once, A
	// does not yet.
	peers.hold(pubs)
	b.Generate(forkB)
	bTip, _ := b.Tip()
	waitTip(bTip)
	for range orphaned {
		nextEvent(t, events, NoteRepublished)
	}
	waitFor(t, "all the re-sends under way at once", func() bool {
		n := 0
		for _, s := range peers.heldSends() {
			if !s.done {
				n++
			}
		}
		return n == orphaned
	})

	// The next keystone goes out while the re-sends wait. It spends the
	// change of the seventh, which A still has unspent in its chain.
	ks.ch <- testKS(orphaned + 1)
	next := nextEvent(t, events, NotePublished)
	a.WaitForMempool(next.Txid)

	// The peers answer the re-sends now: with nothing, as they already
	// hold them. No re-send may cost the broadcast timeout.
	close(peers.release)
	released = true
	waitFor(t, "the re-sends to end", func() bool {
		for _, s := range peers.heldSends() {
			if !s.done {
				return false
			}
		}
		return true
	})
	for _, s := range peers.heldSends() {
		t.Logf("re-send %s: %s (err %v)", s.txid, s.res, s.err)
		if errors.Is(s.err, p2p.ErrBroadcastTimeout) || len(s.res.Unanswered) > 0 {
			t.Errorf("re-send of %s waited for the broadcast timeout: %s", s.txid, s.res)
		}
	}

	// A reorganizes onto B's fork. It puts the funding back in its
	// mempool but not the six it now holds as orphans (btcd refuses a
	// transaction it has as an orphan, and evicts what spends it: the
	// seventh and the eighth go too); the block that mines the funding
	// brings the six back into its mempool. The miner replaces the chain
	// with one transaction carrying the newest keystone BumpBlocks blocks
	// after the re-send, which came at B's tip or the block before (the
	// node switched as soon as B's fork was heavier). A bump made while
	// A takes the six back may lose to them (they are mined, the miner
	// brings its old chain back and replaces the rest at once): the
	// newest keystone is mined at most BumpBlocks+2 blocks after A's
	// reorg. Each block is mined once the miner has read the last one and
	// its broadcasts have ended, so the count is the miner's, but for the
	// instant between a snapshot and the start of its broadcasts, which
	// the test cannot see: one block more for it.
	b.Connect(a.P2PAddr())
	a.WaitForTip(bTip)
	const bound = bumpBlocks + 3
	var in chainhash.Hash
	for i := 1; in == (chainhash.Hash{}); i++ {
		if i > bound {
			t.Fatalf("the newest keystone is not mined %d blocks after A's reorg", bound)
		}
		h := *a.Generate(1)[0]
		waitTip(h)
		waitFor(t, "the miner's snapshot of "+h.String(), func() bool { return snaps.last() == h })
		waitFor(t, "the miner's broadcasts to end", peers.allDone)
		ps, err := svc.Index().Publications(next.KeystoneID, h)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) > 0 {
			in = ps[0].BlockHash
			t.Logf("the newest keystone is mined %d blocks after A's reorg", i)
		}
	}
	for {
		c := nextEvent(t, events, NoteConfirmed)
		if c.KeystoneID == next.KeystoneID {
			if c.BlockHash != in {
				t.Fatalf("confirmed %+v, want in %s", c, in)
			}
			break
		}
	}
}
