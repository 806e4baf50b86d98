package addrindex

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/pebblelog"
)

// Version is the format of the database. An index of an older format or
// of another chain is emptied and rebuilt; a newer one is refused.
// Version 2 added the transaction records and the block time; version 3
// copies the transaction record into each of its entries, so a page of
// history is one iteration with no point read per row.
const Version = 3

// Flags say how an address takes part in a transaction (one byte per
// entry, OR-ed when it takes part several ways).
const (
	FlagFrom      = 1 << iota // sender (a system transaction's From too)
	FlagTo                    // recipient, or the contract the transaction created
	FlagTokenOut              // sent tokens (a Transfer log's from)
	FlagTokenIn               // received tokens (a Transfer log's to)
	FlagTokenEmit             // the token contract that logged a Transfer

	flagsKnown = FlagFrom | FlagTo | FlagTokenOut | FlagTokenIn | FlagTokenEmit
)

// transferTopic is keccak256("Transfer(address,address,uint256)"), the
// event of ERC-20 and ERC-721 transfers.
var transferTopic = common.HexToHash("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")

var (
	keyMeta = []byte{'m'}
	keyTip  = []byte{'t'}
)

const (
	pfxHash  = 'h'
	pfxUndo  = 'b'
	pfxEntry = 'a'
	pfxTx    = 'x'
)

// Errors.
var (
	// ErrVersion: the database was written by a newer format.
	ErrVersion = errors.New("addrindex: database has a newer format")
	// ErrCorrupt: the database contradicts itself or the chain.
	ErrCorrupt = errors.New("addrindex: corrupt")
	// errGap: a delivered block does not follow the indexed branch (a
	// reorg raced the start of a subscription); Run subscribes again.
	errGap = errors.New("addrindex: block does not follow the indexed branch")
)

// Chain is what the index asks of the L2 chain; *chain.Chain implements
// it.
//
// Concurrency: called from Run's goroutine while blocks are inserted.
type Chain interface {
	Genesis() *types.Header
	HeaderByNumber(number uint64) (*types.Header, error)
	HeaderByHash(hash common.Hash) (*types.Header, error)
	BlockByHash(hash common.Hash) (*chain.Block, error)
	Receipts(blockHash common.Hash) (types.Receipts, error)
	// Recent returns a newest block as executed (senders cached).
	Recent(hash common.Hash) (*chain.Block, types.Receipts, bool)
	// Subscribe delivers canonical headers from number from, in order;
	// after a reorg from the fork point's child.
	Subscribe(ctx context.Context, from uint64) <-chan *types.Header
	Processor() *chain.Processor
}

var _ Chain = (*chain.Chain)(nil)

// Config configures an Index. It is not modified after New.
type Config struct {
	// Dir is the database directory ("" keeps it in memory: tests).
	Dir   string
	Chain Chain
	// Logger defaults to slog.Default() with subsystem=addrindex.
	Logger *slog.Logger
}

// Tip is the newest indexed block.
type Tip struct {
	Number uint64
	Hash   common.Hash
}

// Index is the address index. Queries are safe from any goroutine,
// concurrently with Run.
type Index struct {
	cfg   Config
	log   *slog.Logger
	db    *pebble.DB
	chain Chain

	closeOnce sync.Once

	mu    sync.Mutex
	tip   Tip
	tipCh chan struct{} // closed and replaced when the tip moves
}

// New opens the index database, checking its format and chain.
func New(cfg Config) (*Index, error) {
	if cfg.Chain == nil {
		return nil, errors.New("addrindex: Config needs Chain")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default().With("subsystem", "addrindex")
	}
	opts := pebbleOptions(cfg.Logger)
	dir := cfg.Dir
	if dir == "" {
		opts.FS = vfs.NewMem()
		dir = "addrindex"
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("addrindex: open %s: %w", cfg.Dir, err)
	}
	ix := &Index{cfg: cfg, log: cfg.Logger, db: db, chain: cfg.Chain, tipCh: make(chan struct{})}
	if err := ix.open(); err != nil {
		db.Close()
		return nil, err
	}
	return ix, nil
}

// cacheSize is the index's block cache: a history page's point reads
// (a block record and a transaction record per row, scattered over the
// whole history) otherwise read sstable index blocks from disk again
// and again under pebble's default 8 MiB.
const cacheSize = 64 << 20

// l0CompactionThreshold sets how often the index rewrites its tables.
// Its entries are keyed by address, so every memtable flush is an L0
// sublevel spanning the key space, and pebble compacts L0 into Lbase
// (all of it, every time) once L0 has L0CompactionThreshold/2
// sublevels. With pebble's default of 4, an import of 10 blocks of 5,000
// ERC-20 transfers (22 MB of index writes; each block's batch, over half
// a memtable, is flushed on its own) ran 9 flushes and 6 compactions
// rewriting 43 MB, as much compaction work as the chain's whole
// database. With 32, Lbase is rewritten once per 16 flushes, and a page
// of history merges at most 16 more sublevels (a few microseconds).
// A 16 MiB memtable was tried too: the blocks' batches then went through
// the memtable's skiplist (0.17-0.21 s of CPU samples an import) instead
// of being flushed whole, for no fewer bytes flushed.
const l0CompactionThreshold = 32

// pebbleOptions: a block cache, bloom filters (a point read skips the
// levels that lack its key) and no compression (hashes and addresses
// barely compress, and snappy would cost CPU on every read), as the
// Bitcoin index does, and the L0 settings above.
func pebbleOptions(log *slog.Logger) *pebble.Options {
	o := &pebble.Options{
		Logger:                pebblelog.Logger{Log: log},
		CacheSize:             cacheSize,
		L0CompactionThreshold: l0CompactionThreshold,
		L0StopWritesThreshold: 4 * l0CompactionThreshold,
	}
	for i := range o.Levels {
		o.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
		o.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		o.Levels[i].FilterType = pebble.TableFilter
	}
	return o
}

// open checks the meta record (emptying an index of another chain or an
// older format) and loads the tip.
func (ix *Index) open() error {
	gen := ix.chain.Genesis().Hash()
	want := binary.BigEndian.AppendUint32(nil, Version)
	want = append(want, gen[:]...)
	meta, err := ix.get(keyMeta)
	if err != nil {
		return err
	}
	switch {
	case meta == nil:
	case len(meta) != len(want):
		return fmt.Errorf("%w: meta record of %d bytes", ErrCorrupt, len(meta))
	case binary.BigEndian.Uint32(meta) > Version:
		return fmt.Errorf("%w: version %d, this node knows %d", ErrVersion, binary.BigEndian.Uint32(meta), Version)
	case !bytes.Equal(meta, want):
		ix.log.Warn("address index of another chain or an older format: rebuilding it")
		if err := ix.db.DeleteRange([]byte{0}, []byte{0xff}, pebble.Sync); err != nil {
			return fmt.Errorf("addrindex: empty: %w", err)
		}
		meta = nil
	}
	if meta == nil {
		b := ix.db.NewBatch()
		_ = b.Set(keyMeta, want, nil)
		_ = b.Set(keyTip, encodeTip(Tip{0, gen}), nil)
		_ = b.Set(numKey(pfxHash, 0), encodeBlockRecord(gen, ix.chain.Genesis().Time), nil)
		if err := b.Commit(pebble.Sync); err != nil {
			return fmt.Errorf("addrindex: init: %w", err)
		}
	}
	v, err := ix.get(keyTip)
	if err != nil {
		return err
	}
	t, err := decodeTip(v)
	if err != nil {
		return err
	}
	ix.tip = t
	return nil
}

// Close closes the database (once; later calls do nothing). Call it
// after Run returned.
func (ix *Index) Close() error {
	var err error
	ix.closeOnce.Do(func() {
		// Flushed first, so the next open replays no write-ahead log
		// (pebble closes without flushing), and its logs tidied.
		err = pebblelog.Close(ix.db, ix.cfg.Dir)
	})
	return err
}

// Tip returns the newest indexed block.
func (ix *Index) Tip() Tip {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.tip
}

// WaitFor blocks until the index's tip is block hash (or ctx is done).
func (ix *Index) WaitFor(ctx context.Context, hash common.Hash) error {
	for {
		ix.mu.Lock()
		tip, ch := ix.tip, ix.tipCh
		ix.mu.Unlock()
		if tip.Hash == hash {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (ix *Index) setTip(t Tip) {
	ix.mu.Lock()
	ix.tip = t
	close(ix.tipCh)
	ix.tipCh = make(chan struct{})
	ix.mu.Unlock()
}

// Run indexes the chain from the tip on until ctx is done.
func (ix *Index) Run(ctx context.Context) error {
	lastLog := time.Now()
	for ctx.Err() == nil {
		if err := ix.unwindToCanonical(); err != nil {
			return err
		}
		subCtx, cancel := context.WithCancel(ctx)
		sub := ix.chain.Subscribe(subCtx, ix.Tip().Number+1)
		var err error
		for h := range sub {
			if err = ix.apply(h); err != nil {
				break
			}
			if time.Since(lastLog) > 10*time.Second {
				ix.log.Info("address index", "tip", h.Number)
				lastLog = time.Now()
			}
		}
		cancel()
		for range sub { // drain: Subscribe's goroutine ends on cancel
		}
		switch {
		case errors.Is(err, errGap):
			ix.log.Debug("address index resubscribes", "err", err)
		case err != nil:
			return err
		case ctx.Err() == nil:
			// The subscription ended without ctx: the chain closed.
			return nil
		}
	}
	return nil
}

// unwindToCanonical disconnects blocks while the tip is not canonical
// (the chain reorganised while the index was stopped or behind).
func (ix *Index) unwindToCanonical() error {
	for {
		t := ix.Tip()
		h, err := ix.chain.HeaderByNumber(t.Number)
		if err != nil && !errors.Is(err, chain.ErrNotFound) {
			return err
		}
		if err == nil && h.Hash() == t.Hash {
			return nil
		}
		if err := ix.disconnect(t); err != nil {
			return err
		}
	}
}

// apply moves the index to h: it disconnects blocks down to h's parent,
// then connects h.
func (ix *Index) apply(h *types.Header) error {
	n := h.Number.Uint64()
	for {
		t := ix.Tip()
		if t.Hash == h.ParentHash && t.Number+1 == n {
			break
		}
		if t.Number+1 < n {
			return fmt.Errorf("%w: tip %d, block %d", errGap, t.Number, n)
		}
		if err := ix.disconnect(t); err != nil {
			return err
		}
	}
	return ix.connect(h)
}

// connect indexes block h (a child of the tip) in one batch.
func (ix *Index) connect(h *types.Header) error {
	hash := h.Hash()
	b, receipts, ok := ix.chain.Recent(hash)
	if !ok {
		var err error
		if b, err = ix.chain.BlockByHash(hash); err != nil {
			return fmt.Errorf("addrindex: block %d %s: %w", h.Number, hash, err)
		}
		if receipts, err = ix.chain.Receipts(hash); err != nil {
			return fmt.Errorf("addrindex: receipts of block %d %s: %w", h.Number, hash, err)
		}
		signer := types.MakeSigner(ix.chain.Processor().ChainConfig(), h.Number, h.Time)
		chain.RecoverSenders(signer, b.Body.Txs)
	}
	batch, err := ix.blockBatch(b, receipts)
	if err != nil {
		return err
	}
	if err := batch.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("addrindex: write block %d: %w", h.Number, err)
	}
	ix.setTip(Tip{h.Number.Uint64(), hash})
	return nil
}

// entrySet collects a block's entries: per transaction a few addresses
// with their flags.
type entrySet struct {
	n     uint64
	batch *pebble.Batch
	addrs map[common.Address]struct{}
	order []common.Address // distinct addresses in first-seen order
	tx    []txEntry        // the current transaction's
	val   []byte           // an entry's value, reused
}

type txEntry struct {
	addr  common.Address
	flags byte
}

func (s *entrySet) add(a common.Address, f byte) {
	for i := range s.tx {
		if s.tx[i].addr == a {
			s.tx[i].flags |= f
			return
		}
	}
	s.tx = append(s.tx, txEntry{a, f})
}

// flush writes the current transaction's entries, each flags | rec.
func (s *entrySet) flush(index uint32, rec []byte) error {
	for _, e := range s.tx {
		s.val = appendEntry(s.val[:0], e.flags, rec)
		if err := s.batch.Set(entryKey(e.addr, s.n, index), s.val, nil); err != nil {
			return err
		}
		if _, ok := s.addrs[e.addr]; !ok {
			s.addrs[e.addr] = struct{}{}
			s.order = append(s.order, e.addr)
		}
	}
	s.tx = s.tx[:0]
	return nil
}

// blockBatch builds the batch that connects b.
func (ix *Index) blockBatch(b *chain.Block, receipts types.Receipts) (*pebble.Batch, error) {
	n := b.NumberU64()
	if len(receipts) != b.Body.Len() {
		return nil, fmt.Errorf("%w: block %d has %d transactions and %d receipts", ErrCorrupt, n, b.Body.Len(), len(receipts))
	}
	s := &entrySet{n: n, batch: ix.db.NewBatch(), addrs: make(map[common.Address]struct{})}
	signer := types.MakeSigner(ix.chain.Processor().ChainConfig(), b.Header.Number, b.Header.Time)
	nsys := len(b.Body.SystemTxs)
	var rec []byte
	for i, r := range receipts {
		var t TxInfo
		if i < nsys {
			stx := b.Body.SystemTxs[i]
			t = TxInfo{Hash: stx.Hash(), System: true, From: stx.From, To: stx.To, Value: stx.Value}
		} else {
			tx := b.Body.Txs[i-nsys]
			from, err := types.Sender(signer, tx)
			if err != nil {
				return nil, fmt.Errorf("%w: block %d tx %d: sender: %v", ErrCorrupt, n, i, err)
			}
			t = TxInfo{Hash: tx.Hash(), From: from, To: tx.To(), Value: tx.Value()}
		}
		t.Success = r.Status == types.ReceiptStatusSuccessful
		s.add(t.From, FlagFrom)
		if t.To != nil {
			s.add(*t.To, FlagTo)
		}
		rec = appendTxRecord(rec[:0], &t)
		if err := s.batch.Set(txKey(n, uint32(i)), rec, nil); err != nil {
			return nil, err
		}
		if r.ContractAddress != (common.Address{}) {
			s.add(r.ContractAddress, FlagTo)
		}
		for _, l := range r.Logs {
			if len(l.Topics) < 3 || l.Topics[0] != transferTopic {
				continue
			}
			s.add(l.Address, FlagTokenEmit)
			if from := common.BytesToAddress(l.Topics[1][12:]); from != (common.Address{}) {
				s.add(from, FlagTokenOut)
			}
			if to := common.BytesToAddress(l.Topics[2][12:]); to != (common.Address{}) {
				s.add(to, FlagTokenIn)
			}
		}
		if err := s.flush(uint32(i), rec); err != nil {
			return nil, err
		}
	}
	undo := make([]byte, 0, len(s.order)*common.AddressLength)
	for _, a := range s.order {
		undo = append(undo, a[:]...)
	}
	hash := b.Hash()
	_ = s.batch.Set(numKey(pfxUndo, n), undo, nil)
	_ = s.batch.Set(numKey(pfxHash, n), encodeBlockRecord(hash, b.Header.Time), nil)
	_ = s.batch.Set(keyTip, encodeTip(Tip{n, hash}), nil)
	return s.batch, nil
}

// disconnect removes the tip block t in one batch; the tip becomes its
// parent.
func (ix *Index) disconnect(t Tip) error {
	if t.Number == 0 {
		return fmt.Errorf("%w: the indexed genesis %s is not the chain's", ErrCorrupt, t.Hash)
	}
	h, err := ix.chain.HeaderByHash(t.Hash)
	if err != nil {
		return fmt.Errorf("addrindex: indexed block %d %s: %w", t.Number, t.Hash, err)
	}
	undo, err := ix.get(numKey(pfxUndo, t.Number))
	if err != nil {
		return err
	}
	if len(undo)%common.AddressLength != 0 {
		return fmt.Errorf("%w: undo record of block %d has %d bytes", ErrCorrupt, t.Number, len(undo))
	}
	b := ix.db.NewBatch()
	for i := 0; i < len(undo); i += common.AddressLength {
		a := common.BytesToAddress(undo[i : i+common.AddressLength])
		_ = b.DeleteRange(entryKey(a, t.Number, 0), entryKey(a, t.Number+1, 0), nil)
	}
	_ = b.DeleteRange(txKey(t.Number, 0), txKey(t.Number+1, 0), nil)
	_ = b.Delete(numKey(pfxUndo, t.Number), nil)
	_ = b.Delete(numKey(pfxHash, t.Number), nil)
	parent := Tip{t.Number - 1, h.ParentHash}
	_ = b.Set(keyTip, encodeTip(parent), nil)
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("addrindex: unwind block %d: %w", t.Number, err)
	}
	ix.log.Info("address index unwound a block", "number", t.Number, "hash", t.Hash)
	ix.setTip(parent)
	return nil
}

func (ix *Index) get(key []byte) ([]byte, error) {
	v, closer, err := ix.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("addrindex: read: %w", err)
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

func numKey(pfx byte, n uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{pfx}, n)
}

func entryKey(a common.Address, n uint64, index uint32) []byte {
	k := make([]byte, 0, 1+common.AddressLength+8+4)
	k = append(k, pfxEntry)
	k = append(k, a[:]...)
	k = binary.BigEndian.AppendUint64(k, n)
	return binary.BigEndian.AppendUint32(k, index)
}

// txKey is the key of the record of transaction index of block n.
func txKey(n uint64, index uint32) []byte {
	k := make([]byte, 0, 1+8+4)
	k = append(k, pfxTx)
	k = binary.BigEndian.AppendUint64(k, n)
	return binary.BigEndian.AppendUint32(k, index)
}

func encodeTip(t Tip) []byte {
	return append(binary.BigEndian.AppendUint64(nil, t.Number), t.Hash[:]...)
}

func decodeTip(v []byte) (Tip, error) {
	if len(v) != 8+common.HashLength {
		return Tip{}, fmt.Errorf("%w: tip record of %d bytes", ErrCorrupt, len(v))
	}
	return Tip{binary.BigEndian.Uint64(v), common.BytesToHash(v[8:])}, nil
}
