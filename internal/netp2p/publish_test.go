package netp2p

import (
	"context"
	"crypto/ecdsa"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hemi-go/hemi/internal/chain"
)

// memChain is a Chain held in memory for the service tests: blocks are
// stored as given (no execution), heads are fed to Subscribe by hand.
type memChain struct {
	mu     sync.Mutex
	gen    *types.Header
	head   *types.Header
	blocks map[common.Hash]*chain.Block
	heads  chan *types.Header
	// prepared lists the blocks the validator handed to Prepare.
	prepared []common.Hash
}

func newMemChain() *memChain {
	gen := &types.Header{Number: new(big.Int), Difficulty: new(big.Int), Time: 1_700_000_000}
	return &memChain{gen: gen, head: gen, blocks: map[common.Hash]*chain.Block{}, heads: make(chan *types.Header, 16)}
}

func (c *memChain) Head() *types.Header {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.head
}

func (c *memChain) HeaderByHash(h common.Hash) (*types.Header, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h == c.gen.Hash() {
		return c.gen, nil
	}
	if b, ok := c.blocks[h]; ok {
		return b.Header, nil
	}
	return nil, chain.ErrNotFound
}

func (c *memChain) BlockByHash(h common.Hash) (*chain.Block, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.blocks[h]; ok {
		return b, nil
	}
	return nil, chain.ErrNotFound
}

func (c *memChain) Recent(common.Hash) (*chain.Block, types.Receipts, bool) { return nil, nil, false }

func (c *memChain) Prepare(b *chain.Block) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prepared = append(c.prepared, b.Hash())
}

func (c *memChain) InsertBlock(b *chain.Block) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.blocks[b.Hash()]; ok {
		return chain.ErrKnownBlock
	}
	c.blocks[b.Hash()] = b
	return nil
}

// commit stores b as the new head and hands it to the subscriber, as
// a raft member's chain does when it applies a committed block.
func (c *memChain) commit(b *chain.Block) {
	c.mu.Lock()
	c.blocks[b.Hash()] = b
	c.head = b.Header
	c.mu.Unlock()
	c.heads <- b.Header
}

func (c *memChain) Subscribe(ctx context.Context, _ uint64) <-chan *types.Header {
	out := make(chan *types.Header)
	go func() {
		defer close(out)
		for {
			select {
			case h := <-c.heads:
				select {
				case out <- h:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// publishPair is a raft member's service (ms, publishing as self, over
// the chain member) and a follower's (fs, over the chain follower)
// connected to it; both run until the test ends.
type publishPair struct {
	self, other      *ecdsa.PrivateKey
	member, follower *memChain
	ms, fs           *Service
	reg              *prometheus.Registry // ms's metrics
	deadline         time.Time            // for every wait of the test
}

// startPublishPair starts a publishPair on genesisHash and waits until
// both ends are ready (handshake done), so no block comes before.
func startPublishPair(t *testing.T, genesisHash common.Hash) *publishPair {
	t.Helper()
	p := &publishPair{self: testKey("publish self"), other: testKey("publish other"), member: newMemChain(), follower: newMemChain(),
		reg: prometheus.NewRegistry(), deadline: time.Now().Add(30 * time.Second)}
	seqs := []common.Address{crypto.PubkeyToAddress(p.self.PublicKey), crypto.PubkeyToAddress(p.other.PublicKey)}
	var err error
	p.ms, err = New(Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, GenesisHash: genesisHash, ChainID: 7431337,
		Sequencers: seqs, Chain: p.member, Publisher: seqs[0], Registerer: p.reg})
	if err != nil {
		t.Fatal(err)
	}
	p.fs, err = New(Config{Peers: p.ms.Addrs(), GenesisHash: genesisHash, ChainID: 7431337, Sequencers: seqs, Chain: p.follower})
	if err != nil {
		p.ms.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, s := range []*Service{p.ms, p.fs} {
		wg.Add(1)
		go func() { defer wg.Done(); s.Run(ctx) }()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	p.waitFor(t, "the two services to connect", func() bool { return ready(p.ms) && ready(p.fs) })
	return p
}

// waitFor polls cond until it holds, failing the test at p.deadline.
func (p *publishPair) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if time.Now().After(p.deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// published is how many blocks ms published.
func (p *publishPair) published(t *testing.T) float64 {
	return gather(t, p.reg, "hemi_netp2p_blocks_published_total")
}

// notPublished is how many heads ms left to the member that sealed them.
func (p *publishPair) notPublished(t *testing.T) float64 {
	return gather(t, p.reg, "hemi_netp2p_heads_not_published_total")
}

// TestPublishOnlyOwnBlocks: in a raft group every member applies every
// committed block, but only the member that sealed a block (the leader
// of its time) publishes it. A member's chain gets a block sealed by
// another member, then one sealed by itself: it publishes the second
// only.
func TestPublishOnlyOwnBlocks(t *testing.T) {
	p := startPublishPair(t, common.Hash{0x9e})
	b1 := testBlock(t, p.other, 1, p.member.gen.Hash(), 1)
	b2 := testBlock(t, p.self, 2, b1.Hash(), 1)
	p.member.commit(b1)
	p.member.commit(b2)
	// The publisher takes heads in order: once it published one block,
	// it has decided on b1 (skip) and published b2.
	p.waitFor(t, "the member to publish", func() bool { return p.published(t) > 0 })
	if pub, skip := p.published(t), p.notPublished(t); pub != 1 || skip != 1 {
		t.Fatalf("published %v heads, left %v; want b2 published and b1 (sealed by another member) left", pub, skip)
	}
	if !p.ms.gate.Seen(b2.Hash()) || p.ms.gate.Seen(b1.Hash()) {
		t.Fatalf("seen b1 %v, b2 %v: want only b2 marked as published", p.ms.gate.Seen(b1.Hash()), p.ms.gate.Seen(b2.Hash()))
	}
}

func ready(s *Service) bool {
	ps := s.Peers()
	return len(ps) == 1 && ps[0].Ready
}

// gather reads a registered counter by its full name.
func gather(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

// TestPublishCommitted: a block handed over at its raft commit goes out
// before the member's chain has it as head, reaches a follower, and is
// not published again when it becomes the head; a block sealed by
// another member is not published.
func TestPublishCommitted(t *testing.T) {
	p := startPublishPair(t, common.Hash{0x9f})
	theirs := testBlock(t, p.other, 1, p.member.gen.Hash(), 1)
	own := testBlock(t, p.self, 1, p.member.gen.Hash(), 2)
	p.ms.PublishCommitted(theirs)
	p.ms.PublishCommitted(own)
	p.waitFor(t, "the follower to receive the block published at its commit", func() bool {
		_, err := p.follower.HeaderByHash(own.Hash())
		return err == nil
	})
	if _, err := p.member.HeaderByHash(own.Hash()); err == nil {
		t.Fatal("test broken: the member's chain has the block")
	}
	// Now the member stores it as head: it was published already.
	p.member.commit(own)
	p.waitFor(t, "the block sealed by another member to be considered", func() bool { return p.notPublished(t) >= 1 })
	// The head subscription has the block by now or soon; give the
	// publisher a moment to (wrongly) publish it again.
	time.Sleep(200 * time.Millisecond)
	if n := p.published(t); n != 1 {
		t.Fatalf("published %v messages, want 1 (the own block, once)", n)
	}
	if _, err := p.follower.HeaderByHash(theirs.Hash()); err == nil {
		t.Fatal("the follower got the block sealed by another member from this one")
	}
}
