package indextest

import (
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/txgen"
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

// Chain is a deterministic regtest chain made in-process: every block pays
// one key of a seed's wallet, and it can be forked at any height.
type Chain struct {
	// Blocks are the chain's blocks from height 1.
	Blocks []*wire.MsgBlock
	params *chaincfg.Params
	specs  []txgen.BlockSpec
}

// NewChain makes n valid blocks on params' genesis, paying the P2WPKH
// script of key 0 of seed's wallet.
func NewChain(t testing.TB, params *chaincfg.Params, seed []byte, n int) *Chain {
	t.Helper()
	script, err := txgen.NewWallet(seed).Key(0).PkScript(txgen.P2WPKH)
	if err != nil {
		t.Fatal(err)
	}
	ch := txgen.NewChain(params)
	c := &Chain{params: params}
	for range n {
		s := txgen.BlockSpec{PayTo: script}
		b, err := ch.NextBlock(s)
		if err != nil {
			t.Fatal(err)
		}
		c.specs, c.Blocks = append(c.specs, s), append(c.Blocks, b)
	}
	return c
}

// Fork returns m new blocks on top of the chain's block at height from
// (Blocks[from-1] is the fork point), different from the chain's own.
func (c *Chain) Fork(t testing.TB, from, m int) []*wire.MsgBlock {
	t.Helper()
	ch := txgen.NewChain(c.params)
	for _, s := range c.specs[:from] {
		if _, err := ch.NextBlock(s); err != nil {
			t.Fatal(err)
		}
	}
	out := make([]*wire.MsgBlock, 0, m)
	for i := range m {
		b, err := ch.NextBlock(txgen.BlockSpec{PayTo: c.specs[0].PayTo, ExtraNonce: uint64(1000 + i)})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}
