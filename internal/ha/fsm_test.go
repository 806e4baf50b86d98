package ha

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/hashicorp/raft"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
)

// memChain is a Chain that stores headers by hash and answers as the
// chain does for a known block or a missing parent.
type memChain struct {
	mu      sync.Mutex
	head    *types.Header
	byHash  map[common.Hash]*types.Header
	inserts int
}

func newMemChain() *memChain {
	g := &types.Header{Number: big.NewInt(0)}
	return &memChain{head: g, byHash: map[common.Hash]*types.Header{g.Hash(): g}}
}

func (c *memChain) Head() *types.Header {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.head
}
func (c *memChain) HeaderByHash(h common.Hash) (*types.Header, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if x, ok := c.byHash[h]; ok {
		return x, nil
	}
	return nil, chain.ErrNotFound
}
func (c *memChain) InsertBlock(b *chain.Block) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byHash[b.Hash()]; ok {
		return chain.ErrKnownBlock
	}
	if _, ok := c.byHash[b.Header.ParentHash]; !ok {
		return chain.ErrUnknownParent
	}
	c.inserts++
	c.byHash[b.Hash()] = b.Header
	if b.Header.ParentHash == c.head.Hash() {
		c.head = b.Header
	}
	return nil
}
func (c *memChain) CommitBuilt(b *chain.Built) error { return c.InsertBlock(b.Block) }

func child(parent *types.Header, extra byte) *chain.Block {
	return &chain.Block{Header: &types.Header{ParentHash: parent.Hash(), Number: new(big.Int).Add(parent.Number, common.Big1),
		Extra: []byte{extra}}, Body: &block.Body{}}
}

func entry(t *testing.T, b *chain.Block) *raft.Log {
	t.Helper()
	data, err := EncodeEntry(b)
	if err != nil {
		t.Fatal(err)
	}
	return &raft.Log{Type: raft.LogCommand, Data: data}
}

func newTestFSM(c Chain) *fsm {
	return &fsm{chain: c, log: slog.New(slog.DiscardHandler), m: newMetrics(nil), stop: make(chan struct{}), retry: 1}
}

// TestFSMOneBlockPerHeight: the FSM applies the child of the last applied
// block and refuses, with ErrRejected and without touching the chain, a
// second block at an applied height (a stale leader's in-flight entry),
// a block on another parent and a block skipping a height; a malformed
// entry is ErrBadEntry; a block the chain already holds is applied.
func TestFSMOneBlockPerHeight(t *testing.T) {
	c := newMemChain()
	f := newTestFSM(c)
	b1 := child(c.head, 1)
	if resp := f.Apply(entry(t, b1)); resp != nil {
		t.Fatalf("block 1: %v", resp)
	}
	b1x := child(c.Head(), 9) // a sibling parented like block 2
	b1x.Header.Number = big.NewInt(1)
	b1x.Header.ParentHash = b1.Header.ParentHash
	b2 := child(b1.Header, 2)
	b3 := child(b2.Header, 3)
	other := child(&types.Header{Number: big.NewInt(1), Extra: []byte{7}}, 4)
	for _, tc := range []struct {
		name string
		b    *chain.Block
	}{
		{"second block at height 1", b1x},
		{"height 2 on another parent", other},
		{"height 3 skipping 2", b3},
	} {
		before := c.inserts
		resp := f.Apply(entry(t, tc.b))
		if err, _ := resp.(error); !errors.Is(err, ErrRejected) {
			t.Fatalf("%s: %v, want ErrRejected", tc.name, resp)
		}
		if c.inserts != before {
			t.Fatalf("%s: the chain was written", tc.name)
		}
	}
	if resp := f.Apply(&raft.Log{Data: []byte{entryVersion, 0xc3}}); !errors.Is(resp.(error), ErrBadEntry) {
		t.Fatalf("malformed entry: %v, want ErrBadEntry", resp)
	}
	if err := c.InsertBlock(b2); err != nil { // gossip stored it first
		t.Fatal(err)
	}
	if resp := f.Apply(entry(t, b2)); resp != nil {
		t.Fatalf("block 2 already in the chain: %v, want applied", resp)
	}
	if last := f.lastApplied(); last == nil || last.Number != 2 || last.Hash != b2.Hash() {
		t.Fatalf("last applied %+v, want block 2", last)
	}
}

// TestFSMWaitsForChain: a committed block whose parent the member's
// chain lacks (it is still syncing) is not skipped: Apply waits, says
// what for, and applies it once the parent arrives.
func TestFSMWaitsForChain(t *testing.T) {
	src := newMemChain()
	b1 := child(src.head, 1)
	b2 := child(b1.Header, 2)
	c := newMemChain()
	f := newTestFSM(c)
	f.last = &Ref{Number: 1, Hash: b1.Hash()} // a snapshot the chain has not reached
	done := make(chan any, 1)
	go func() { done <- f.Apply(entry(t, b2)) }()
	if w := waitWaiting(f); w == "" {
		t.Fatal("Apply did not wait for the missing parent")
	}
	select {
	case r := <-done:
		t.Fatalf("Apply returned %v while the parent is missing", r)
	default:
	}
	if err := c.InsertBlock(b1); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r != nil {
		t.Fatalf("Apply after the parent arrived: %v", r)
	}
	if h := c.Head(); h.Hash() != b2.Hash() || f.waitingFor() != "" {
		t.Fatalf("head %d, waiting %q: want block 2 applied", h.Number, f.waitingFor())
	}
}

// TestFSMSnapshotRestore: a snapshot is the last applied block; restoring
// it on a member whose chain lacks the block waits (until the member
// stops: ErrStopped, and no snapshot may follow); on one that has it,
// the FSM continues from it.
func TestFSMSnapshotRestore(t *testing.T) {
	c := newMemChain()
	f := newTestFSM(c)
	b1 := child(c.head, 1)
	if resp := f.Apply(entry(t, b1)); resp != nil {
		t.Fatal(resp)
	}
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := snap.Persist(&sink{Buffer: &buf}); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()

	empty := newTestFSM(newMemChain())
	stop := make(chan struct{})
	empty.stop = stop
	done := make(chan error, 1)
	go func() { done <- empty.Restore(io.NopCloser(bytes.NewReader(data))) }()
	if w := waitWaiting(empty); w == "" {
		t.Fatal("restore on a chain without the block did not wait")
	}
	close(stop)
	if err := <-done; !errors.Is(err, ErrStopped) {
		t.Fatalf("restore stopped: %v, want ErrStopped", err)
	}
	if _, err := empty.Snapshot(); err == nil {
		t.Fatal("snapshot after an abandoned restore")
	}

	g := newTestFSM(c)
	if err := g.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatal(err)
	}
	b2 := child(b1.Header, 2)
	if resp := g.Apply(entry(t, b2)); resp != nil {
		t.Fatalf("block 2 after restore: %v", resp)
	}
	if err := g.Restore(io.NopCloser(bytes.NewReader([]byte("{")))); err == nil {
		t.Fatal("restore accepted a truncated snapshot")
	}
}

// waitWaiting polls until f says what it waits for (up to 10 s).
func waitWaiting(f *fsm) string {
	for range 1000 {
		if w := f.waitingFor(); w != "" {
			return w
		}
		time.Sleep(10 * time.Millisecond)
	}
	return ""
}

type sink struct{ *bytes.Buffer }

func (s *sink) ID() string    { return "test" }
func (s *sink) Cancel() error { return nil }
func (s *sink) Close() error  { return nil }

// FuzzEntry: whatever decodes re-encodes to the same bytes; nothing
// panics.
func FuzzEntry(f *testing.F) {
	c := newMemChain()
	b1 := child(c.head, 1)
	for _, b := range []*chain.Block{b1, child(b1.Header, 2)} {
		data, err := EncodeEntry(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{entryVersion})
	f.Add([]byte{2, 0xc0})
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := DecodeEntry(in)
		if err != nil {
			return
		}
		out, err := EncodeEntry(b)
		if err != nil {
			t.Fatalf("decoded entry does not encode: %v", err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("non-canonical entry accepted:\n in %x\nout %x", in, out)
		}
	})
}

// recordingPublisher records the blocks handed to it and whether the
// chain held each one at that moment.
type recordingPublisher struct {
	c         *memChain
	published []common.Hash
	stored    []bool
}

func (p *recordingPublisher) PublishCommitted(b *chain.Block) {
	_, err := p.c.HeaderByHash(b.Hash())
	p.published = append(p.published, b.Hash())
	p.stored = append(p.stored, err == nil)
}

// TestFSMPublishesOwnCommittedBlockBeforeStoring: the leader's own
// block goes to the Publisher as soon as it is applied (committed),
// before the chain stores it, so followers need not wait for the
// leader's write; a block sealed by another member (no pending entry
// here) and a committed entry the FSM refuses are never handed over.
func TestFSMPublishesOwnCommittedBlockBeforeStoring(t *testing.T) {
	c := newMemChain()
	f := newTestFSM(c)
	pub := &recordingPublisher{c: c}
	f.publisher = pub
	own := child(c.head, 1)
	f.pending.Store(own.Hash(), &chain.Built{Block: own})
	if resp := f.Apply(entry(t, own)); resp != nil {
		t.Fatalf("own block: %v", resp)
	}
	if len(pub.published) != 1 || pub.published[0] != own.Hash() {
		t.Fatalf("published %v, want the own block %s", pub.published, own.Hash())
	}
	if pub.stored[0] {
		t.Fatal("the own block was handed to the publisher only after the chain stored it")
	}
	if c.Head().Hash() != own.Hash() {
		t.Fatal("the own block was not stored")
	}
	// Another member's block: applied, not published by this member.
	theirs := child(own.Header, 2)
	if resp := f.Apply(entry(t, theirs)); resp != nil {
		t.Fatalf("another member's block: %v", resp)
	}
	// An own entry the FSM refuses (a stale leader's, at a height
	// already applied): committed in the log, but never the chain's.
	stale := child(own.Header, 9)
	f.pending.Store(stale.Hash(), &chain.Built{Block: stale})
	if resp := f.Apply(entry(t, stale)); !errors.Is(resp.(error), ErrRejected) {
		t.Fatalf("stale own entry: %v, want ErrRejected", resp)
	}
	if len(pub.published) != 1 {
		t.Fatalf("published %d blocks, want only the own committed one", len(pub.published))
	}
}

// slowStoreChain moves its head to a block as soon as a store starts,
// then holds the store until released, as the chain's store does with
// the FSM waiting in between: the moment the leadership loop may look.
type slowStoreChain struct {
	*memChain
	stored  chan struct{} // closed when the head has moved
	release chan struct{}
}

func (c *slowStoreChain) CommitBuilt(b *chain.Built) error {
	err := c.memChain.InsertBlock(b.Block)
	close(c.stored)
	<-c.release
	return err
}

// TestStatusCaughtUpWhileApplying: while the FSM stores the leader's own
// committed block (the chain's head already on it, the FSM not yet done)
// the member is caught up; before, its status said "chain head 2 is not
// the last committed block 1", and a leader seeing that stopped its
// producer, which started again and built the next block at once. A head
// ahead of what the FSM applied or applies is still behind the group.
func TestStatusCaughtUpWhileApplying(t *testing.T) {
	mc := newMemChain()
	c := &slowStoreChain{memChain: mc, stored: make(chan struct{}), release: make(chan struct{})}
	g := &Group{cfg: Config{Chain: c, Bitcoin: steadyBitcoin{}, MaxBitcoinLag: 1}, fsm: newTestFSM(c)}
	b1 := child(mc.head, 1)
	close(c.release) // block 1 is stored at once
	if resp := g.fsm.Apply(entry(t, b1)); resp != nil {
		t.Fatalf("block 1: %v", resp)
	}
	if st := g.Status(); !st.CaughtUp || st.Applying != nil {
		t.Fatalf("after block 1: caught up %v (%s), applying %v; want caught up, nothing applying", st.CaughtUp, st.Why, st.Applying)
	}

	c.stored, c.release = make(chan struct{}), make(chan struct{})
	b2 := child(b1.Header, 2)
	g.fsm.pending.Store(b2.Hash(), &chain.Built{Block: b2}) // the leader's own block
	done := make(chan any, 1)
	go func() { done <- g.fsm.Apply(entry(t, b2)) }()
	<-c.stored
	st := g.Status()
	if st.Head.Hash != b2.Hash() || st.Applied == nil || st.Applied.Hash != b1.Hash() {
		t.Fatalf("mid-apply: head %d, applied %+v; want head 2, applied 1", st.Head.Number, st.Applied)
	}
	if !st.CaughtUp || st.Applying == nil || st.Applying.Hash != b2.Hash() {
		t.Fatalf("mid-apply: caught up %v (%s), applying %+v; want caught up while block 2 is applied", st.CaughtUp, st.Why, st.Applying)
	}
	close(c.release)
	if resp := <-done; resp != nil {
		t.Fatalf("block 2: %v", resp)
	}

	// A block gossip stored before the log's entry: the head is ahead of
	// the group until the FSM applies it.
	b3 := child(b2.Header, 3)
	if err := mc.InsertBlock(b3); err != nil {
		t.Fatal(err)
	}
	if st := g.Status(); st.CaughtUp {
		t.Fatalf("head 3 with block 2 applied and nothing applying: caught up, want behind")
	}
}
