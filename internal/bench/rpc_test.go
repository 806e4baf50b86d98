package bench

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/testtools"
)

// TestRPC runs the rpc benchmark small (500 transfers, 50 senders) against
// our devnet stack and anvil and checks only correctness: every transfer
// of both targets is in a block with a successful receipt (RunRPC checks
// every receipt), and the last line has the expected shape. No timing is
// asserted. Skipped only when anvil is missing (make test installs it).
func TestRPC(t *testing.T) {
	testtools.Tool(t, "anvil")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	var out bytes.Buffer
	res, err := RunRPC(ctx, RPCConfig{Txs: 500, Senders: 50, Clients: 4, Batch: 50, BTCInitialBlocks: 10,
		Timeout: 40 * time.Second, WorkDir: t.TempDir()}, &out)
	if err != nil {
		t.Fatalf("RunRPC: %v\n%s", err, out.String())
	}
	if res.Txs != 500 || res.Ours.TxS <= 0 || res.Anvil.TxS <= 0 || res.Ours.P50 <= 0 {
		t.Fatalf("result %+v", res)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; last != res.ResultLine() || !strings.HasPrefix(last, "rpc ours_tx_s=") {
		t.Fatalf("last line %q, want %q", last, res.ResultLine())
	}
	for _, want := range []string{"ours: all 500 transfers applied", "anvil: all 500 transfers applied"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestStreams checks the load plan: every transfer is sent exactly once,
// batches are at most the batch size, and one sender's transfers all go
// through one client in nonce order.
func TestStreams(t *testing.T) {
	for _, tc := range []struct {
		name                         string
		txs, senders, clients, batch int
	}{
		{"even", 1000, 40, 8, 100},
		{"ragged", 997, 33, 3, 7},
		{"one client", 10, 3, 1, 4},
		{"more clients than senders", 12, 2, 8, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := make([]transfer, tc.txs)
			for k := range ts {
				ts[k] = transfer{from: k % tc.senders, nonce: uint64(k / tc.senders)}
			}
			seen := make([]bool, tc.txs)
			owner := map[int]int{}
			next := map[int]uint64{}
			for c, bs := range streams(ts, tc.clients, tc.batch) {
				for _, b := range bs {
					if len(b) == 0 || len(b) > tc.batch {
						t.Fatalf("batch of %d", len(b))
					}
					for _, k := range b {
						if seen[k] {
							t.Fatalf("transfer %d twice", k)
						}
						seen[k] = true
						f := ts[k].from
						if o, ok := owner[f]; ok && o != c {
							t.Fatalf("sender %d on clients %d and %d", f, o, c)
						}
						owner[f] = c
						if ts[k].nonce != next[f] {
							t.Fatalf("sender %d: nonce %d, want %d", f, ts[k].nonce, next[f])
						}
						next[f]++
					}
				}
			}
			for k, s := range seen {
				if !s {
					t.Fatalf("transfer %d never sent", k)
				}
			}
		})
	}
}

// TestRPCConfigErrors checks that a missing anvil and an unknown anvil
// mining mode are clear errors.
func TestRPCConfigErrors(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "anvil")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  RPCConfig
		want error
	}{
		{"anvil is a directory", RPCConfig{AnvilBinary: t.TempDir()}, ErrNoAnvil},
		{"anvil missing", RPCConfig{AnvilBinary: filepath.Join(t.TempDir(), "nope")}, ErrNoAnvil},
		{"unknown mining mode", RPCConfig{AnvilBinary: bin, AnvilMining: "instant"}, ErrRPCConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.setDefaults(); !errors.Is(err, tc.want) {
				t.Fatalf("setDefaults: %v, want %v", err, tc.want)
			}
		})
	}
	cfg := RPCConfig{AnvilBinary: bin}
	if err := cfg.setDefaults(); err != nil || cfg.AnvilMining != anvilInterval {
		t.Fatalf("setDefaults: %v, mining %q; want interval mining by default", err, cfg.AnvilMining)
	}
}

// TestAnvilArgs checks anvil's command line: --prune-history and the gas
// limit always, interval mining at our block time by default.
func TestAnvilArgs(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mining    string
		blockTime time.Duration
		want      string // the mining flags
		err       bool
	}{
		{"interval 1s", anvilInterval, time.Second, "--block-time 1", false},
		{"interval 2s", anvilInterval, 2 * time.Second, "--block-time 2", false},
		{"interval 1.5s", anvilInterval, 1500 * time.Millisecond, "--block-time 1.5", false},
		{"automine", anvilAutomine, time.Second, "", false},
		{"interval without block time", anvilInterval, 0, "", true},
		{"unknown mode", "instant", time.Second, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args, err := anvilArgs(8545, 500_000_000, tc.mining, tc.blockTime)
			if tc.err {
				if err == nil {
					t.Fatalf("anvilArgs: %q, want an error", args)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(args, " ")
			base := "--prune-history --host 127.0.0.1 --port 8545 --gas-limit 500000000 --silent"
			if want := strings.TrimSpace(base + " " + tc.want); got != want {
				t.Fatalf("args %q, want %q", got, want)
			}
		})
	}
}

// TestCheckTransfers sends a few transfers to anvil and checks that
// checkTransfers accepts the state they left and refuses it when the
// expectation differs by one nonce or one wei (a failed, dropped or
// doubled transfer).
func TestCheckTransfers(t *testing.T) {
	bin := testtools.Tool(t, "anvil")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := startAnvil(ctx, bin, t.TempDir(), 30_000_000, anvilAutomine, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.stop()
	dev, err := genesis.DevAccounts(genesis.DevMnemonic, 2)
	if err != nil {
		t.Fatal(err)
	}
	keys := []*ecdsa.PrivateKey{dev[0].Key, dev[1].Key}
	from := []common.Address{dev[0].Address, dev[1].Address}
	ts := make([]transfer, 7)
	for k := range ts {
		ts[k] = transfer{from: k % 2, nonce: uint64(k / 2), to: recipient(k % 3), value: big.NewInt(int64(k + 1))}
	}
	txs, err := signAll(ctx, 31337, keys, ts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sendAndWait(ctx, a.url, txs, encodePlan(txs, streams(ts, 2, 3)), 20*time.Second); err != nil {
		t.Fatal(err)
	}
	start := []uint64{0, 0}
	if err := checkTransfers(ctx, a.url, from, start, ts); err != nil {
		t.Fatalf("checkTransfers after the transfers: %v", err)
	}
	// An automining anvil with an empty pool builds no block: waitNextBlock
	// gives up with errNoBlock (TestRPC covers the block it waits for).
	c, err := newClient(ctx, a.url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := waitNextBlock(ctx, c, 200*time.Millisecond); !errors.Is(err, errNoBlock) {
		t.Fatalf("waitNextBlock on an idle automining anvil: %v, want errNoBlock", err)
	}
	for _, tc := range []struct {
		name  string
		start []uint64
		ts    []transfer
	}{
		{"one nonce more", []uint64{0, 1}, ts},
		{"one transfer missing", start, ts[:6]},
		{"one wei more", start, append(slices.Clone(ts[:6]), transfer{from: 0, to: ts[6].to, value: big.NewInt(8)})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkTransfers(ctx, a.url, from, tc.start, tc.ts); !errors.Is(err, errTransfers) {
				t.Fatalf("checkTransfers: %v, want errTransfers", err)
			}
		})
	}
}
