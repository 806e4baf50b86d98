package node_test

import (
	"context"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/netp2p"
	"github.com/hemi-go/hemi/internal/node"
	"github.com/hemi-go/hemi/internal/sequencer"
	"github.com/hemi-go/hemi/internal/tbc"
)

// p2pSpec is the genesis of the L2 network of the p2p tests: one
// sequencer (the dev key), 1-second blocks, over svc's regtest chain.
func p2pSpec(t *testing.T, svc *tbc.Service) *genesis.Spec {
	t.Helper()
	f := networkFile(t, svc, 2, crypto.PubkeyToAddress(sequencer.DevKey().PublicKey))
	f.Config.PoP.RewardDelay = 0
	spec, err := node.GenesisSpec(f, node.NewBitcoin(svc.Index()))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// runNode runs n until the test ends.
func runNode(t *testing.T, ctx context.Context, n *node.Node) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("node Run: %v", err)
		}
		n.Close()
	})
}

// waitFor polls cond every 20 ms until it holds or timeout passes; then
// it fails the test, saying what it waited for and what diag (if any)
// reports of the state.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool, diag ...func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			state := ""
			for _, d := range diag {
				state += " " + d()
			}
			t.Fatalf("timed out after %s waiting for %s;%s", timeout, what, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// p2pPair is a sequencer node (the dev key, listening on loopback) and a
// follower node (no key) with the sequencer as its one static peer, over
// svc's regtest chain; neither is running yet.
func p2pPair(t *testing.T, svc *tbc.Service, spec *genesis.Spec) (seq, fol *node.Node) {
	t.Helper()
	var err error
	seq, err = node.New(node.Config{Dir: t.TempDir(), BTC: svc, Spec: spec, Key: sequencer.DevKey(), NoSync: true,
		P2P: netp2p.Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}}})
	if err != nil {
		t.Fatal(err)
	}
	fol, err = node.New(node.Config{Dir: t.TempDir(), BTC: svc, Spec: spec, NoSync: true,
		P2P: netp2p.Config{Peers: seq.P2P.Addrs()}})
	if err != nil {
		seq.Close()
		t.Fatal(err)
	}
	return seq, fol
}

// TestP2PFollower: a sequencer node and a follower node (no key, the
// sequencer as its one static peer) over real libp2p on loopback. The
// follower has no catch-up sync, so every block it has came by gossip,
// from block 1 on (the publisher waits for the follower on the topic);
// its blocks and state roots equal the sequencer's at every height; each
// side lists the other as a ready peer with a clean score.
func TestP2PFollower(t *testing.T) {
	// Cancelled last (cleanups run in reverse): the nodes stop before
	// their Bitcoin layer.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	svc := bitcoinLayer(t, ctx, 4)
	spec := p2pSpec(t, svc)
	seq, fol := p2pPair(t, svc, spec)
	if fol.Sequencer != nil || fol.P2P == nil || seq.P2P == nil {
		t.Fatalf("follower producer %v, p2p %v/%v: want a follower with networking", fol.Sequencer != nil, fol.P2P != nil, seq.P2P != nil)
	}
	runNode(t, ctx, seq)
	runNode(t, ctx, fol)
	const target = 8
	waitFor(t, 120*time.Second, "the follower to import 8 blocks", func() bool { return fol.Chain.Head().Number.Uint64() >= target })
	sameBlocks(t, seq, fol, target)
	fp, sp := fol.P2P.Peers(), seq.P2P.Peers()
	if len(fp) != 1 || fp[0].ID != seq.P2P.ID() || !fp[0].Ready || !fp[0].Static || fp[0].Inbound || fp[0].Score != 0 || fp[0].HeadNumber == 0 {
		t.Fatalf("follower's peers %+v: want the sequencer, static, outbound, ready, score 0, with a head", fp)
	}
	if len(sp) != 1 || sp[0].ID != fol.P2P.ID() || !sp[0].Ready || !sp[0].Inbound || sp[0].Score != 0 {
		t.Fatalf("sequencer's peers %+v: want the follower, inbound, ready, score 0", sp)
	}
	// The follower's /status lists the same peer.
	if st := fol.Status(); st.Role != "follower" || len(st.Peers) != 1 || st.Peers[0].ID != seq.P2P.ID().String() ||
		!st.Peers[0].Ready || !st.Peers[0].Connected || st.Peers[0].Head == 0 {
		t.Fatalf("follower status role %q peers %+v: want the sequencer, connected and ready", st.Role, st.Peers)
	}
}

// TestP2PFollowerCatchesUp: a follower started after the sequencer has
// sealed blocks gets the missing ones by range sync (the first gossiped
// block has an unknown parent), then follows gossip; its blocks equal
// the sequencer's, state roots included.
func TestP2PFollowerCatchesUp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	svc := bitcoinLayer(t, ctx, 4)
	spec := p2pSpec(t, svc)
	seq, err := node.New(node.Config{Dir: t.TempDir(), BTC: svc, Spec: spec, Key: sequencer.DevKey(), NoSync: true,
		P2P: netp2p.Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}}})
	if err != nil {
		t.Fatal(err)
	}
	runNode(t, ctx, seq)
	const behind = 5
	waitFor(t, 60*time.Second, "the sequencer to seal 5 blocks", func() bool { return seq.Chain.Head().Number.Uint64() >= behind })
	fol, err := node.New(node.Config{Dir: t.TempDir(), BTC: svc, Spec: spec, NoSync: true,
		P2P: netp2p.Config{Peers: seq.P2P.Addrs()}})
	if err != nil {
		t.Fatal(err)
	}
	runNode(t, ctx, fol)
	target := seq.Chain.Head().Number.Uint64() + 2
	waitFor(t, 120*time.Second, "the follower to catch up and follow", func() bool { return fol.Chain.Head().Number.Uint64() >= target })
	sameBlocks(t, seq, fol, target)
}

// sameBlocks fails the test unless fol holds seq's blocks 1..upto, state
// roots included.
func sameBlocks(t *testing.T, seq, fol *node.Node, upto uint64) {
	t.Helper()
	for i := uint64(1); i <= upto; i++ {
		s, err := seq.Chain.HeaderByNumber(i)
		if err != nil {
			t.Fatal(err)
		}
		f, err := fol.Chain.HeaderByNumber(i)
		if err != nil {
			t.Fatalf("follower block %d: %v", i, err)
		}
		if f.Hash() != s.Hash() || f.Root != s.Root {
			t.Fatalf("block %d: follower %s root %s, sequencer %s root %s", i, f.Hash(), f.Root, s.Hash(), s.Root)
		}
	}
}
