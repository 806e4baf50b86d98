package rangesync

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/rlp"

	"github.com/hemi-go/hemi/internal/chain"
)

// The block file of `hemi export` and `hemi import`, as go-ethereum's: the
// blocks back to back, each RLP([header, body]) (EncodeBlock), in forward
// order, nothing else; gzip-compressed when the file name ends in ".gz".

// Writer writes a block file.
type Writer struct {
	bw *bufio.Writer
	gz *gzip.Writer
}

// NewWriter writes blocks to w, gzip-compressed when gz is set. Close
// flushes it (and does not close w).
func NewWriter(w io.Writer, gz bool) *Writer {
	out := &Writer{}
	if gz {
		out.gz = gzip.NewWriter(w)
		w = out.gz
	}
	out.bw = bufio.NewWriterSize(w, 1<<20)
	return out
}

// Write appends one block.
func (w *Writer) Write(b *chain.Block) error {
	enc, err := EncodeBlock(b)
	if err != nil {
		return err
	}
	_, err = w.bw.Write(enc)
	return err
}

// Close flushes the buffered blocks and ends the gzip stream.
func (w *Writer) Close() error {
	if err := w.bw.Flush(); err != nil {
		return err
	}
	if w.gz != nil {
		return w.gz.Close()
	}
	return nil
}

// Reader reads a block file.
type Reader struct {
	s     *rlp.Stream
	gz    *gzip.Reader
	count int
}

// NewReader reads blocks from r, gunzipping when gz is set.
func NewReader(r io.Reader, gz bool) (*Reader, error) {
	out := &Reader{}
	if gz {
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %w", ErrMalformed, err)
		}
		out.gz, r = z, z
	}
	out.s = rlp.NewStream(bufio.NewReaderSize(r, 1<<20), 0)
	return out, nil
}

// Next returns the next block, io.EOF after the last. A block is read
// only once its RLP list header announced at most MaxBlockBytes, so a
// corrupt length never makes it allocate more; the block itself is not
// checked (the import does).
func (r *Reader) Next() (*chain.Block, error) {
	kind, size, err := r.s.Kind()
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, fmt.Errorf("%w: block %d of the file: %w", ErrMalformed, r.count+1, err)
	}
	if kind != rlp.List {
		return nil, fmt.Errorf("%w: block %d of the file is not an RLP list", ErrMalformed, r.count+1)
	}
	if size > MaxBlockBytes {
		return nil, fmt.Errorf("%w: block %d of the file has %d bytes", ErrTooLarge, r.count+1, size)
	}
	var dec blockRLP
	if err := r.s.Decode(&dec); err != nil {
		return nil, fmt.Errorf("%w: block %d of the file: %w", ErrMalformed, r.count+1, err)
	}
	b, err := checkDecoded(&dec)
	if err != nil {
		return nil, fmt.Errorf("block %d of the file: %w", r.count+1, err)
	}
	r.count++
	return b, nil
}

// Close releases the gzip reader (not the underlying reader).
func (r *Reader) Close() error {
	if r.gz != nil {
		return r.gz.Close()
	}
	return nil
}

// isGzip reports whether a file name asks for gzip.
func isGzip(path string) bool { return strings.HasSuffix(path, ".gz") }

// Export writes canonical blocks from..to (inclusive) of src to w and
// returns how many it wrote.
func Export(ctx context.Context, src Source, w *Writer, from, to uint64) (uint64, error) {
	if from == 0 {
		return 0, errors.New("rangesync: export from block 0: the genesis comes from the genesis file, export from 1")
	}
	if to < from {
		return 0, fmt.Errorf("rangesync: export range %d..%d is empty", from, to)
	}
	if head := src.Head().Number.Uint64(); to > head {
		return 0, fmt.Errorf("rangesync: export to %d above the head %d", to, head)
	}
	var n uint64
	for num := from; num <= to; num++ {
		if num%1024 == 0 && ctx.Err() != nil {
			return n, ctx.Err()
		}
		b, err := src.BlockByNumber(num)
		if err != nil {
			return n, fmt.Errorf("rangesync: export block %d: %w", num, err)
		}
		if err := w.Write(b); err != nil {
			return n, fmt.Errorf("rangesync: export block %d: %w", num, err)
		}
		n++
	}
	return n, nil
}

// ExportFile writes canonical blocks from..to of src to the file path
// (gzip when it ends in ".gz"), replacing it only once it is complete.
func ExportFile(ctx context.Context, src Source, path string, from, to uint64) (uint64, error) {
	tmp := path + ".partial"
	f, err := os.Create(tmp)
	if err != nil {
		return 0, fmt.Errorf("rangesync: export: %w", err)
	}
	defer os.Remove(tmp)
	w := NewWriter(f, isGzip(path))
	n, err := Export(ctx, src, w, from, to)
	if err == nil {
		err = w.Close()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, err
	}
	return n, os.Rename(tmp, path)
}

// ImportStats counts what Import did.
type ImportStats struct {
	Read     uint64 // blocks read from the file
	Skipped  uint64 // already stored, not inserted again
	Inserted uint64
	Took     time.Duration
}

// DefaultImportBatch is how many blocks Import hands InsertChain at once.
const DefaultImportBatch = 64

// Import inserts the blocks of r into c with InsertChain, in batches of
// batch blocks (DefaultImportBatch when <= 0). Blocks already stored are
// skipped, so an import stopped half way is resumed by running it again.
// It stops at the first block that does not insert, naming it; a block
// whose Bitcoin view the index does not have yet stops it with an error
// wrapping chain.ErrViewNotReady (sync Bitcoin further, then import
// again). log (optional) gets a line every few seconds.
func Import(ctx context.Context, c Chain, r *Reader, batch int, log *slog.Logger) (ImportStats, error) {
	if batch <= 0 {
		batch = DefaultImportBatch
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var st ImportStats
	start := time.Now()
	lastLog := start
	buf := make([]*chain.Block, 0, batch)
	flush := func() error {
		for len(buf) > 0 {
			n, err := c.InsertChain(buf)
			st.Inserted += uint64(n)
			if err == nil {
				break
			}
			if errors.Is(err, chain.ErrKnownBlock) {
				// Inserted meanwhile (by gossip): go on after it.
				st.Skipped++
				buf = buf[n+1:]
				continue
			}
			b := buf[n]
			return fmt.Errorf("rangesync: import block %d %s: %w", b.NumberU64(), b.Hash(), err)
		}
		buf = buf[:0]
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		b, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return st, err
		}
		st.Read++
		if _, err := c.HeaderByHash(b.Hash()); err == nil {
			st.Skipped++
			continue
		}
		buf = append(buf, b)
		if len(buf) == batch {
			if err := flush(); err != nil {
				return st, err
			}
			if time.Since(lastLog) >= 8*time.Second {
				lastLog = time.Now()
				log.Info("importing blocks", "number", b.NumberU64(), "inserted", st.Inserted, "skipped", st.Skipped,
					"blocks_s", fmt.Sprintf("%.0f", float64(st.Inserted)/time.Since(start).Seconds()))
			}
		}
	}
	if err := flush(); err != nil {
		return st, err
	}
	st.Took = time.Since(start)
	return st, nil
}

// ImportFile imports the block file path (gunzipped when it ends in
// ".gz") into c, as Import does.
func ImportFile(ctx context.Context, c Chain, path string, batch int, log *slog.Logger) (ImportStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return ImportStats{}, fmt.Errorf("rangesync: import: %w", err)
	}
	defer f.Close()
	r, err := NewReader(f, isGzip(path))
	if err != nil {
		return ImportStats{}, fmt.Errorf("rangesync: import %s: %w", path, err)
	}
	defer r.Close()
	return Import(ctx, c, r, batch, log)
}
