package netp2p

import (
	"context"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
)

// TestValidatePreparesAccepted: the validator hands the chain every block
// it accepts, once, to start its senders' recovery before the import
// loop inserts it (chain.Prepare), and no block it rejects or ignores: a
// junk message must cost no recovery.
func TestValidatePreparesAccepted(t *testing.T) {
	seq, stranger := testKey("prepare seq"), testKey("prepare stranger")
	c := newMemChain()
	s, err := New(Config{GenesisHash: common.Hash{0xa1}, ChainID: 7431337, Sequencers: []common.Address{crypto.PubkeyToAddress(seq.PublicKey)},
		Chain: c, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	from := peer.ID("peer a")
	s.peers.Connected(from, nil, true)
	s.peers.SetReady(from, 0, common.Hash{})
	validate := func(data []byte) pubsub.ValidationResult {
		return s.validate(context.Background(), from, &pubsub.Message{Message: &pb.Message{Data: data}, ID: MessageID(data)})
	}
	good := testBlock(t, seq, 1, c.gen.Hash(), 3)
	cases := []struct {
		name string
		data []byte
		want pubsub.ValidationResult
	}{
		{"unknown sequencer", encode(t, testBlock(t, stranger, 1, c.gen.Hash(), 3)), pubsub.ValidationReject},
		{"malformed", []byte("junk"), pubsub.ValidationReject},
		{"valid", encode(t, good), pubsub.ValidationAccept},
		{"seen", encode(t, good), pubsub.ValidationIgnore},
	}
	for _, tc := range cases {
		if got := validate(tc.data); got != tc.want {
			t.Fatalf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if want := []common.Hash{good.Hash()}; !slices.Equal(c.prepared, want) {
		t.Fatalf("prepared %v, want only the accepted block %v", c.prepared, want)
	}
}
