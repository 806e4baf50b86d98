package chain

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// crashClose closes c's databases the way a kill -9 leaves them: the
// trie nodes still waiting for FlushAfter never reach the disk.
func crashClose(c *Chain) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed.Store(true)
	c.lazy.stop()
	c.stopPrepared()
	c.db.Close()
}

// lazyRoots is how many head blocks wait for their flush.
func lazyRoots(c *Chain) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.lazy.roots)
}

// TestLazyFlush: a chain with FlushAfter serves the new heads' state
// from memory before it flushes them; stopped before the flush (crash),
// it reopens at the same head by executing the blocks without state
// again; a clean Close and the timer flush everything.
func TestLazyFlush(t *testing.T) {
	dir := t.TempDir()
	f, ix, h := crashSetup(t, dir)
	producer := newHarness(t, ix, "", h.spec)
	h.chain.cfg.FlushAfter = time.Hour
	var last *Block
	for range 3 {
		last = nextBlock(producer, f)
		if err := h.chain.InsertBlock(last); err != nil {
			t.Fatal(err)
		}
	}
	if n := lazyRoots(h.chain); n != 3 {
		t.Fatalf("%d blocks wait for their flush, want 3", n)
	}
	checkConsistent(t, h.chain) // their state is served from memory
	crashClose(h.chain)

	reopen := func(want *Block, reexecuted int) *harness {
		t.Helper()
		h := newHarness(t, ix, filepath.Join(dir, "l2"), h.spec)
		if h.chain.Head().Hash() != want.Hash() {
			t.Fatalf("reopened at %d, want %d", h.chain.Head().Number, want.NumberU64())
		}
		if h.chain.reexecuted != reexecuted {
			t.Fatalf("reopening executed %d blocks again, want %d", h.chain.reexecuted, reexecuted)
		}
		checkConsistent(t, h.chain)
		return h
	}
	h = reopen(last, 3)

	// A clean Close flushes what waits.
	h.chain.cfg.FlushAfter = time.Hour
	for range 2 {
		last = nextBlock(producer, f)
		if err := h.chain.InsertBlock(last); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.chain.Close(); err != nil {
		t.Fatal(err)
	}
	h = reopen(last, 0)

	// So does the timer, FlushAfter after the head moved.
	h.chain.cfg.FlushAfter = time.Millisecond
	last = nextBlock(producer, f)
	if err := h.chain.InsertBlock(last); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); lazyRoots(h.chain) > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the flush timer never flushed")
		}
	}
	crashClose(h.chain)
	h = reopen(last, 0)

	// A side block flushes the waiting heads first, then itself.
	h.chain.cfg.FlushAfter = time.Hour
	head := producer.chain.Head()
	side := producer.build(viewAt(t, producer.btc, f.Blocks[min(2+int(head.Number.Uint64()), 9)])).Block // empty, not committed
	last = nextBlock(producer, f)
	for _, b := range []*Block{last, side} {
		if err := h.chain.InsertBlock(b); err != nil {
			t.Fatal(err)
		}
	}
	if n := lazyRoots(h.chain); n != 0 {
		t.Fatalf("%d blocks wait after a side block stored with its state", n)
	}
	crashClose(h.chain)
	h = reopen(last, 0)
	if _, err := h.chain.StateAt(side.Header.Root); err != nil {
		t.Fatalf("side block's state: %v", err)
	}
}

// TestKill9LazyFlush kills a child process that inserts blocks with
// FlushAfter at some moment (its newest heads' state often not on disk
// yet), reopens its database and checks it restarts at the head the
// child reported or later, with every block's state, then continues.
func TestKill9LazyFlush(t *testing.T) {
	total := 0
	kill9(t, "HEMI_CHAIN_LAZY_CHILD", lazyChild, []int{1, 4, 9, 12}, 3*time.Millisecond, func(round, printed int, dir string) {
		f, ix, h := crashSetup(t, dir)
		n := checkConsistent(t, h.chain)
		if n < uint64(printed) {
			t.Fatalf("round %d: reopened at %d, the child had inserted %d", round, n, printed)
		}
		total += h.chain.reexecuted
		t.Logf("round %d: killed after block %d was reported, reopened at %d, %d blocks executed again", round, printed, n, h.chain.reexecuted)
		nextBlock(h, f)
		checkConsistent(t, h.chain)
		h.chain.Close()
		ix.Close()
	})
	t.Logf("%d blocks executed again over the rounds", total)
}

// lazyChild inserts the blocks of a producer chain into a chain in dir
// with FlushAfter 20 ms (its batches fsynced, so a reported block is on
// disk) and prints each number inserted, until it is killed.
func lazyChild(dir string) {
	t := crashTB{}
	f, ix, h := crashSetup(t, dir)
	producer := newHarness(t, ix, "", h.spec)
	h.chain.cfg.NoSync = false
	h.chain.cfg.FlushAfter = 20 * time.Millisecond
	for {
		b := nextBlock(producer, f)
		if err := h.chain.InsertBlock(b); err != nil {
			t.Fatal(err)
		}
		fmt.Println(b.NumberU64())
	}
}
