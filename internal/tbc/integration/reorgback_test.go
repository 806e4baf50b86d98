package integration

import (
	"context"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/btcdtest"
	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/txgen"
)

// TestReorgBackToEarlierFork reorganizes our index away from a fork and
// then back onto it, extended: the blocks it indexed, disconnected and now
// connects again must answer exactly as btcd does, and the fork it left on
// the way must still answer as of its tip.
//
// Three btcd nodes: A mines fork α while C follows it, B mines the longer
// fork β (with a double spend of an output α spends), A reorganizes to β;
// then C extends α past β and A reorganizes back. Our service follows A
// only, so both reorgs reach it through a peer that itself reorganized.
func TestReorgBackToEarlierFork(t *testing.T) {
	a := btcdtest.Start(t, btcdtest.Options{TxIndex: true, AddrIndex: true})
	b := btcdtest.Start(t, btcdtest.Options{TxIndex: true, AddrIndex: true})
	c := btcdtest.Start(t, btcdtest.Options{TxIndex: true, AddrIndex: true})
	b.Connect(a.P2PAddr())
	c.Connect(a.P2PAddr())

	w := newWallet(t, "reorg back")
	addrs := w.addresses()
	w.mine(a, 110)
	w.grow(a, 125)
	common, commonHeight := a.Tip()
	b.WaitForTip(common)
	c.WaitForTip(common)

	ours := startNode(t, "ours", t.TempDir(), a.P2PAddr())
	ours.waitTip(common)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	events := ours.ix().Subscribe(ctx, ours.ix().NextEventSeq())

	// α: A mines, C follows. β is mined apart by B.
	b.Disconnect(a.P2PAddr())
	wα, wβ := w.clone(1), w.clone(2)
	x := w.bigCoin()
	spentByα := wα.spend(a, spendOpts{inputs: []txgen.UTXO{wα.takeCoin(x)}, extra: []*wire.TxOut{wα.opReturn([]byte("alpha"))}})
	ksα := keystone(10, w.tip)
	wα.publish(a, ksα)
	for range forkA {
		wα.activity(a, 3)
		wα.mine(a, 1)
	}
	αTip, αHeight := a.Tip()
	c.WaitForTip(αTip)
	ours.waitTip(αTip)
	αSnap := takeSnapshot(t, a, addrs)
	c.Disconnect(a.P2PAddr())

	spentByβ := wβ.spend(b, spendOpts{inputs: []txgen.UTXO{wβ.takeCoin(x)}, extra: []*wire.TxOut{wβ.opReturn([]byte("beta"))}})
	for range forkB {
		wβ.activity(b, 3)
		wβ.mine(b, 1)
	}
	βTip, βHeight := b.Tip()
	b.Connect(a.P2PAddr())
	a.WaitForTip(βTip)
	ours.waitTip(βTip)
	βSnap := takeSnapshot(t, b, addrs)

	// C extends α past β: A, and we, go back to α.
	for range forkB - forkA + 1 {
		wα.activity(c, 3)
		wα.mine(c, 1)
	}
	c.Connect(a.P2PAddr())
	// A, synced and current, learns of α's longer chain from C's next
	// block announcement (btcd does not sync from a peer that connects
	// later).
	wα.mine(c, 1)
	finalTip, finalHeight := c.Tip()
	a.WaitForTip(finalTip)
	ours.waitTip(finalTip)
	final := takeSnapshot(t, c, addrs)
	t.Logf("common %d, α to %d, β to %d, α again to %d", commonHeight, αHeight, βHeight, finalHeight)

	all := expectation{absent: union(wα.sent, wβ.sent), pubs: wα.pubs}
	compareIndex(t, ours.ix(), final, true, all)
	compareIndex(t, ours.ix(), βSnap, false, all)
	compareIndex(t, ours.ix(), αSnap, false, all)
	compareAPI(t, ours.api, final, true, all)
	compareAPI(t, ours.api, βSnap, false, all)

	for _, chk := range []struct {
		name string
		got  func() (string, error)
		want string
	}{
		{"spend of x at the tip", spendOf(ours.ix(), x, chainhash.Hash{}), spentByα.TxHash().String() + ":0"},
		{"spend of x as of β's tip", spendOf(ours.ix(), x, βTip), spentByβ.TxHash().String() + ":0"},
		{"β's double spend at the tip", txBlock(ours.ix(), spentByβ.TxHash(), chainhash.Hash{}), "not found"},
		{"α's keystone at the tip", pubCount(ours.ix(), ksα.ID(), chainhash.Hash{}), "1"},
		{"α's keystone as of β's tip", pubCount(ours.ix(), ksα.ID(), βTip), "0"},
	} {
		got, err := chk.got()
		if err != nil {
			got = err.Error()
		}
		if got != chk.want {
			t.Errorf("%s: %s, want %s", chk.name, got, chk.want)
		}
	}

	var want []index.Event
	conn := func(s *snapshot, from, to int32) {
		for h := from; h <= to; h++ {
			want = append(want, index.Event{Kind: index.EventConnected, Hash: s.hashes[h], Height: h})
		}
	}
	disc := func(s *snapshot, from, to int32) {
		for h := from; h >= to; h-- {
			want = append(want, index.Event{Kind: index.EventDisconnected, Hash: s.hashes[h], Height: h})
		}
	}
	conn(αSnap, commonHeight+1, αHeight)
	disc(αSnap, αHeight, commonHeight+1)
	conn(βSnap, commonHeight+1, βHeight)
	disc(βSnap, βHeight, commonHeight+1)
	conn(final, commonHeight+1, finalHeight)
	expectEvents(t, events, want)
}
