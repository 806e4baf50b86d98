package nodetest

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/hemi-go/hemi/internal/btc/regtest"
	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/node"
	"github.com/hemi-go/hemi/internal/tbc"
)

// BitcoinLayer starts a regtest node, mines blocks (coinbases to a key
// derived from seed), and a Bitcoin layer synced from it with a peer
// connected. It returns the layer and a function mining n more blocks.
// Both stop when ctx ends or the test ends.
func BitcoinLayer(t testing.TB, ctx context.Context, seed string, blocks int) (*tbc.Service, func(n int)) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	addr, err := txgen.DeriveKey([]byte(seed), 0).Address(txgen.P2WPKH, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	btc, err := regtest.New(regtest.Config{DataDir: filepath.Join(t.TempDir(), "regtest"), Logger: log, MiningAddr: addr})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	btcDone := make(chan error, 1)
	go func() { btcDone <- btc.Run(ctx) }()
	if _, err := btc.Mine(blocks, addr); err != nil {
		cancel()
		t.Fatal(err)
	}
	svc, err := tbc.New(tbc.Config{Params: &chaincfg.RegressionNetParams, DataDir: filepath.Join(t.TempDir(), "tbc"),
		Peers: []string{btc.P2PAddr()}, Logger: log})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	tbcDone := make(chan error, 1)
	go func() { tbcDone <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-tbcDone
		<-btcDone
		btc.Close()
	})
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := node.WaitIndexed(wctx, svc.Index(), int32(blocks), nil); err != nil {
		t.Fatalf("the index did not reach height %d: %v", blocks, err)
	}
	for svc.Progress().Peers == 0 {
		if wctx.Err() != nil {
			t.Fatal("the Bitcoin layer has no peer")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return svc, func(n int) {
		t.Helper()
		if _, err := btc.Mine(n, addr); err != nil {
			t.Fatal(err)
		}
	}
}
