package index

import (
	"errors"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/cockroachdb/pebble/v2"
)

// headersDir stores a main chain of n headers on regtest's genesis and a
// 10-header branch off its block at height n-500 (ids interleaved with
// the main chain's, so a header's parent is not always the id before
// it), closes the index and returns its directory and the headers.
func headersDir(t *testing.T, n int) (string, []*wire.MsgBlock) {
	t.Helper()
	g := newGen(regtest)
	main := g.chain(t, *regtest.GenesisHash, n, nil)
	branch := g.chain(t, main[n-501].BlockHash(), 10, []byte{1})
	dir := t.TempDir()
	ix := openTest(t, dir, regtest)
	for _, part := range [][]*wire.MsgBlock{main[:n-400], branch, main[n-400:]} {
		if _, _, err := ix.AcceptHeaders(headers(part)); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, append(main, branch...)
}

// TestLoadHeadersReopen: headers spanning several of the load's chunks,
// a branch among them, come back at open with their hashes, heights and
// work, the best header the main chain's tip.
func TestLoadHeadersReopen(t *testing.T) {
	const n = 3*headerLoadChunk + 100
	dir, bs := headersDir(t, n)
	ix := openTest(t, dir, regtest)
	defer ix.Close()
	if hash, h := ix.BestHeader(); hash != bs[n-1].BlockHash() || h != n {
		t.Fatalf("best header %s at %d, want %s at %d", hash, h, bs[n-1].BlockHash(), n)
	}
	for i, b := range bs {
		want := int32(i + 1)
		if i >= n {
			want = int32(n - 500 + i - n + 1)
		}
		info, err := ix.Header(b.BlockHash())
		if err != nil {
			t.Fatalf("header %d: %v", i, err)
		}
		if info.Height != want || info.Header != b.Header || info.Work.Sign() <= 0 {
			t.Fatalf("header %d: height %d (want %d), header equal %v, work %s", i, info.Height, want, info.Header == b.Header, info.Work)
		}
	}
}

// TestLoadHeadersCorrupt: a header record of the wrong length, or whose
// parent is not stored, anywhere among the chunks, fails the open with
// ErrCorrupt naming it (and the open returns: the pipeline drains).
func TestLoadHeadersCorrupt(t *testing.T) {
	const n = 2*headerLoadChunk + 10
	orphan := wire.BlockHeader{Version: 1, Bits: regtest.PowLimitBits}
	orphan.PrevBlock[0] = 1
	for _, tc := range []struct {
		name string
		id   uint32
		rec  []byte
		want string
	}{
		{"short record early", 5, make([]byte, headerRecLen-1), "header record is 80 bytes"},
		{"long record last", n + 10, make([]byte, headerRecLen+1), "header record is 82 bytes"},
		{"orphan in the middle", headerLoadChunk + 3, encodeHeaderRecord(&orphan, 0), "has no stored parent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, _ := headersDir(t, n)
			db := openRawDB(t, dir)
			if err := db.Set(idKey(pfxHeader, tc.id), tc.rec, pebble.Sync); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			ix, err := Open(Config{Dir: dir, Params: regtest})
			if err == nil {
				ix.Close()
				t.Fatal("the index opened")
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("open: %v, want ErrCorrupt with %q", err, tc.want)
			}
		})
	}
}

// BenchmarkLoad: Index.load at open (the header tree, the connected
// chain, the event sequence), 20,000 headers.
func BenchmarkLoad(b *testing.B) {
	g := newGen(regtest)
	bs := g.chain(b, *regtest.GenesisHash, 20_000, nil)
	ix := openTest(b, b.TempDir(), regtest)
	defer ix.Close()
	if _, _, err := ix.AcceptHeaders(headers(bs)); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		ix.mu.Lock()
		ix.nodes, ix.byHash = nil, make(map[chainhash.Hash]*node)
		ix.mu.Unlock()
		if err := ix.load(); err != nil {
			b.Fatal(err)
		}
	}
}
