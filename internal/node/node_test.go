package node_test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/derive"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/node"
	"github.com/hemi-go/hemi/internal/node/nodetest"
	"github.com/hemi-go/hemi/internal/rpc"
	"github.com/hemi-go/hemi/internal/sequencer"
	"github.com/hemi-go/hemi/internal/tbc"
)

// bitcoinLayer is the regtest Bitcoin layer of the node tests
// (nodetest.BitcoinLayer).
func bitcoinLayer(t *testing.T, ctx context.Context, blocks int) *tbc.Service {
	t.Helper()
	svc, _ := nodetest.BitcoinLayer(t, ctx, "node test", blocks)
	return svc
}

// bitcoinLayerMiner is bitcoinLayer that also returns a function mining
// n more regtest blocks.
func bitcoinLayerMiner(t *testing.T, ctx context.Context, blocks int) (*tbc.Service, func(n int)) {
	t.Helper()
	return nodetest.BitcoinLayer(t, ctx, "node test", blocks)
}

// TestNodeAssembly: New wires a sequencing node over the Bitcoin layer
// (the chain with the derivers in DESIGN 3.3's order and finality as its
// fork choice, the mempool, the block producer, the RPC server on the
// given listener); Run seals blocks and serves them over JSON-RPC until
// ctx ends, then returns nil; a node without a key has no producer.
func TestNodeAssembly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc := bitcoinLayer(t, ctx, 4)
	key := sequencer.DevKey()
	self := crypto.PubkeyToAddress(key.PublicKey)
	spec, err := node.GenesisSpec(networkFile(t, svc, 2, self), node.NewBitcoin(svc.Index()))
	if err != nil {
		t.Fatal(err)
	}
	if c := spec.Config; c.KeystoneInterval != 5 || c.PoP.SuperfinalDepth != 3 || c.PoP.RewardDelay != 7 ||
		c.BlockTime != time.Second || len(c.Sequencers) != 1 || c.Sequencers[0] != self || c.BitcoinNetwork != "regtest" {
		t.Fatalf("genesis config %+v: want the genesis file's parameters, sealed by the node's key", c)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(node.Config{Dir: t.TempDir(), BTC: svc, Spec: spec, Key: key, NoSync: true,
		RPC: rpc.Config{VHosts: []string{"*"}, APIs: []string{"eth", "net"}}, RPCListener: ln})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.Sequencer == nil || n.RPC == nil || n.Pool == nil || n.Finality == nil {
		t.Fatalf("node parts: sequencer %v, rpc %v, pool %v, finality %v: want all", n.Sequencer != nil, n.RPC != nil, n.Pool != nil, n.Finality != nil)
	}
	ds := n.Chain.Config().Derivers
	if len(ds) != 2 {
		t.Fatalf("%d derivers, want the view update and the PoP rewards", len(ds))
	}
	if _, ok := ds[0].(derive.ViewUpdate); !ok {
		t.Fatalf("first deriver %T, want derive.ViewUpdate", ds[0])
	}
	if r, ok := ds[1].(*derive.PoPRewards); !ok || r.Interval != 5 || r.PoP.RewardDelay != 7 {
		t.Fatalf("second deriver %T %+v, want the PoP rewards under the genesis", ds[1], ds[1])
	}
	rctx, rcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- n.Run(rctx) }()
	heads := n.Chain.Subscribe(rctx, 1)
	select {
	case h := <-heads:
		if h == nil || h.Number.Uint64() != 1 {
			t.Fatalf("first head %v, want block 1", h)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no L2 block sealed in 30 s")
	}
	cl, err := gethrpc.DialContext(ctx, "http://"+ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var num hexutil.Uint64
	if err := cl.CallContext(ctx, &num, "eth_blockNumber"); err != nil || num < 1 {
		t.Fatalf("eth_blockNumber %d, %v: want the sealed block served", num, err)
	}
	// The explorer's pages share the listener: GET / is the home page.
	for _, path := range []string{"/", "/block/1"} {
		resp, err := http.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Hemi devnet") {
			t.Fatalf("GET %s: %d, want the explorer's page", path, resp.StatusCode)
		}
	}
	// The RPC config reaches the server as given ([rpc] apis): web3 is
	// not among the namespaces listed.
	var ver string
	if err := cl.CallContext(ctx, &ver, "web3_clientVersion"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("web3_clientVersion %q, %v: want method not found (rpc.apis = eth, net)", ver, err)
	}
	rcancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after ctx ended: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after ctx ended")
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	f, err := node.New(node.Config{BTC: svc, Spec: spec, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Sequencer != nil || f.RPC != nil {
		t.Fatalf("follower: sequencer %v, rpc %v; want neither", f.Sequencer != nil, f.RPC != nil)
	}
}

// TestNodeSyncPolicy: a sequencer's chain fsyncs every block and flushes
// its state before storing it, a follower's (no key) does not fsync
// (Config.NoSync documents why) and flushes a new head's state once it
// settled (Config.HeadSettle).
func TestNodeSyncPolicy(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc := bitcoinLayer(t, ctx, 4)
	key, spec := devSpec(t, svc)
	for _, tc := range []struct {
		name       string
		key        bool
		wantNoSync bool
	}{{"sequencer", true, false}, {"follower", false, true}} {
		cfg := node.Config{Dir: t.TempDir(), BTC: svc, Spec: spec}
		if tc.key {
			cfg.Key = key
		}
		n, err := node.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		got, flushAfter := n.Chain.Config().NoSync, n.Chain.Config().FlushAfter
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
		if got != tc.wantNoSync {
			t.Errorf("%s: chain NoSync %v, want %v", tc.name, got, tc.wantNoSync)
		}
		if wantFlush := map[bool]time.Duration{true: 0, false: node.DefaultHeadSettle}[tc.key]; flushAfter != wantFlush {
			t.Errorf("%s: chain FlushAfter %s, want %s", tc.name, flushAfter, wantFlush)
		}
	}
}

// TestNodeHeadSettle: the address index (a reader of heads that can
// wait) reads a new head only once it settled (Config.HeadSettle): held
// an hour, it stays at genesis while the chain moves on; with no settle
// time it follows the head.
func TestNodeHeadSettle(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc := bitcoinLayer(t, ctx, 4)
	key, spec := devSpec(t, svc)
	for _, tc := range []struct {
		name    string
		settle  time.Duration
		indexed bool
	}{{"held an hour", time.Hour, false}, {"no settle time", -1, true}} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := node.New(node.Config{BTC: svc, Spec: spec, Key: key, NoSync: true, HeadSettle: tc.settle})
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			defer runUntil(t, ctx, n, 2)()
			if !tc.indexed {
				// Ample for an index that follows the head at once.
				time.Sleep(500 * time.Millisecond)
				if tip := n.AddrIndex.Tip(); tip.Number != 0 {
					t.Fatalf("address index at block %d while every head waits an hour to settle", tip.Number)
				}
				return
			}
			for deadline := time.Now().Add(30 * time.Second); n.AddrIndex.Tip().Number < 2; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("address index at block %d, head %d: it does not follow", n.AddrIndex.Tip().Number, n.Chain.Head().Number)
				}
			}
		})
	}
}

// devSpec is the spec of networkFile at height 2, sealed by the dev key.
func devSpec(t *testing.T, svc *tbc.Service) (*ecdsa.PrivateKey, *genesis.Spec) {
	t.Helper()
	key := sequencer.DevKey()
	spec, err := node.GenesisSpec(networkFile(t, svc, 2, crypto.PubkeyToAddress(key.PublicKey)), node.NewBitcoin(svc.Index()))
	if err != nil {
		t.Fatal(err)
	}
	return key, spec
}

// runUntil runs n, waits up to 30 s for its block number and returns
// the function that stops it (defer it after n's Close).
func runUntil(t *testing.T, ctx context.Context, n *node.Node, number uint64) (stop func()) {
	t.Helper()
	rctx, rcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- n.Run(rctx) }()
	stop = func() { rcancel(); <-done }
	select {
	case <-n.Chain.Subscribe(rctx, number):
	case <-time.After(30 * time.Second):
		stop()
		t.Fatalf("no L2 block %d in 30 s", number)
	}
	return stop
}

// networkFile is a genesis file anchored at the index's block at
// height, sealed by seq, with a 1 s block time, keystones every 5 blocks,
// superfinality at 3 and rewards 7 blocks after a keystone.
func networkFile(t *testing.T, svc *tbc.Service, height int32, seq common.Address) *genesis.File {
	t.Helper()
	v, err := node.NewBitcoin(svc.Index()).MainChainAt(height)
	if err != nil {
		t.Fatal(err)
	}
	f, _, err := genesis.DevnetFile(seq, genesis.BitcoinBlock{Height: v.Height, Hash: v.Hash}, uint64(v.Header.Timestamp.Unix()))
	if err != nil {
		t.Fatal(err)
	}
	f.Config.BlockTime, f.Config.KeystoneInterval = time.Second, 5
	f.Config.PoP.SuperfinalDepth, f.Config.PoP.RewardDelay = 3, 7
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestGenesisSpecErrors: a genesis file whose Bitcoin block is not on
// the index's most-work chain is refused (at once by GenesisSpec, once
// Bitcoin has synced by WaitGenesisBlock, which waits while the index is
// below the height); New refuses a Config without the Bitcoin layer or
// the genesis.
func TestGenesisSpecErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc := bitcoinLayer(t, ctx, 2)
	btc := node.NewBitcoin(svc.Index())
	f := networkFile(t, svc, 1, common.Address{1})
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := node.WaitGenesisBlock(wctx, svc, f, nil); err != nil {
		t.Fatalf("the genesis block is indexed: %v", err)
	}
	other := *f
	other.Bitcoin.Hash[0]++
	if _, err := node.GenesisSpec(&other, btc); !errors.Is(err, genesis.ErrGenesisBlock) || !strings.Contains(err.Error(), "bitcoin.genesis_hash") {
		t.Fatalf("another Bitcoin block: %v, want genesis.ErrGenesisBlock naming bitcoin.genesis_hash", err)
	}
	if err := node.WaitGenesisBlock(wctx, svc, &other, nil); !errors.Is(err, genesis.ErrGenesisBlock) {
		t.Fatalf("WaitGenesisBlock on another Bitcoin block: %v, want genesis.ErrGenesisBlock once synced", err)
	}
	above := *f
	above.Bitcoin.Height = 50
	if _, err := node.GenesisSpec(&above, btc); !errors.Is(err, chain.ErrViewNotReady) {
		t.Fatalf("genesis above the index tip: %v, want chain.ErrViewNotReady", err)
	}
	sctx, scancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer scancel()
	if err := node.WaitGenesisBlock(sctx, svc, &above, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitGenesisBlock above the tip: %v, want it to wait until ctx ends", err)
	}
	if _, err := node.New(node.Config{BTC: svc}); err == nil {
		t.Fatal("New accepted a Config without Spec")
	}
}
