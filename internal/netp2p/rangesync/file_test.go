package rangesync

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hemi-go/hemi/internal/chain"
)

// TestExportImport: blocks exported to a file (plain and gzip) import
// into an empty chain to the same head; an import stopped half way (a
// file of the first part) resumes by importing the whole file, skipping
// what is stored; a truncated or corrupt file stops with an error naming
// the block, after inserting the blocks before it.
func TestExportImport(t *testing.T) {
	fx := sharedFixture(t)
	src, _ := longChain(t)
	const n = 1200
	dir := t.TempDir()
	ctx := context.Background()
	for _, name := range []string{"blocks.rlp", "blocks.rlp.gz"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			got, err := ExportFile(ctx, src, path, 1, n)
			if err != nil || got != n {
				t.Fatalf("export: %d blocks, %v", got, err)
			}
			part := filepath.Join(dir, "part-"+name)
			if _, err := ExportFile(ctx, src, part, 1, 500); err != nil {
				t.Fatal(err)
			}
			dst, err := fx.openChain(fx.spec(seqKey, 0), "")
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			st, err := ImportFile(ctx, dst, part, 0, nil)
			if err != nil || st.Inserted != 500 || st.Skipped != 0 {
				t.Fatalf("import of the first part: %+v, %v", st, err)
			}
			st, err = ImportFile(ctx, dst, path, 0, nil)
			if err != nil || st.Read != n || st.Skipped != 500 || st.Inserted != n-500 {
				t.Fatalf("resumed import: %+v, %v", st, err)
			}
			want, _ := src.HeaderByNumber(n)
			if got := dst.Head(); got.Hash() != want.Hash() || got.Root != want.Root {
				t.Fatalf("head %d %s, want %d %s", got.Number, got.Hash(), want.Number, want.Hash())
			}
		})
	}
	// A plain file cut in the middle of block 701, and one with a byte of
	// block 701 changed: the blocks before it are imported, then a clear
	// error.
	raw, err := os.ReadFile(filepath.Join(dir, "blocks.rlp"))
	if err != nil {
		t.Fatal(err)
	}
	var off int
	for num := uint64(1); num <= 700; num++ {
		b, _ := src.BlockByNumber(num)
		enc, _ := EncodeBlock(b)
		off += len(enc)
	}
	corrupt := bytes.Clone(raw)
	corrupt[off+200] ^= 0xff // inside block 701's header
	for name, data := range map[string][]byte{"truncated": raw[:off+100], "corrupt": corrupt} {
		t.Run(name, func(t *testing.T) {
			dst, err := fx.openChain(fx.spec(seqKey, 0), "")
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			r, err := NewReader(bytes.NewReader(data), false)
			if err != nil {
				t.Fatal(err)
			}
			st, err := Import(ctx, dst, r, 50, nil)
			if err == nil {
				t.Fatal("import of a bad file succeeded")
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, chain.ErrInvalidBlock) {
				t.Fatalf("error %v, want a malformed or invalid block", err)
			}
			if h := dst.Head().Number.Uint64(); h != 700 || st.Inserted != 700 {
				t.Fatalf("head %d, %d inserted; want the 700 good blocks", h, st.Inserted)
			}
			t.Log(err)
		})
	}
	// Export refuses what it cannot write.
	for _, r := range [][2]uint64{{0, 5}, {5, 4}, {1, longBlocks + 1}} {
		if _, err := ExportFile(ctx, src, filepath.Join(dir, "bad.rlp"), r[0], r[1]); err == nil {
			t.Errorf("export %d..%d succeeded", r[0], r[1])
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.rlp")); !os.IsNotExist(err) {
		t.Errorf("a failed export left its file: %v", err)
	}
}
