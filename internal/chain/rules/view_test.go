package rules

import (
	"errors"
	"fmt"
	"math/big"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/hemi-go/hemi/internal/chain/block"
)

// fakeViews is a Bitcoin tree given by hand: each block's height, work
// and parent.
type fakeViews struct {
	tip    int32
	blocks map[chainhash.Hash]fakeBlock
}

type fakeBlock struct {
	height int32
	work   int64
	parent chainhash.Hash
}

func (f *fakeViews) ViewWork(h chainhash.Hash) (int32, *big.Int, error) {
	b, ok := f.blocks[h]
	if !ok {
		return 0, nil, fmt.Errorf("%w: %s", ErrViewNotReady, h)
	}
	return b.height, big.NewInt(b.work), nil
}

func (f *fakeViews) Contains(anc, desc chainhash.Hash) (bool, error) {
	for h := desc; ; {
		if h == anc {
			return true, nil
		}
		b, ok := f.blocks[h]
		if !ok {
			return false, nil
		}
		h = b.parent
	}
}

func (f *fakeViews) TipHeight() int32 { return f.tip }

func TestCheckView(t *testing.T) {
	// a1 <- a2 <- a3 (main, work 3) and a1 <- b2 (side, work 2) and
	// a1 <- c2 (side, work 9: a heavier branch).
	a1, a2, a3, b2, c2 := chainhash.Hash{1}, chainhash.Hash{2}, chainhash.Hash{3}, chainhash.Hash{0xb2}, chainhash.Hash{0xc2}
	v := &fakeViews{tip: 5, blocks: map[chainhash.Hash]fakeBlock{
		a1: {1, 1, chainhash.Hash{}}, a2: {2, 2, a1}, a3: {3, 3, a2}, b2: {2, 2, a1}, c2: {2, 9, a1},
	}}
	ex := func(h chainhash.Hash) block.Extra {
		return block.Extra{BitcoinHash: h, BitcoinHeight: uint32(v.blocks[h].height)}
	}
	ptr := func(e block.Extra) *block.Extra { return &e }
	r := &Rules{ViewLag: 2}
	tests := []struct {
		name   string
		parent *block.Extra
		extra  block.Extra
		want   error
	}{
		{"first view", nil, ex(a2), nil},
		{"same as the parent's", ptr(ex(a2)), ex(a2), nil},
		{"forward", ptr(ex(a1)), ex(a3), nil},
		{"backward", ptr(ex(a3)), ex(a2), ErrBadView},
		{"onto a lighter branch", ptr(ex(a3)), ex(b2), ErrBadView},
		{"onto a heavier branch", ptr(ex(a3)), ex(c2), nil},
		{"wrong height in the record", nil, block.Extra{BitcoinHash: a2, BitcoinHeight: 7}, ErrBadView},
		{"not indexed", nil, block.Extra{BitcoinHash: chainhash.Hash{0xee}, BitcoinHeight: 2}, ErrViewNotReady},
		{"exactly ViewLag below the tip", nil, ex(a3), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := r.CheckView(v, tc.parent, tc.extra)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("CheckView: %v, want %v", err, tc.want)
			}
		})
	}
	v.tip = 4
	if err := r.CheckView(v, nil, ex(a3)); !errors.Is(err, ErrViewNotReady) || errors.Is(err, ErrInvalidBlock) {
		t.Fatalf("view less than ViewLag below the tip: %v, want ErrViewNotReady only", err)
	}
}
