package integration

import (
	"testing"
	"time"

	"github.com/hemi-go/hemi/internal/btc/btcdtest"
)

// TestSyncMatchesBtcd mines a chain of more than 500 blocks with
// transactions on btcd (P2WPKH and P2TR spends, chains of spends inside a
// block, OP_RETURNs, PoP publications), lets our service sync it over P2P
// (an initial sync, then following new blocks) and compares every index
// answer with btcd's RPC answers, at the tip and as of two earlier blocks
// (snapshots taken when btcd was there), then a sample through the API.
func TestSyncMatchesBtcd(t *testing.T) {
	start := time.Now()
	btcd := btcdtest.Start(t, btcdtest.Options{TxIndex: true, AddrIndex: true})
	w := newWallet(t, "sync")
	addrs := w.addresses()

	w.mine(btcd, 110)
	var ours *node
	var past []*snapshot
	ksA, ksB := keystone(1, 200), keystone(2, 300)
	for w.tip < 520 {
		switch {
		case w.tip >= 300 && ours == nil:
			// An initial sync of 300 blocks, then the service follows.
			ours = startNode(t, "ours", t.TempDir(), btcd.P2PAddr())
		case len(past) == 0 && w.tip >= 250, len(past) == 1 && w.tip >= 420:
			past = append(past, takeSnapshot(t, btcd, addrs))
		}
		w.activity(btcd, 2+w.rng.IntN(5))
		switch {
		case w.tip >= 200 && len(w.pubs) == 0:
			w.publish(btcd, ksA)
		case w.tip >= 300 && len(w.pubs) == 1:
			w.publish(btcd, ksB)
		case w.tip >= 400 && len(w.pubs) == 2:
			w.publish(btcd, ksA) // a keystone published twice, in different blocks
		}
		w.mine(btcd, uint32(1+w.rng.IntN(3)))
	}
	t.Logf("mined %d blocks with %d transactions in %s", w.tip, len(w.sent), time.Since(start).Round(time.Millisecond))

	final := takeSnapshot(t, btcd, addrs)
	t.Logf("snapshot: %s", final.summary())
	ours.waitTip(final.tip)
	t.Logf("synced at %s", time.Since(start).Round(time.Millisecond))

	// The restart test derives past views from a final snapshot; check
	// that derivation against btcd's live answers here.
	for _, p := range past {
		sameSnapshot(t, final.truncate(t, p.height), p)
	}

	e := expectation{absent: w.sent, pubs: w.pubs}
	compareIndex(t, ours.ix(), final, true, e)
	compareIndex(t, ours.ix(), final, false, e)
	for _, s := range past {
		compareIndex(t, ours.ix(), s, false, e)
	}
	compareAPI(t, ours.api, final, true, e)
	compareAPI(t, ours.api, past[0], false, e)
	checkAPIErrors(t, ours, final)
	t.Logf("compared in %s", time.Since(start).Round(time.Millisecond))
}
