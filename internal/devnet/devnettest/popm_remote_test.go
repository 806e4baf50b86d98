package devnettest

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/hemi-go/hemi/internal/devnet"
	"github.com/hemi-go/hemi/internal/popm"
	"github.com/hemi-go/hemi/internal/tbc"
	"github.com/hemi-go/hemi/internal/testtools/testkit"
)

// TestRemotePoPMiner runs the miner as `hemi popm` does, against a running
// node: keystones from the node's JSON-RPC WebSocket (hemi_latestKeystones
// and the newKeystones subscription), Bitcoin through its query API
// (status, UTXOs by script, tx lookups, /v1/feerate, broadcast).
func TestRemotePoPMiner(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	api := testkit.FreeAddr(t)
	s, err := StartStack(ctx, StackConfig{L2BlockTime: time.Second, KeystoneInterval: 2, API: api, RPC: true,
		PoPM: devnet.PoPMConfig{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer closeStack(t, s)
	key, _, err := devnet.MinerKey()
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := btcec.PrivKeyFromBytes([]byte("devnet remote pop miner test key"))
	wif, _ := btcutil.NewWIF(priv, &chaincfg.RegressionNetParams, true)
	w, err := popm.ParseSecret(wif.String(), popm.P2WPKH, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	if err := devnet.FundPoPM(ctx, s.BTC, s.TBC, key, w); err != nil {
		t.Fatal(err)
	}

	events := make(chan popm.Event, 64)
	miner, err := popm.New(popm.Config{
		Wallet:    w,
		Keystones: popm.RPCKeystones{URL: "ws://" + strings.TrimPrefix(s.RPCURL, "http://")},
		Bitcoin:   popm.APIBitcoin{Client: tbc.NewClient(api), Poll: 100 * time.Millisecond},
		DataDir:   filepath.Join(t.TempDir(), "popm"),
		Logger:    slog.New(slog.DiscardHandler),
		OnEvent:   func(e popm.Event) { events <- e },
	})
	if err != nil {
		t.Fatal(err)
	}
	minerErr := make(chan error, 1)
	go func() { minerErr <- miner.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-minerErr; err != nil {
			t.Errorf("pop miner: %v", err)
		}
	}()

	for i := 0; i < 2; i++ {
		pub := nextEvent(t, events, popm.NotePublished)
		k, err := s.L2.Chain.KeystoneByID(pub.KeystoneID)
		if err != nil {
			t.Fatalf("published keystone %x is not the chain's: %v", pub.KeystoneID, err)
		}
		mineConfirmed(ctx, t, s, events, pub)
		t.Logf("keystone %d over RPC: tx %s, %d vB, fee %d sat, sent %s after it arrived", k.Number, pub.Txid, pub.VSize, pub.Fee, pub.SentAt.Sub(pub.SeenAt))
	}
}
