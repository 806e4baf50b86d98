package devnet

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"golang.org/x/sync/errgroup"

	"github.com/hemi-go/hemi/internal/btc/regtest"
	"github.com/hemi-go/hemi/internal/popm"
	"github.com/hemi-go/hemi/internal/tbc"
)

// TestDevnetPoPMiner runs the devnet's Bitcoin layer, L2 and PoP miner in
// process: the dev wallet is funded from the miner's coinbase, and every
// keystone the sequencer seals is published, mined in the next Bitcoin
// block and indexed as a publication of that keystone.
func TestDevnetPoPMiner(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	key, minerAddr, err := MinerKey()
	if err != nil {
		t.Fatal(err)
	}
	btc, err := regtest.New(regtest.Config{DataDir: filepath.Join(dir, "regtest"), Logger: quiet, MiningAddr: minerAddr})
	if err != nil {
		t.Fatal(err)
	}
	defer btc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	var l2 *L2
	defer func() {
		cancel()
		if err := g.Wait(); err != nil {
			t.Errorf("stack: %v", err)
		}
		if l2 != nil {
			l2.Chain.Close()
		}
	}()
	g.Go(func() error { return btc.Run(ctx) })
	if _, err := btc.Mine(101, minerAddr); err != nil {
		t.Fatal(err)
	}
	svc, err := tbc.New(tbc.Config{Params: &chaincfg.RegressionNetParams, DataDir: filepath.Join(dir, "node"),
		Peers: []string{btc.P2PAddr()}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	g.Go(func() error { return svc.Run(ctx) })
	if err := WaitIndexed(ctx, svc.Index(), 101); err != nil {
		t.Fatal(err)
	}
	w, err := PoPMWallet()
	if err != nil {
		t.Fatal(err)
	}
	if err := fundPoPM(ctx, btc, svc, key, w); err != nil {
		t.Fatal(err)
	}
	bal, err := svc.Index().Balance(w.Script(), chainhash.Hash{})
	if err != nil || bal != PoPMOutputs*PoPMOutputValue {
		t.Fatalf("pop miner balance %d, %v", bal, err)
	}
	l2, err = NewL2(svc.Index(), L2Config{Dir: filepath.Join(dir, "l2"), BlockTime: time.Second, KeystoneInterval: 2, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	g.Go(func() error { return l2.Pool.Run(ctx) })
	g.Go(func() error { return l2.Sequencer.Run(ctx) })
	events := make(chan popm.Event, 64)
	miner, err := newPoPM(Config{DataDir: dir, Logger: quiet, PoPM: PoPMConfig{OnEvent: func(e popm.Event) { events <- e }}}, svc, l2, w)
	if err != nil {
		t.Fatal(err)
	}
	g.Go(func() error { return miner.Run(ctx) })

	next := func(kind popm.NoteKind) popm.Event {
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
	for i := 0; i < 3; i++ {
		pub := next(popm.NotePublished)
		k, err := l2.Chain.KeystoneByID(pub.KeystoneID)
		if err != nil {
			t.Fatalf("published keystone %x is not the chain's: %v", pub.KeystoneID, err)
		}
		if pub.VSize > 202 || pub.KeystoneNumber != k.Number {
			t.Fatalf("publication %+v", pub)
		}
		sealed := time.Unix(int64(mustHeader(t, l2, k.Number)), 0)
		t.Logf("keystone %d: tx %s, %d vB, fee %d sat; sent %s after the miner saw it, within %s of the sealed block's (second-resolution) time",
			k.Number, pub.Txid, pub.VSize, pub.Fee, pub.SentAt.Sub(pub.SeenAt), pub.SentAt.Sub(sealed).Round(time.Millisecond))
		waitUntil(t, "the PoP tx in the regtest mempool", 10*time.Second, func() bool {
			return slices.Contains(btc.MempoolTxids(), pub.Txid)
		})
		hs, err := btc.Mine(1, minerAddr)
		if err != nil {
			t.Fatal(err)
		}
		conf := next(popm.NoteConfirmed)
		if conf.Txid != pub.Txid || conf.BlockHash != hs[0] {
			t.Fatalf("confirmed %+v, mined %s", conf, hs[0])
		}
		pubs, err := svc.Index().Publications(k.ID, chainhash.Hash{})
		if err != nil || len(pubs) == 0 || pubs[0].Txid != pub.Txid {
			t.Fatalf("publications of keystone %d: %+v, %v", k.Number, pubs, err)
		}
	}
}

func mustHeader(t *testing.T, l2 *L2, number uint64) uint64 {
	t.Helper()
	h, err := l2.Chain.HeaderByNumber(number)
	if err != nil {
		t.Fatal(err)
	}
	return h.Time
}
