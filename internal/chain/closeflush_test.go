package chain

import (
	"path/filepath"
	"testing"

	"github.com/hemi-go/hemi/internal/pebblelog"
)

// TestCloseLeavesNoLogToReplay: Close flushes the chain database, so the
// next open replays nothing from the write-ahead log (go-ethereum's
// wrapper closes without flushing; the replay was most of a long node's
// restart), and the reopened chain holds every block.
func TestCloseLeavesNoLogToReplay(t *testing.T) {
	dir := t.TempDir()
	f, _, h := crashSetup(t, dir)
	for range 3 {
		nextBlock(h, f)
	}
	head := h.chain.Head()
	if err := h.chain.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := filepath.Join(dir, "l2")
	n, err := pebblelog.ReplayedKeys(l2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("the next open replays %d keys from the write-ahead log, want 0", n)
	}
	c, err := New(h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.Head(); got.Hash() != head.Hash() {
		t.Fatalf("reopened at %d %s, closed at %d %s", got.Number, got.Hash(), head.Number, head.Hash())
	}
	if got := checkConsistent(t, c); got != 3 {
		t.Fatalf("head %d after the reopen, want 3", got)
	}
}
