package chaintest

import (
	"errors"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/hvm"
)

// TestBitcoin: the headers link by hash; views answer as of their block
// and no later; unknown blocks are ErrViewNotReady, as the chain expects
// of its Bitcoin.
func TestBitcoin(t *testing.T) {
	f := NewBitcoin(5)
	for i, h := range f.Headers[1:] {
		if h.Header.PrevBlock != f.Headers[i].Hash || h.Hash != h.Header.BlockHash() || int(h.Height) != i+1 {
			t.Fatalf("header %d does not link: %+v", i+1, h)
		}
	}
	if hash, height := f.BlockTip(); hash != f.Headers[4].Hash || height != 4 || f.TipHeight() != 4 {
		t.Fatalf("tip %v %d", hash, height)
	}
	if _, work, err := f.ViewHeader(f.Headers[2].Hash); err != nil || work.Int64() != 3 {
		t.Fatalf("ViewHeader: work %v, %v", work, err)
	}
	if ok, err := f.Contains(f.Headers[1].Hash, f.Headers[3].Hash); !ok || err != nil {
		t.Fatalf("Contains(1, 3) = %v, %v", ok, err)
	}
	if ok, err := f.Contains(f.Headers[3].Hash, f.Headers[1].Hash); ok || err != nil {
		t.Fatalf("Contains(3, 1) = %v, %v", ok, err)
	}
	unknown := chainhash.Hash{1}
	if _, err := f.Contains(unknown, f.Headers[1].Hash); err == nil {
		t.Fatal("Contains of an unknown block: no error")
	}
	for name, err := range map[string]error{
		"ViewHeader":   func() error { _, _, err := f.ViewHeader(unknown); return err }(),
		"View":         func() error { _, err := f.View(unknown); return err }(),
		"Publications": func() error { _, err := f.Publications([32]byte{}, unknown); return err }(),
	} {
		if !errors.Is(err, chain.ErrViewNotReady) {
			t.Errorf("%s of an unknown block: %v, want ErrViewNotReady", name, err)
		}
	}
	v, err := f.View(f.Headers[2].Hash)
	if err != nil {
		t.Fatal(err)
	}
	if v.Tip().Hash != f.Headers[2].Hash {
		t.Fatalf("view tip %v", v.Tip().Hash)
	}
	if _, err := v.HeaderByHeight(3); !errors.Is(err, hvm.ErrNotFound) {
		t.Fatalf("a header above the view: %v, want hvm.ErrNotFound", err)
	}
	if h, err := v.HeaderByHeight(0); err != nil || h.Hash != f.Headers[0].Hash {
		t.Fatalf("header 0: %v", err)
	}
}
