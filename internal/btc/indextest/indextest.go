// Package indextest builds Bitcoin indexes for other packages' tests: it
// opens a small index and feeds it blocks made in-process (for example by
// internal/btc/txgen), the way the P2P client would, then waits until they
// are connected. It is imported only from _test.go files.
package indextest

import (
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/index"
)

// feedTimeout bounds how long Feed waits for the blocks to connect.
const feedTimeout = 10 * time.Second

// Open opens an index in dir (a new temporary directory when dir is empty)
// sized for tests, with a short batch delay so fed blocks connect at once.
// It is closed when the test ends.
func Open(t testing.TB, params *chaincfg.Params, dir string) *index.Index {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	ix, err := index.Open(index.Config{Dir: dir, Params: params, MaxBatchDelay: 5 * time.Millisecond,
		MemTableSize: 4 << 20, CacheSize: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

// Feed gives ix the headers and then the blocks of bs, in order, and waits
// until its block tip is the last of them.
func Feed(t testing.TB, ix *index.Index, bs []*wire.MsgBlock) {
	t.Helper()
	if len(bs) == 0 {
		return
	}
	hdrs := make([]wire.BlockHeader, len(bs))
	for i, b := range bs {
		hdrs[i] = b.Header
	}
	if _, _, err := ix.AcceptHeaders(hdrs); err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if err := ix.AcceptBlock(b); err != nil {
			t.Fatal(err)
		}
	}
	want := bs[len(bs)-1].BlockHash()
	deadline := time.Now().Add(feedTimeout)
	for {
		h, height := ix.BlockTip()
		if h == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("index tip %s@%d, want %s", h, height, want)
		}
		time.Sleep(time.Millisecond)
	}
}
