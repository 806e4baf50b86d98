package netp2p

import (
	"context"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
)

// blockingChain is a memChain whose HeaderByHash (the validator's Known
// fact) waits for release once entered, so a test holds a validation
// half way.
type blockingChain struct {
	*memChain
	entered chan struct{}
	release chan struct{}
}

func (c *blockingChain) HeaderByHash(h common.Hash) (*types.Header, error) {
	select {
	case c.entered <- struct{}{}:
		<-c.release
	default:
	}
	return c.memChain.HeaderByHash(h)
}

// TestValidateCopyInFlight: a copy of a message that arrives while its
// first copy is still being validated is ignored without being decoded
// (in_flight); the first copy is accepted; once it is done, a copy is
// judged again (here: seen by the gate).
func TestValidateCopyInFlight(t *testing.T) {
	seq := testKey("in flight seq")
	c := &blockingChain{memChain: newMemChain(), entered: make(chan struct{}), release: make(chan struct{})}
	reg := prometheus.NewRegistry()
	s, err := New(Config{GenesisHash: common.Hash{0xa0}, ChainID: 7431337, Sequencers: []common.Address{crypto.PubkeyToAddress(seq.PublicKey)},
		Chain: c, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, b := peer.ID("peer a"), peer.ID("peer b")
	for _, p := range []peer.ID{a, b} {
		s.peers.Connected(p, nil, true)
		s.peers.SetReady(p, 0, common.Hash{})
	}
	data := encode(t, testBlock(t, seq, 1, c.gen.Hash(), 3))
	msg := func() *pubsub.Message {
		return &pubsub.Message{Message: &pb.Message{Data: data}, ID: MessageID(data)}
	}
	first := make(chan pubsub.ValidationResult, 1)
	go func() { first <- s.validate(context.Background(), a, msg()) }()
	<-c.entered // the first copy is inside its validation
	if got := s.validate(context.Background(), b, msg()); got != pubsub.ValidationIgnore {
		t.Fatalf("copy in flight: %v, want ignore", got)
	}
	if n := counterValue(t, reg, "hemi_netp2p_gossip_messages_total", "in_flight"); n != 1 {
		t.Fatalf("in_flight copies counted %v, want 1", n)
	}
	close(c.release)
	if got := <-first; got != pubsub.ValidationAccept {
		t.Fatalf("first copy: %v, want accept", got)
	}
	if got := s.validate(context.Background(), b, msg()); got != pubsub.ValidationIgnore {
		t.Fatalf("copy after the first: %v, want ignore", got)
	}
	if n := counterValue(t, reg, "hemi_netp2p_gossip_messages_total", ReasonSeen); n != 1 {
		t.Fatalf("copy after the first not judged by the gate (seen %v)", n)
	}
}

// counterValue reads a counter vector's child by its reason label.
func counterValue(t *testing.T, reg *prometheus.Registry, name, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
