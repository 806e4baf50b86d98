package bench

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/txgen"
)

// Chain file layout (integers little-endian):
//
//	header  (32): magic "HEMIBCH\x00" | format u32 | net u32 | blocks u32 | reserved u32 (0) | txs u64
//	blocks      : raw blocks (witness serialization) of heights 1..blocks, back to back
//	index       : per block (48): offset u64 | length u32 | txs u32 | hash [32]
//	trailer (16): index offset u64 | magic "HEMIEND\x00"
//
// The genesis block is not stored; it comes from the chain parameters.
const (
	chainFormat      = 1
	fileHeaderSize   = 32
	indexEntrySize   = 48
	fileTrailerSize  = 16
	blockHeaderSize  = 80
	minBlockSize     = blockHeaderSize + 1 + 60 // header, tx count, smallest coinbase
	maxBlocksPerFile = 10_000_000
)

var (
	fileMagic    = [8]byte{'H', 'E', 'M', 'I', 'B', 'C', 'H', 0}
	trailerMagic = [8]byte{'H', 'E', 'M', 'I', 'E', 'N', 'D', 0}
)

// ErrChainFile wraps every reason a chain file is rejected.
var ErrChainFile = errors.New("bench: invalid chain file")

// ChainFile is a decoded chain file: blocks of heights 1..Blocks() on top of
// a known genesis block, held in one byte slice. It is immutable and safe
// for concurrent use.
type ChainFile struct {
	data    []byte
	net     wire.BitcoinNet
	txs     uint64
	entries []indexEntry
}

type indexEntry struct {
	offset uint64
	length uint32
	txs    uint32
	hash   chainhash.Hash
}

// Blocks is the number of stored blocks (the tip height).
func (c *ChainFile) Blocks() int32 { return int32(len(c.entries)) }

// Txs is the number of transactions in stored blocks, coinbases included.
func (c *ChainFile) Txs() uint64 { return c.txs }

// Net is the network magic the chain was built for.
func (c *ChainFile) Net() wire.BitcoinNet { return c.net }

// Hash returns the hash of the block at height (1..Blocks).
func (c *ChainFile) Hash(height int32) (chainhash.Hash, bool) {
	if height < 1 || int(height) > len(c.entries) {
		return chainhash.Hash{}, false
	}
	return c.entries[height-1].hash, true
}

// TxCount returns the transaction count of the block at height.
func (c *ChainFile) TxCount(height int32) (uint32, bool) {
	if height < 1 || int(height) > len(c.entries) {
		return 0, false
	}
	return c.entries[height-1].txs, true
}

// Raw returns the serialized block at height (1..Blocks). The slice aliases
// the file's memory and must not be modified.
func (c *ChainFile) Raw(height int32) ([]byte, bool) {
	if height < 1 || int(height) > len(c.entries) {
		return nil, false
	}
	e := c.entries[height-1]
	return c.data[e.offset : e.offset+uint64(e.length) : e.offset+uint64(e.length)], true
}

// DecodeChainFile validates data as a chain file whose first block's parent
// is genesis on the network net, and returns it. It checks the magics and
// format, that the index exactly tiles the block area, every length and
// count bound, that each entry's hash is the double SHA-256 of its 80-byte
// header, that each header links to the previous block, that each block's
// transaction count matches its entry and that the counts sum to the
// header's total. It does not decode transactions (see ChainFile.Verify).
// data is retained, not copied.
func DecodeChainFile(data []byte, net wire.BitcoinNet, genesis chainhash.Hash) (*ChainFile, error) {
	if len(data) < fileHeaderSize+fileTrailerSize {
		return nil, fmt.Errorf("%w: %d bytes is shorter than header and trailer", ErrChainFile, len(data))
	}
	if !bytes.Equal(data[:8], fileMagic[:]) {
		return nil, fmt.Errorf("%w: bad magic", ErrChainFile)
	}
	if v := binary.LittleEndian.Uint32(data[8:12]); v != chainFormat {
		return nil, fmt.Errorf("%w: format %d, this build reads %d", ErrChainFile, v, chainFormat)
	}
	fnet := wire.BitcoinNet(binary.LittleEndian.Uint32(data[12:16]))
	if fnet != net {
		return nil, fmt.Errorf("%w: built for network %v, want %v", ErrChainFile, fnet, net)
	}
	n := uint64(binary.LittleEndian.Uint32(data[16:20]))
	if r := binary.LittleEndian.Uint32(data[20:24]); r != 0 {
		return nil, fmt.Errorf("%w: reserved header field is %d", ErrChainFile, r)
	}
	total := binary.LittleEndian.Uint64(data[24:32])
	trailer := data[len(data)-fileTrailerSize:]
	if !bytes.Equal(trailer[8:], trailerMagic[:]) {
		return nil, fmt.Errorf("%w: bad trailer magic (truncated file?)", ErrChainFile)
	}
	if n == 0 || n > maxBlocksPerFile {
		return nil, fmt.Errorf("%w: %d blocks", ErrChainFile, n)
	}
	indexOff := binary.LittleEndian.Uint64(trailer[:8])
	indexEnd := uint64(len(data) - fileTrailerSize)
	if indexOff < fileHeaderSize || indexOff > indexEnd || indexEnd-indexOff != n*indexEntrySize {
		return nil, fmt.Errorf("%w: index at %d does not hold %d entries before the trailer at %d", ErrChainFile, indexOff, n, indexEnd)
	}
	c := &ChainFile{data: data, net: fnet, entries: make([]indexEntry, n)}
	next := uint64(fileHeaderSize)
	prev := genesis
	var sum uint64
	for i := range c.entries {
		b := data[indexOff+uint64(i)*indexEntrySize:][:indexEntrySize]
		e := indexEntry{
			offset: binary.LittleEndian.Uint64(b[0:8]),
			length: binary.LittleEndian.Uint32(b[8:12]),
			txs:    binary.LittleEndian.Uint32(b[12:16]),
		}
		copy(e.hash[:], b[16:48])
		h := i + 1
		if e.offset != next {
			return nil, fmt.Errorf("%w: block %d at offset %d, want %d", ErrChainFile, h, e.offset, next)
		}
		if e.length < minBlockSize || e.length > wire.MaxBlockPayload || uint64(e.length) > indexOff-e.offset {
			return nil, fmt.Errorf("%w: block %d has length %d", ErrChainFile, h, e.length)
		}
		if e.txs == 0 || uint64(e.txs) > uint64(e.length)/60 {
			return nil, fmt.Errorf("%w: block %d claims %d txs in %d bytes", ErrChainFile, h, e.txs, e.length)
		}
		raw := data[e.offset : e.offset+uint64(e.length)]
		if got := chainhash.DoubleHashH(raw[:blockHeaderSize]); got != e.hash {
			return nil, fmt.Errorf("%w: block %d hashes to %v, index says %v", ErrChainFile, h, got, e.hash)
		}
		if !bytes.Equal(raw[4:36], prev[:]) {
			return nil, fmt.Errorf("%w: block %d does not link to block %d", ErrChainFile, h, h-1)
		}
		cnt, err := wire.ReadVarInt(bytes.NewReader(raw[blockHeaderSize:]), 0)
		if err != nil || cnt != uint64(e.txs) {
			return nil, fmt.Errorf("%w: block %d tx count %d (%v), index says %d", ErrChainFile, h, cnt, err, e.txs)
		}
		sum += uint64(e.txs)
		next = e.offset + uint64(e.length)
		prev = e.hash
		c.entries[i] = e
	}
	if next != indexOff {
		return nil, fmt.Errorf("%w: blocks end at %d, index starts at %d", ErrChainFile, next, indexOff)
	}
	if sum != total {
		return nil, fmt.Errorf("%w: blocks hold %d txs, header says %d", ErrChainFile, sum, total)
	}
	c.txs = total
	return c, nil
}

// Verify decodes every block and checks that it uses exactly its stored
// bytes and matches its merkle root and witness commitment.
func (c *ChainFile) Verify() error {
	for h := int32(1); h <= c.Blocks(); h++ {
		raw, _ := c.Raw(h)
		var b wire.MsgBlock
		r := bytes.NewReader(raw)
		if err := b.Deserialize(r); err != nil {
			return fmt.Errorf("%w: block %d: %w", ErrChainFile, h, err)
		}
		if r.Len() != 0 {
			return fmt.Errorf("%w: block %d has %d trailing bytes", ErrChainFile, h, r.Len())
		}
		if err := checkMerkle(&b); err != nil {
			return fmt.Errorf("%w: block %d: %w", ErrChainFile, h, err)
		}
	}
	return nil
}

// ChainWriter writes a chain file block by block to a temporary file and
// moves it into place on Close, so a crash never leaves a partial file
// under the final name.
type ChainWriter struct {
	f       *os.File
	w       *bufio.Writer
	path    string
	net     wire.BitcoinNet
	off     uint64
	txs     uint64
	entries []indexEntry
	buf     bytes.Buffer
	prev    chainhash.Hash
}

// NewChainWriter creates the temporary file next to path.
func NewChainWriter(path string, net wire.BitcoinNet, genesis chainhash.Hash) (*ChainWriter, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("bench: cache dir: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("bench: create chain file: %w", err)
	}
	cw := &ChainWriter{f: f, w: bufio.NewWriterSize(f, 1<<20), path: path, net: net, off: fileHeaderSize, prev: genesis}
	if _, err := cw.w.Write(make([]byte, fileHeaderSize)); err != nil {
		cw.Abort()
		return nil, fmt.Errorf("bench: write chain file: %w", err)
	}
	return cw, nil
}

// Add appends the next block.
func (cw *ChainWriter) Add(b *wire.MsgBlock) error {
	if b.Header.PrevBlock != cw.prev {
		return fmt.Errorf("bench: block %d does not extend the written chain", len(cw.entries)+1)
	}
	cw.buf.Reset()
	if err := b.Serialize(&cw.buf); err != nil {
		return fmt.Errorf("bench: serialize block: %w", err)
	}
	e := indexEntry{offset: cw.off, length: uint32(cw.buf.Len()), txs: uint32(len(b.Transactions)), hash: b.Header.BlockHash()}
	if _, err := cw.w.Write(cw.buf.Bytes()); err != nil {
		return fmt.Errorf("bench: write chain file: %w", err)
	}
	cw.off += uint64(e.length)
	cw.txs += uint64(e.txs)
	cw.entries = append(cw.entries, e)
	cw.prev = e.hash
	return nil
}

// Close writes the index, trailer and header, syncs and renames the file
// into place.
func (cw *ChainWriter) Close() error {
	if err := cw.finish(); err != nil {
		cw.Abort()
		return err
	}
	return nil
}

func (cw *ChainWriter) finish() error {
	if len(cw.entries) == 0 {
		return fmt.Errorf("bench: chain file has no blocks")
	}
	indexOff := cw.off
	var e [indexEntrySize]byte
	for _, x := range cw.entries {
		binary.LittleEndian.PutUint64(e[0:8], x.offset)
		binary.LittleEndian.PutUint32(e[8:12], x.length)
		binary.LittleEndian.PutUint32(e[12:16], x.txs)
		copy(e[16:], x.hash[:])
		if _, err := cw.w.Write(e[:]); err != nil {
			return fmt.Errorf("bench: write index: %w", err)
		}
	}
	var t [fileTrailerSize]byte
	binary.LittleEndian.PutUint64(t[:8], indexOff)
	copy(t[8:], trailerMagic[:])
	if _, err := cw.w.Write(t[:]); err != nil {
		return fmt.Errorf("bench: write trailer: %w", err)
	}
	if err := cw.w.Flush(); err != nil {
		return fmt.Errorf("bench: write chain file: %w", err)
	}
	var hdr [fileHeaderSize]byte
	copy(hdr[:8], fileMagic[:])
	binary.LittleEndian.PutUint32(hdr[8:12], chainFormat)
	binary.LittleEndian.PutUint32(hdr[12:16], uint32(cw.net))
	binary.LittleEndian.PutUint32(hdr[16:20], uint32(len(cw.entries)))
	binary.LittleEndian.PutUint64(hdr[24:32], cw.txs)
	if _, err := cw.f.WriteAt(hdr[:], 0); err != nil {
		return fmt.Errorf("bench: write header: %w", err)
	}
	if err := cw.f.Chmod(0o644); err != nil {
		return fmt.Errorf("bench: chmod chain file: %w", err)
	}
	if err := cw.f.Sync(); err != nil {
		return fmt.Errorf("bench: sync chain file: %w", err)
	}
	if err := cw.f.Close(); err != nil {
		return fmt.Errorf("bench: close chain file: %w", err)
	}
	if err := os.Rename(cw.f.Name(), cw.path); err != nil {
		return fmt.Errorf("bench: move chain file into place: %w", err)
	}
	return nil
}

// Abort removes the temporary file.
func (cw *ChainWriter) Abort() {
	_ = cw.f.Close()
	_ = os.Remove(cw.f.Name())
}

func checkMerkle(b *wire.MsgBlock) error {
	if len(b.Transactions) == 0 {
		return errors.New("no transactions")
	}
	if got := txgen.TxMerkleRoot(b.Transactions); got != b.Header.MerkleRoot {
		return fmt.Errorf("merkle root %v, header says %v", got, b.Header.MerkleRoot)
	}
	if err := blockchain.ValidateWitnessCommitment(btcutil.NewBlock(b)); err != nil {
		return err
	}
	return nil
}
