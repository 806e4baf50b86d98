package devnet

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"golang.org/x/sync/errgroup"

	"github.com/hemi-go/hemi/internal/btc/regtest"
	"github.com/hemi-go/hemi/internal/popm"
	"github.com/hemi-go/hemi/internal/rpc"
	"github.com/hemi-go/hemi/internal/tbc"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestRemotePoPMiner runs the miner as `hemi popm` does, against a running
// node: keystones from the node's JSON-RPC WebSocket (hemi_latestKeystones
// and the newKeystones subscription), Bitcoin through its query API
// (status, UTXOs by script, tx lookups, /v1/feerate, broadcast).
func TestRemotePoPMiner(t *testing.T) {
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
	api := freeAddr(t)
	svc, err := tbc.New(tbc.Config{Params: &chaincfg.RegressionNetParams, DataDir: filepath.Join(dir, "node"),
		Peers: []string{btc.P2PAddr()}, API: api, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	g.Go(func() error { return svc.Run(ctx) })
	if err := WaitIndexed(ctx, svc.Index(), 101); err != nil {
		t.Fatal(err)
	}
	priv, _ := btcec.PrivKeyFromBytes([]byte("devnet remote pop miner test key"))
	wif, _ := btcutil.NewWIF(priv, &chaincfg.RegressionNetParams, true)
	w, err := popm.ParseSecret(wif.String(), popm.P2WPKH, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	if err := fundPoPM(ctx, btc, svc, key, w); err != nil {
		t.Fatal(err)
	}
	l2, err = NewL2(svc.Index(), L2Config{Dir: filepath.Join(dir, "l2"), BlockTime: time.Second, KeystoneInterval: 2, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := rpc.New(rpc.Config{Logger: quiet, Bitcoin: svc.Index(), Finality: l2.Finality}, l2.Chain, l2.Pool)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.Go(func() error { return l2.Pool.Run(ctx) })
	g.Go(func() error { return l2.Sequencer.Run(ctx) })
	g.Go(func() error { return l2.Finality.Run(ctx) })
	g.Go(func() error { return srv.Serve(ctx, ln) })

	events := make(chan popm.Event, 64)
	miner, err := popm.New(popm.Config{
		Wallet:    w,
		Keystones: popm.RPCKeystones{URL: "ws://" + ln.Addr().String()},
		Bitcoin:   popm.APIBitcoin{Client: tbc.NewClient(api), Poll: 100 * time.Millisecond},
		DataDir:   filepath.Join(dir, "popm"),
		Logger:    quiet,
		OnEvent:   func(e popm.Event) { events <- e },
	})
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
	for i := 0; i < 2; i++ {
		pub := next(popm.NotePublished)
		k, err := l2.Chain.KeystoneByID(pub.KeystoneID)
		if err != nil {
			t.Fatalf("published keystone %x is not the chain's: %v", pub.KeystoneID, err)
		}
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
		t.Logf("keystone %d over RPC: tx %s, %d vB, fee %d sat, sent %s after it arrived", k.Number, pub.Txid, pub.VSize, pub.Fee, pub.SentAt.Sub(pub.SeenAt))
	}
}
