package integration

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/btcdtest"
	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/txgen"
)

// Fork lengths: A's fork is the one our index holds first and loses.
const (
	forkA = 6
	forkB = 8
)

// TestReorgTwoBtcdNodes makes a reorg of depth forkA with two btcd nodes:
// they mine a common chain with transactions, split, A mines forkA blocks
// and B mines forkB (more work, different transactions, among them a double
// spend of an output A's fork spent), then they reconnect. Afterwards our
// index must match the winning chain at the tip, still answer as of A's
// lost tip exactly as btcd A answered before the reorg, and have sent
// disconnected then connected events in order.
func TestReorgTwoBtcdNodes(t *testing.T) {
	tests := []struct {
		name string
		// peers of our service: A only means the reorg reaches us through
		// a peer that itself reorganized.
		bothPeers bool
	}{
		{name: "connected to the losing node only", bothPeers: false},
		{name: "connected to both nodes", bothPeers: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { testReorg(t, tc.bothPeers) })
	}
}

func testReorg(t *testing.T, bothPeers bool) {
	start := time.Now()
	a := btcdtest.Start(t, btcdtest.Options{TxIndex: true, AddrIndex: true})
	b := btcdtest.Start(t, btcdtest.Options{TxIndex: true, AddrIndex: true})
	b.Connect(a.P2PAddr())

	// The common chain, with traffic and a publication.
	w := newWallet(t, "reorg")
	addrs := w.addresses()
	w.mine(a, 110)
	for range 10 {
		w.activity(a, 3)
		w.mine(a, 1)
	}
	w.publish(a, keystone(1, w.tip))
	w.mine(a, 1)
	common, commonHeight := a.Tip()
	b.WaitForTip(common)
	before := takeSnapshot(t, a, addrs) // the common chain, below the fork

	peers := []string{a.P2PAddr()}
	if bothPeers {
		peers = append(peers, b.P2PAddr())
	}
	ours := startNode(t, "ours", t.TempDir(), peers...)
	ours.waitTip(common)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	events := ours.ix().Subscribe(ctx, ours.ix().NextEventSeq())

	// Split. Both forks spend the same confirmed output x, differently.
	b.Disconnect(a.P2PAddr())
	wa, wb := w.clone(1), w.clone(2)
	x := w.bigCoin()
	spentByA := wa.spend(a, spendOpts{inputs: []txgen.UTXO{wa.takeCoin(x)}, extra: []*wire.TxOut{wa.opReturn([]byte("fork A"))}})
	spentByB := wb.spendTx(spendOpts{inputs: []txgen.UTXO{wb.takeCoin(x)}, extra: []*wire.TxOut{wb.opReturn([]byte("fork B"))}})
	ksA, ksB := keystone(2, w.tip), keystone(3, w.tip)
	wa.publish(a, ksA)
	for range forkA {
		wa.activity(a, 3)
		wa.mine(a, 1)
	}
	aTip, aHeight := a.Tip()
	ours.waitTip(aTip)
	lost := takeSnapshot(t, a, addrs) // btcd A's answers before it loses
	all := expectation{absent: union(wa.sent, wb.sent), pubs: slices.Concat(w.pubs, wa.pubs[len(w.pubs):])}
	compareIndex(t, ours.ix(), lost, true, all)

	wb.send(b, spentByB)
	wb.publish(b, ksB)
	for range forkB {
		wb.activity(b, 3)
		wb.mine(b, 1)
	}
	bTip, bHeight := b.Tip()
	all = expectation{absent: union(wa.sent, wb.sent), pubs: slices.Concat(w.pubs, wa.pubs[len(w.pubs):], wb.pubs[len(w.pubs):])}
	t.Logf("common %d, A's fork to %d, B's fork to %d, mined in %s", commonHeight, aHeight, bHeight, time.Since(start).Round(time.Millisecond))

	// Reconnect: A reorganizes to B's chain, and so do we.
	b.Connect(a.P2PAddr())
	a.WaitForTip(bTip)
	ours.waitTip(bTip)
	t.Logf("reorged at %s", time.Since(start).Round(time.Millisecond))
	won := takeSnapshot(t, b, addrs)

	// The tip view is B's chain; A's fork is gone from it.
	compareIndex(t, ours.ix(), won, true, all)
	compareAPI(t, ours.api, won, true, all)
	// As of A's lost tip, the index answers as btcd A did.
	compareIndex(t, ours.ix(), lost, false, all)
	compareAPI(t, ours.api, lost, false, all)
	// Below the fork nothing changed.
	compareIndex(t, ours.ix(), before, false, all)

	// The same, spelled out for the double-spent output and the fork-only
	// transactions and keystones.
	ix := ours.ix()
	tip := chainhash.Hash{}
	checks := []struct {
		name string
		got  func() (string, error)
		want string
	}{
		{"spend of x at the tip", spendOf(ix, x, tip), spentByB.TxHash().String() + ":0"},
		{"spend of x as of A's tip", spendOf(ix, x, aTip), spentByA.TxHash().String() + ":0"},
		{"A's double spend at the tip", txBlock(ix, spentByA.TxHash(), tip), "not found"},
		{"A's double spend as of A's tip", txBlock(ix, spentByA.TxHash(), aTip), fmt.Sprintf("%s conf %d", lost.txs[spentByA.TxHash()].block, lost.txs[spentByA.TxHash()].conf)},
		{"B's double spend as of A's tip", txBlock(ix, spentByB.TxHash(), aTip), "not found"},
		{"A's keystone at the tip", pubCount(ix, ksA.ID(), tip), "0"},
		{"A's keystone as of A's tip", pubCount(ix, ksA.ID(), aTip), "1"},
		{"B's keystone at the tip", pubCount(ix, ksB.ID(), tip), "1"},
		{"B's keystone as of A's tip", pubCount(ix, ksB.ID(), aTip), "0"},
		{"header at A's height as of A's tip", headerAt(ix, aHeight, aTip), aTip.String()},
		{"header at A's height at the tip", headerAt(ix, aHeight, tip), won.hashes[aHeight].String()},
		{"A's tip by hash at the tip", headerByHash(ix, aTip, tip), "not found"},
		{"A's tip by hash as of A's tip", headerByHash(ix, aTip, aTip), fmt.Sprintf("%d main=false", aHeight)},
		{"B's tip by hash at the tip", headerByHash(ix, bTip, tip), fmt.Sprintf("%d main=true", bHeight)},
	}
	for _, c := range checks {
		got, err := c.got()
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}

	// Events since the common tip: A's blocks connected, then the reorg:
	// A's disconnected newest first, B's connected oldest first.
	var want []index.Event
	for h := commonHeight + 1; h <= aHeight; h++ {
		want = append(want, index.Event{Kind: index.EventConnected, Hash: lost.hashes[h], Height: h})
	}
	for h := aHeight; h > commonHeight; h-- {
		want = append(want, index.Event{Kind: index.EventDisconnected, Hash: lost.hashes[h], Height: h})
	}
	for h := commonHeight + 1; h <= bHeight; h++ {
		want = append(want, index.Event{Kind: index.EventConnected, Hash: won.hashes[h], Height: h})
	}
	expectEvents(t, events, want)
	select {
	case e := <-events:
		t.Errorf("unexpected event after the reorg: %+v", e)
	case <-time.After(200 * time.Millisecond):
	}

	// Both views survive a restart: the losing fork is retained on disk.
	ours.Stop()
	reopened := reopenIndex(t, ours.dataDir)
	compareIndex(t, reopened, won, true, all)
	compareIndex(t, reopened, lost, false, all)
}

// expectEvents reads len(want) events from ch and checks kind, block and
// height of each, and that sequence numbers are dense.
func expectEvents(t *testing.T, ch <-chan index.Event, want []index.Event) {
	t.Helper()
	got := readEvents(t, ch, len(want))
	for i := range want {
		if got[i].Kind != want[i].Kind || got[i].Hash != want[i].Hash || got[i].Height != want[i].Height ||
			(i > 0 && got[i].Seq != got[i-1].Seq+1) {
			t.Errorf("event %d: %v %s@%d seq %d, want %v %s@%d", i, got[i].Kind, got[i].Hash, got[i].Height, got[i].Seq,
				want[i].Kind, want[i].Hash, want[i].Height)
		}
	}
}

// readEvents reads n events, failing t if they do not come.
func readEvents(t *testing.T, ch <-chan index.Event, n int) []index.Event {
	t.Helper()
	var out []index.Event
	timeout := time.After(30 * time.Second)
	for len(out) < n {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("event channel closed after %d of %d events", len(out), n)
			}
			out = append(out, e)
		case <-timeout:
			t.Fatalf("got %d of %d events in 30s: %+v", len(out), n, out)
		}
	}
	return out
}

func union(lists ...[]chainhash.Hash) []chainhash.Hash {
	seen := make(map[chainhash.Hash]bool)
	var out []chainhash.Hash
	for _, l := range lists {
		for _, h := range l {
			if !seen[h] {
				seen[h] = true
				out = append(out, h)
			}
		}
	}
	return out
}

func spendOf(ix *index.Index, op wire.OutPoint, asOf chainhash.Hash) func() (string, error) {
	return func() (string, error) {
		s, err := ix.SpendOf(op, asOf)
		if isNotFound(err) {
			return "not found", nil
		}
		return fmt.Sprintf("%s:%d", s.Txid, s.Input), err
	}
}

func txBlock(ix *index.Index, txid, asOf chainhash.Hash) func() (string, error) {
	return func() (string, error) {
		ti, err := ix.TxByID(txid, asOf)
		if isNotFound(err) {
			return "not found", nil
		}
		return fmt.Sprintf("%s conf %d", ti.BlockHash, ti.Confirmations), err
	}
}

func pubCount(ix *index.Index, id [32]byte, asOf chainhash.Hash) func() (string, error) {
	return func() (string, error) {
		ps, err := ix.Publications(id, asOf)
		if isNotFound(err) {
			err = nil
		}
		return fmt.Sprint(len(ps)), err
	}
}

func headerAt(ix *index.Index, h int32, asOf chainhash.Hash) func() (string, error) {
	return func() (string, error) {
		hi, err := ix.HeaderByHeight(h, asOf)
		return hi.Hash.String(), err
	}
}

func headerByHash(ix *index.Index, hash, asOf chainhash.Hash) func() (string, error) {
	return func() (string, error) {
		hi, err := ix.HeaderByHash(hash, asOf)
		if isNotFound(err) {
			return "not found", nil
		}
		return fmt.Sprintf("%d main=%v", hi.Height, hi.MainChain), err
	}
}
