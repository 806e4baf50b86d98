package devnettest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/hemi-go/hemi/internal/netp2p"
	"github.com/hemi-go/hemi/internal/node"
	"github.com/hemi-go/hemi/internal/node/indexadapt"
	"github.com/hemi-go/hemi/internal/rpc"
	"github.com/hemi-go/hemi/internal/tbc"
)

// follower is an L2 follower node with its own Bitcoin layer: its own
// indexer syncing from the stack's regtest node over P2P, its own chain
// fed by L2 gossip and range sync from the stack's sequencer (which must
// run with StackConfig.L2P2P listening), its own finality and JSON-RPC.
// Nothing of it is shared with the sequencer but the network.
type follower struct {
	TBC    *tbc.Service
	Node   *node.Node
	RPCURL string
}

// Bitcoin is the follower's Bitcoin side as a signer uses it (broadcast
// through its own peers, confirmations from its own index).
func (f *follower) Bitcoin() indexadapt.PoPMiner {
	return indexadapt.PoPMiner{Index: f.TBC.Index(), Peers: f.TBC, Fees: f.TBC}
}

// startFollower starts follower name of stack s until the test ends (its
// cleanup stops the node, then its Bitcoin layer).
func startFollower(t *testing.T, ctx context.Context, s *Stack, name string, log *slog.Logger) *follower {
	t.Helper()
	return startForwardingFollower(t, ctx, s, name, log, nil)
}

// startForwardingFollower is startFollower with rpc.sequencer_urls: the
// follower forwards eth_sendRawTransaction to seqURLs.
func startForwardingFollower(t *testing.T, ctx context.Context, s *Stack, name string, log *slog.Logger, seqURLs []string) *follower {
	t.Helper()
	if s.L2.P2P == nil {
		t.Fatal("the stack's sequencer has no L2 networking (StackConfig.L2P2P)")
	}
	dir := filepath.Join(t.TempDir(), name)
	ctx, cancel := context.WithCancel(ctx)
	svc, err := tbc.New(tbc.Config{Params: &chaincfg.RegressionNetParams, DataDir: filepath.Join(dir, "tbc"),
		Peers: []string{s.BTC.P2PAddr()}, Logger: log.With("node", name)})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	tbcDone := make(chan error, 1)
	go func() { tbcDone <- svc.Run(ctx) }()
	stopTBC := func() {
		cancel()
		if err := <-tbcDone; err != nil && ctx.Err() == nil {
			t.Errorf("%s: bitcoin layer: %v", name, err)
		}
	}
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	_, tip := s.BTC.Tip()
	if err := node.WaitIndexed(wctx, svc.Index(), tip, nil); err != nil {
		stopTBC()
		t.Fatalf("%s: its index did not reach the regtest tip %d: %v", name, tip, err)
	}
	spec, err := node.GenesisSpec(s.L2.File, node.NewBitcoin(svc.Index()))
	if err != nil {
		stopTBC()
		t.Fatalf("%s: genesis: %v", name, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		stopTBC()
		t.Fatal(err)
	}
	n, err := node.New(node.Config{Dir: filepath.Join(dir, "l2"), BTC: svc, Spec: spec, NoSync: true,
		NoAddrIndex: true, NoExplorer: true,
		RPC: rpc.Config{VHosts: []string{"*"}}, RPCListener: ln,
		P2P:           netp2p.Config{Peers: s.L2.P2P.Addrs()},
		SequencerURLs: seqURLs,
		Logger:        log.With("node", name)})
	if err != nil {
		ln.Close()
		stopTBC()
		t.Fatalf("%s: %v", name, err)
	}
	nodeDone := make(chan error, 1)
	go func() { nodeDone <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-nodeDone; err != nil {
			t.Errorf("%s: node Run: %v", name, err)
		}
		n.Close()
		stopTBC()
	})
	return &follower{TBC: svc, Node: n, RPCURL: "http://" + ln.Addr().String()}
}

// waitFollowing waits until every follower's head is at least the
// sequencer's head as it is now.
func waitFollowing(ctx context.Context, t *testing.T, s *Stack, fs []*follower) {
	t.Helper()
	want := s.L2.Chain.Head().Number.Uint64()
	waitFor(ctx, t, fmt.Sprintf("the followers at L2 block %d", want), func() bool {
		for _, f := range fs {
			if f.Node.Chain.Head().Number.Uint64() < want {
				return false
			}
		}
		return true
	})
}

// sequencerConfig is the stack of the tests with follower nodes: its L2
// node is their sequencer, listening for them on libp2p; the tests run
// their own signers (if any) on the followers.
func sequencerConfig(log *slog.Logger) StackConfig {
	return StackConfig{L2BlockTime: time.Second, KeystoneInterval: 2, SuperfinalDepth: 3, RPC: true,
		SignersOff: true, L2P2P: netp2p.Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}}, Logger: log.With("node", "sequencer")}
}
