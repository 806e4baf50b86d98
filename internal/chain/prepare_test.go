package chain

import (
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain/block"
)

// TestPrepareMatchesInsertBlock: a chain that Prepares every block of a
// batch before inserting them one by one ends exactly as one that only
// inserts them: same count, errors, head and state root (Prepare judges
// nothing; consensus is unchanged). Blocks are prepared all at once, so
// most find their parent not stored yet (senders only).
func TestPrepareMatchesInsertBlock(t *testing.T) {
	src := newForkScenario(t, "", nil)
	a := src.grow(src.chain.Genesis(), 5, userKeys[0], toA)
	b := src.grow(a[0].Header, 2, userKeys[1], toB)
	badSig, err := src.transfer(userKeys[2], 0, toB, 1).WithSignature(src.signer(), make([]byte, 65))
	if err != nil {
		t.Fatal(err)
	}
	wrongTx := src.transfer(userKeys[3], 0, toA, 1)
	tests := []struct {
		name    string
		blocks  []*Block
		wantN   int
		wantErr error
	}{
		{"linear", a, 5, nil},
		{"side branch", []*Block{a[0], a[1], b[0], b[1], a[2]}, 5, nil},
		{"junk body under a good header", []*Block{a[0], {Header: a[1].Header, Body: &block.Body{SystemTxs: a[1].Body.SystemTxs, Txs: types.Transactions{wrongTx}}}}, 1, ErrBadTxRoot},
		{"invalid signature", []*Block{a[0], resealed(t, a[1], badSig)}, 1, ErrBadTx},
		{"wrong execution", []*Block{a[0], resealed(t, a[1], wrongTx)}, 1, ErrInvalidBlock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plain, prep := src.open(t, "").chain, src.open(t, "").chain
			insert := func(c *Chain, blocks []*Block, prepare bool) (int, error) {
				if prepare {
					for _, blk := range blocks {
						c.Prepare(blk)
					}
				}
				for i, blk := range blocks {
					if err := c.InsertBlock(blk); err != nil {
						return i, err
					}
				}
				return len(blocks), nil
			}
			n1, err1 := insert(plain, freshBlocks(t, tt.blocks), false)
			n2, err2 := insert(prep, freshBlocks(t, tt.blocks), true)
			if n1 != tt.wantN || n2 != tt.wantN {
				t.Fatalf("inserted %d plain, %d prepared; want %d", n1, n2, tt.wantN)
			}
			if !errors.Is(err1, tt.wantErr) || !errors.Is(err2, tt.wantErr) || (err1 != nil && err1.Error() != err2.Error()) {
				t.Fatalf("errors: plain %v, prepared %v; want %v", err1, err2, tt.wantErr)
			}
			if h1, h2 := plain.Head(), prep.Head(); h1.Hash() != h2.Hash() || h1.Root != h2.Root {
				t.Fatalf("heads: plain %d %s, prepared %d %s", h1.Number, h1.Hash(), h2.Number, h2.Hash())
			}
		})
	}
}

// TestPrepareWarmsExecution: for a block on the head, Prepare's workers
// read the senders' and recipients' accounts into the cache the
// insertion's state then reads, so the execution finds them there (the
// reader's cache hits), and InsertBlock consumes the prepared work.
func TestPrepareWarmsExecution(t *testing.T) {
	src := newForkScenario(t, "", nil)
	a := src.grow(src.chain.Genesis(), 2, userKeys[0], toA)
	c := src.open(t, "").chain
	blocks := freshBlocks(t, a)
	if err := c.InsertBlock(blocks[0]); err != nil {
		t.Fatal(err)
	}
	c.Prepare(blocks[1])
	c.Prepare(blocks[1]) // a second call does nothing
	c.prep.mu.Lock()
	p := c.prep.byKey[blocks[1].Hash()]
	entries := len(c.prep.order)
	c.prep.mu.Unlock()
	if p == nil || entries != 1 {
		t.Fatalf("prepared entry %v, %d entries; want one", p, entries)
	}
	<-p.done
	if p.reader == nil || p.root != blocks[0].Header.Root {
		t.Fatalf("prepared reader %v on root %s, want the parent's %s", p.reader, p.root, blocks[0].Header.Root)
	}
	if err := c.InsertBlock(blocks[1]); err != nil {
		t.Fatal(err)
	}
	st := p.reader.(state.ReaderStater).GetStats().StateStats
	// The block's one transfer: its sender and its recipient.
	if st.AccountCacheHit < 2 {
		t.Fatalf("execution's account reads: %d cache hits, %d misses; want the sender and recipient from the cache", st.AccountCacheHit, st.AccountCacheMiss)
	}
	c.prep.mu.Lock()
	left := len(c.prep.byKey) + len(c.prep.order)
	c.prep.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d prepared entries left after the insertion", left)
	}
}

// TestPrepareBounded: at most maxPrepared blocks are kept, the oldest
// dropped first; a block without transactions, or a nil one, is not
// kept; after Close, Prepare does nothing.
func TestPrepareBounded(t *testing.T) {
	src := newForkScenario(t, "", nil)
	a := src.grow(src.chain.Genesis(), maxPrepared+1, userKeys[0], toA)
	c := src.open(t, "").chain
	c.Prepare(nil)
	c.Prepare(&Block{Header: a[0].Header, Body: &block.Body{SystemTxs: a[0].Body.SystemTxs}})
	for _, b := range freshBlocks(t, a) {
		c.Prepare(b)
	}
	c.prep.mu.Lock()
	n := len(c.prep.byKey)
	_, first := c.prep.byKey[a[0].Hash()]
	_, last := c.prep.byKey[a[maxPrepared].Hash()]
	c.prep.mu.Unlock()
	if n != maxPrepared || first || !last {
		t.Fatalf("%d prepared, first kept %v, last kept %v; want %d, false, true", n, first, last, maxPrepared)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c.Prepare(a[0])
	c.prep.mu.Lock()
	n = len(c.prep.byKey)
	c.prep.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d prepared after Close", n)
	}
}
