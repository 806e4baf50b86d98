package devnettest

import (
	"context"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/hemi-go/hemi/internal/devnet"
	"github.com/hemi-go/hemi/internal/popm"
)

// TestDevnetPoPMiner runs the devnet's Bitcoin layer, L2 and PoP miner in
// process: the dev wallet is funded from the miner's coinbase, and every
// keystone the sequencer seals is published, mined in the next Bitcoin
// block and indexed as a publication of that keystone.
func TestDevnetPoPMiner(t *testing.T) {
	ctx := context.Background()
	events := make(chan popm.Event, 64)
	s, err := StartStack(ctx, StackConfig{L2BlockTime: time.Second, KeystoneInterval: 2,
		PoPM: devnet.PoPMConfig{OnEvent: func(e popm.Event) { events <- e }}})
	if err != nil {
		t.Fatal(err)
	}
	defer closeStack(t, s)
	bal, err := s.TBC.Index().Balance(s.Wallet.Script(), chainhash.Hash{})
	if err != nil || bal != devnet.PoPMOutputs*devnet.PoPMOutputValue {
		t.Fatalf("pop miner balance %d, %v", bal, err)
	}
	for i := 0; i < 3; i++ {
		pub := nextEvent(t, events, popm.NotePublished)
		k, err := s.L2.Chain.KeystoneByID(pub.KeystoneID)
		if err != nil {
			t.Fatalf("published keystone %x is not the chain's: %v", pub.KeystoneID, err)
		}
		if pub.VSize > 202 || pub.KeystoneNumber != k.Number {
			t.Fatalf("publication %+v", pub)
		}
		sealed := time.Unix(int64(mustHeader(t, s.L2, k.Number)), 0)
		t.Logf("keystone %d: tx %s, %d vB, fee %d sat; sent %s after the miner saw it, within %s of the sealed block's (second-resolution) time",
			k.Number, pub.Txid, pub.VSize, pub.Fee, pub.SentAt.Sub(pub.SeenAt), pub.SentAt.Sub(sealed).Round(time.Millisecond))
		mineConfirmed(ctx, t, s, events, pub)
	}
}

// closeStack closes s at the end of a test and reports a service error.
func closeStack(t *testing.T, s *Stack) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Errorf("stack: %v", err)
	}
}

// nextEvent waits up to 30 s for the next event of kind on events,
// skipping the others.
func nextEvent(t *testing.T, events <-chan popm.Event, kind popm.NoteKind) popm.Event {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e := <-events:
			if e.Kind == kind {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s event", kind)
		}
	}
}

// mineConfirmed mines the block after publication pub reached the
// regtest mempool and checks that the miner reports it confirmed in that
// block and the index holds it as the keystone's publication.
func mineConfirmed(ctx context.Context, t *testing.T, s *Stack, events <-chan popm.Event, pub popm.Event) {
	t.Helper()
	if err := s.WaitMempool(ctx, pub.Txid); err != nil {
		t.Fatal(err)
	}
	hs, err := s.MineBTC(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	conf := nextEvent(t, events, popm.NoteConfirmed)
	if conf.Txid != pub.Txid || conf.BlockHash != hs[0] {
		t.Fatalf("confirmed %+v, mined %s", conf, hs[0])
	}
	pubs, err := s.TBC.Index().Publications(pub.KeystoneID, chainhash.Hash{})
	if err != nil || len(pubs) == 0 || pubs[0].Txid != pub.Txid {
		t.Fatalf("publications of keystone %d: %+v, %v", pub.KeystoneNumber, pubs, err)
	}
}

func mustHeader(t *testing.T, l2 *devnet.L2, number uint64) uint64 {
	t.Helper()
	h, err := l2.Chain.HeaderByNumber(number)
	if err != nil {
		t.Fatal(err)
	}
	return h.Time
}
