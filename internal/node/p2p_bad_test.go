package node_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/golang/snappy"
	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/rules"
	"github.com/hemi-go/hemi/internal/netp2p"
	"github.com/hemi-go/hemi/internal/node"
	"github.com/hemi-go/hemi/internal/sequencer"
)

// fixedFinality is a finalized block number.
type fixedFinality uint64

func (f fixedFinality) Finalized() uint64 { return uint64(f) }

// syncCalls records the catch-up requests the service makes (range sync
// is another part); it fetches nothing.
type syncCalls struct {
	mu    sync.Mutex
	calls []syncCall
}

type syncCall struct {
	from   peer.ID
	number uint64
	hash   common.Hash
}

func (s *syncCalls) SyncTo(_ context.Context, from peer.ID, number uint64, hash common.Hash) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, syncCall{from, number, hash})
	return nil
}

func (s *syncCalls) has(c syncCall) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.calls, c)
}

// attacker is a bare libp2p host that completes the handshake honestly
// and then publishes whatever bytes it likes on the chain's topic.
type attacker struct {
	h     host.Host
	topic *pubsub.Topic
}

func newAttacker(t *testing.T, ctx context.Context, victim *netp2p.Service) *attacker {
	t.Helper()
	h, err := libp2p.New(libp2p.NoListenAddrs, libp2p.Transport(tcp.NewTCPTransport), libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport), libp2p.DisableRelay(), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	ai := peer.AddrInfo{ID: victim.ID(), Addrs: victim.Host().Addrs()}
	if err := h.Connect(ctx, ai); err != nil {
		t.Fatal(err)
	}
	s, err := h.NewStream(ctx, victim.ID(), netp2p.ProtocolHandshake)
	if err != nil {
		t.Fatal(err)
	}
	if err := netp2p.WriteStatus(s, victim.Status()); err != nil { // the same network: it passes
		t.Fatal(err)
	}
	if _, err := netp2p.ReadStatus(s); err != nil {
		t.Fatal(err)
	}
	s.Close()
	ps, err := pubsub.NewGossipSub(ctx, h, pubsub.WithMessageIdFn(func(m *pb.Message) string { return netp2p.MessageID(m.Data) }),
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign), pubsub.WithNoAuthor(), pubsub.WithMaxMessageSize(16<<20))
	if err != nil {
		t.Fatal(err)
	}
	topic, err := ps.Join(netp2p.Topic(victim.Status().GenesisHash))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the victim on the attacker's topic", func() bool { return slices.Contains(topic.ListPeers(), victim.ID()) })
	waitFor(t, 30*time.Second, "the victim to accept the attacker's handshake", func() bool { return peerInfo(victim, h.ID()).Ready })
	return &attacker{h: h, topic: topic}
}

func (a *attacker) send(t *testing.T, ctx context.Context, data []byte) {
	t.Helper()
	if err := a.topic.Publish(ctx, data); err != nil {
		t.Fatal(err)
	}
}

func peerInfo(s *netp2p.Service, id peer.ID) netp2p.PeerInfo {
	for _, p := range s.Peers() {
		if p.ID == id {
			return p
		}
	}
	return netp2p.PeerInfo{}
}

// counter reads hemi_netp2p_<name>{labels} from reg (0 when absent).
func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "hemi_netp2p_"+name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			return metricValue(m)
		}
	}
	return 0
}

// gossipCounts lists the gossip counters (a failing test's diagnosis).
func gossipCounts(t *testing.T, reg *prometheus.Registry) string {
	mfs, err := reg.Gather()
	if err != nil {
		return err.Error()
	}
	out := ""
	for _, mf := range mfs {
		if mf.GetName() != "hemi_netp2p_gossip_messages_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				out += lp.GetValue() + "/"
			}
			out += fmt.Sprintf("=%v ", metricValue(m))
		}
	}
	return "gossip counters: " + out
}

func metricValue(m *dto.Metric) float64 {
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

// resealed is a copy of b with its header changed by edit and sealed
// again by key.
func resealed(t *testing.T, b *chain.Block, key []byte, edit func(h *types.Header)) *chain.Block {
	t.Helper()
	h := types.CopyHeader(b.Header)
	edit(h)
	k, err := crypto.ToECDSA(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := block.Seal(h, k); err != nil {
		t.Fatal(err)
	}
	return &chain.Block{Header: h, Body: b.Body}
}

func msg(t *testing.T, b *chain.Block) []byte {
	t.Helper()
	data, err := netp2p.EncodeBlock(b)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// literalSnappy compresses raw as snappy literals only: the same block
// in other bytes, so a replay gets past gossipsub's message-id
// deduplication and reaches the validator.
func literalSnappy(raw []byte) []byte {
	out := binary.AppendUvarint(nil, uint64(len(raw)))
	for len(raw) > 0 {
		n := min(len(raw), 65536)
		out = append(out, 61<<2, byte(n-1), byte((n-1)>>8))
		out = append(out, raw[:n]...)
		raw = raw[n:]
	}
	return out
}

func junk(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestP2PBadInput: a peer that passed the handshake sends malformed,
// oversized and replayed messages, a valid header with a junk body,
// blocks with a bad seal, from an unknown sequencer, at the finalized
// block and far ahead. Each rejected message lowers its score by
// PenaltyReject; nothing it sent is stored; far-ahead and unknown-parent
// blocks start a catch-up; the node keeps running (it then imports the
// peer's valid blocks, in any order) and bans the peer once its score
// reaches BanScore. A second block at a height by the same sequencer is
// stored and kept as evidence. A block whose Bitcoin view is unknown is
// held, then blamed once the index is ViewGrace blocks past it. A node
// on another genesis is refused and banned at the handshake.
func TestP2PBadInput(t *testing.T) {
	// Cancelled last (cleanups run in reverse): the nodes stop before
	// their Bitcoin layer.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	svc, mine := bitcoinLayerMiner(t, ctx, 4)
	spec := p2pSpec(t, svc)
	devKey := crypto.FromECDSA(sequencer.DevKey())

	// The sequencer makes the valid blocks the attacker relays.
	seq, err := node.New(node.Config{Dir: t.TempDir(), BTC: svc, Spec: spec, Key: sequencer.DevKey(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	runNode(t, ctx, seq)
	waitFor(t, 60*time.Second, "3 sealed blocks", func() bool { return seq.Chain.Head().Number.Uint64() >= 3 })
	var good []*chain.Block
	for i := uint64(1); i <= 3; i++ {
		h, _ := seq.Chain.HeaderByNumber(i)
		b, err := seq.Chain.BlockByHash(h.Hash())
		if err != nil {
			t.Fatal(err)
		}
		good = append(good, b)
	}

	vn, err := node.New(node.Config{Dir: t.TempDir(), BTC: svc, Spec: spec, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer vn.Close()
	reg := prometheus.NewRegistry()
	syncer := &syncCalls{}
	victim, err := netp2p.New(netp2p.Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, GenesisHash: vn.Chain.Genesis().Hash(),
		ChainID: spec.Config.ChainID, Sequencers: spec.Config.Sequencers, Chain: vn.Chain, Finality: fixedFinality(0),
		Bitcoin: svc.Index(), Syncer: syncer, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	vctx, vcancel := context.WithCancel(ctx)
	vdone := make(chan error, 1)
	go func() { vdone <- victim.Run(vctx) }()
	defer func() {
		vcancel()
		if err := <-vdone; err != nil {
			t.Errorf("victim Run: %v", err)
		}
	}()
	att := newAttacker(t, ctx, victim)
	aid := att.h.ID()

	junkBody := &chain.Block{Header: good[0].Header, Body: good[1].Body}
	badSeal := &chain.Block{Header: types.CopyHeader(good[0].Header), Body: good[0].Body}
	badSeal.Header.Extra = slices.Clone(badSeal.Header.Extra)
	badSeal.Header.Extra[len(badSeal.Header.Extra)-1] = 5 // V out of range
	stranger := resealed(t, good[0], crypto.Keccak256([]byte("not a sequencer")), func(*types.Header) {})
	behind := resealed(t, good[0], devKey, func(h *types.Header) { h.Number = new(big.Int) })
	ahead := resealed(t, good[0], devKey, func(h *types.Header) { h.Number = big.NewInt(netp2p.MaxAhead + 1) })

	score := 0
	for _, c := range []struct {
		name, reason string
		data         []byte
	}{
		// Valid snappy of junk (random bytes may announce a huge length,
		// which is too_large).
		{"malformed", netp2p.ReasonMalformed, snappy.Encode(nil, junk(200))},
		{"oversized", netp2p.ReasonTooLarge, junk(netp2p.MaxMessageSize + 1)},
		{"valid header, junk body", netp2p.ReasonBadTxRoot, msg(t, junkBody)},
		{"bad seal", netp2p.ReasonBadSeal, msg(t, badSeal)},
		{"unknown sequencer", netp2p.ReasonUnknownSequencer, msg(t, stranger)},
		{"at the finalized block", netp2p.ReasonBehindFinalized, msg(t, behind)},
	} {
		att.send(t, ctx, c.data)
		score -= netp2p.PenaltyReject
		waitFor(t, 30*time.Second, c.name+" rejected", func() bool {
			return counter(t, reg, "gossip_messages_total", map[string]string{"result": "reject", "reason": c.reason}) == 1
		}, func() string { return gossipCounts(t, reg) + fmt.Sprintf(" attacker %+v", peerInfo(victim, aid)) })
		if got := peerInfo(victim, aid).Score; got != score {
			t.Fatalf("%s: score %d, want %d", c.name, got, score)
		}
	}
	att.send(t, ctx, msg(t, ahead))
	waitFor(t, 30*time.Second, "a catch-up to the far-ahead block", func() bool {
		return syncer.has(syncCall{aid, netp2p.MaxAhead + 1, ahead.Hash()})
	})
	if vn.Chain.Head().Number.Sign() != 0 {
		t.Fatalf("the victim stored a block from bad input: head %d", vn.Chain.Head().Number)
	}
	for _, b := range []*chain.Block{badSeal, stranger, behind, ahead} {
		if _, err := vn.Chain.HeaderByHash(b.Hash()); err == nil {
			t.Fatalf("block %s of bad input stored", b.Hash())
		}
	}

	// Block 2 before block 1: held, catch-up asked for its parent; block 1
	// then connects both. The junk-body twin of block 1 did not poison
	// the seen cache.
	att.send(t, ctx, msg(t, good[1]))
	waitFor(t, 30*time.Second, "a catch-up to block 2's parent", func() bool { return syncer.has(syncCall{aid, 1, good[0].Hash()}) })
	att.send(t, ctx, msg(t, good[0]))
	waitFor(t, 30*time.Second, "blocks 1 and 2 imported", func() bool { return vn.Chain.Head().Number.Uint64() == 2 })
	if h, _ := vn.Chain.HeaderByNumber(2); h.Hash() != good[1].Hash() {
		t.Fatalf("block 2 %s, want %s", h.Hash(), good[1].Hash())
	}
	score += 2
	waitFor(t, 10*time.Second, "the score to rise by the two accepted blocks", func() bool { return peerInfo(victim, aid).Score == score })

	// A block whose Bitcoin view the index does not know: held without
	// blame until the index's best header is ViewGrace blocks above the
	// view's claimed height; then its sender pays PenaltyInvalid and
	// nothing is stored.
	_, best := svc.Index().BestHeader()
	unknownView := resealed(t, good[2], devKey, func(h *types.Header) {
		e, err := block.DecodeExtra(h.Extra)
		if err != nil {
			t.Fatal(err)
		}
		e.BitcoinHeight, e.BitcoinHash = uint32(best)+1, chainhash.Hash{0x77}
		if h.Extra, err = e.Encode(); err != nil {
			t.Fatal(err)
		}
		h.MixDigest = rules.Random(e.BitcoinHash)
	})
	att.send(t, ctx, msg(t, unknownView))
	waitFor(t, 30*time.Second, "the block with an unknown view held", func() bool {
		return counter(t, reg, "import_failures_total", map[string]string{"reason": "view_not_ready"}) >= 1
	})
	if got := peerInfo(victim, aid).Score; got != score {
		t.Fatalf("view not ready yet: score %d, want %d (no blame before the grace)", got, score)
	}
	mine(netp2p.ViewGrace + 1)
	score -= netp2p.PenaltyInvalid
	waitFor(t, 60*time.Second, "the sender penalised once the index is past the grace", func() bool {
		return counter(t, reg, "import_failures_total", map[string]string{"reason": "view_expired"}) == 1 && peerInfo(victim, aid).Score == score
	}, func() string { return fmt.Sprintf("attacker %+v", peerInfo(victim, aid)) })
	if _, err := vn.Chain.HeaderByHash(unknownView.Hash()); err == nil {
		t.Fatal("the block with an unknown view was stored")
	}

	// A replay of block 1 in other bytes: ignored, no penalty.
	raw, err := snappy.Decode(nil, msg(t, good[0]))
	if err != nil {
		t.Fatal(err)
	}
	att.send(t, ctx, literalSnappy(raw))
	waitFor(t, 30*time.Second, "the replay ignored", func() bool {
		return counter(t, reg, "gossip_messages_total", map[string]string{"result": "ignore", "reason": netp2p.ReasonSeen}) == 1
	})
	if got := peerInfo(victim, aid).Score; got != score {
		t.Fatalf("replay: score %d, want %d (a replay is no fault)", got, score)
	}

	// An equivocation: the same sequencer's second block 1 (another node
	// with the same key, started later) is stored on a side branch and
	// kept as evidence; the canonical chain stays.
	twin, err := node.New(node.Config{Dir: t.TempDir(), BTC: svc, Spec: spec, Key: sequencer.DevKey(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	runNode(t, ctx, twin)
	waitFor(t, 60*time.Second, "the twin's block 1", func() bool { return twin.Chain.Head().Number.Uint64() >= 1 })
	th, _ := twin.Chain.HeaderByNumber(1)
	if th.Hash() == good[0].Hash() {
		t.Fatal("the twin, started seconds later, sealed the very same block 1")
	}
	tb, err := twin.Chain.BlockByHash(th.Hash())
	if err != nil {
		t.Fatal(err)
	}
	att.send(t, ctx, msg(t, tb))
	waitFor(t, 30*time.Second, "the equivocating block stored", func() bool { _, err := vn.Chain.HeaderByHash(tb.Hash()); return err == nil })
	ev := victim.Evidence()
	if len(ev) != 1 || ev[0].Number != 1 || ev[0].First.Hash() != good[0].Hash() || ev[0].Second.Hash() != tb.Hash() {
		t.Fatalf("evidence %+v, want block 1 twice", ev)
	}
	if n := counter(t, reg, "equivocations_total", nil); n != 1 {
		t.Fatalf("equivocations_total %v, want 1", n)
	}
	if h, _ := vn.Chain.HeaderByNumber(1); h.Hash() != good[0].Hash() {
		t.Fatal("the equivocating block replaced the canonical block 1 without PoP evidence")
	}
	score++ // the twin block was valid

	// Rejected messages until the ban: the victim drops the attacker and
	// refuses it.
	for peerInfo(victim, aid).BannedUntil.IsZero() {
		att.send(t, ctx, junk(100))
		score -= netp2p.PenaltyReject
		waitFor(t, 30*time.Second, "the rejection", func() bool {
			info := peerInfo(victim, aid)
			return info.Score == score || !info.BannedUntil.IsZero()
		})
	}
	if score > netp2p.BanScore {
		t.Fatalf("banned at score %d, above %d", score, netp2p.BanScore)
	}
	waitFor(t, 30*time.Second, "the banned attacker disconnected", func() bool { return !peerInfo(victim, aid).Connected })
	if err := att.h.Connect(ctx, peer.AddrInfo{ID: victim.ID(), Addrs: victim.Host().Addrs()}); err == nil {
		waitFor(t, 10*time.Second, "the banned attacker refused", func() bool { return len(att.h.Network().ConnsToPeer(victim.ID())) == 0 })
	}
	if vn.Chain.Head().Number.Uint64() != 2 {
		t.Fatalf("victim head %d, want 2", vn.Chain.Head().Number)
	}

	// A node of another network: refused and banned at the handshake.
	other, err := netp2p.New(netp2p.Config{GenesisHash: common.Hash{0xee}, ChainID: spec.Config.ChainID, Sequencers: spec.Config.Sequencers,
		Chain: seq.Chain, Peers: victim.Addrs()})
	if err != nil {
		t.Fatal(err)
	}
	octx, ocancel := context.WithCancel(ctx)
	odone := make(chan error, 1)
	go func() { odone <- other.Run(octx) }()
	defer func() { ocancel(); <-odone }()
	waitFor(t, 30*time.Second, "the other network refused", func() bool {
		return counter(t, reg, "handshakes_total", map[string]string{"result": "genesis"}) >= 1
	})
	waitFor(t, 30*time.Second, "the other network's node banned and disconnected", func() bool {
		info := peerInfo(victim, other.ID())
		return !info.BannedUntil.IsZero() && !info.Connected && !info.Ready
	}, func() string {
		return fmt.Sprintf("victim's view %+v; the other's view %+v", peerInfo(victim, other.ID()), peerInfo(other, victim.ID()))
	})
	if info := peerInfo(other, victim.ID()); info.Ready {
		t.Fatalf("the other network's node counts the victim as ready: %+v", info)
	}
}
