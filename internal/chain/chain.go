package chain

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/lru"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethdb"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/triedb"
	"github.com/ethereum/go-ethereum/triedb/hashdb"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/chaindb"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/chain/rules"
	"github.com/hemi-go/hemi/internal/clock"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/pop"
)

// Genesis is the chain's first block and state; *genesis.Spec is one.
type Genesis interface {
	// Commit writes the genesis state into tdb, flushed to its disk
	// database, and returns the genesis header. The same genesis gives
	// the same header every time.
	Commit(tdb *triedb.Database) (*types.Header, error)
}

var _ Genesis = (*genesis.Spec)(nil)

// ConfigFromSpec fills the consensus fields of a Config from a genesis
// spec: chain config, genesis, sequencers, gas limit, view lag, Bitcoin
// network. The caller adds Derivers (the chain imports no deriver:
// internal/node installs its list, a test derive.Default), Dir, Bitcoin,
// Clock and Logger.
func ConfigFromSpec(spec *genesis.Spec) (Config, error) {
	if err := spec.Config.Validate(); err != nil {
		return Config{}, err
	}
	btc, err := spec.Config.BitcoinParams()
	if err != nil {
		return Config{}, err
	}
	return Config{
		ChainConfig:      spec.Config.ChainConfig(),
		Genesis:          spec,
		Sequencers:       slices.Clone(spec.Config.Sequencers),
		GasLimit:         spec.Config.GasLimit,
		ViewLag:          spec.Config.ViewLag,
		BitcoinParams:    btc,
		KeystoneInterval: spec.Config.KeystoneInterval,
		PoP:              spec.Config.PoP,
	}, nil
}

// Config configures a Chain. It is not modified after New.
type Config struct {
	// Dir is the pebble database directory ("" keeps everything in
	// memory, for tests).
	Dir string
	// CacheMB is pebble's cache size (default 256).
	CacheMB int
	// TrieCacheMB is the clean trie node cache of the state database
	// (default 256): hashdb has no flat state, so every account read
	// walks trie nodes, and this cache keeps the hot ones.
	TrieCacheMB int
	// NoSync skips the fsync after each block. A process crash still
	// loses nothing (pebble's WAL is in the OS); a machine crash may lose
	// the newest blocks, never tear one. For benchmarks and tests.
	NoSync bool
	// FlushAfter, when > 0, flushes the trie nodes of a block that
	// extends the head this long after the block became the head (with
	// those of the blocks that came meanwhile, in order) instead of
	// before its batch: a node that only follows the chain (no key)
	// takes the flush, about a quarter of an insertion's CPU, out of the
	// moment every node of the network inserts the same block. The
	// state is served from memory until then. A kill -9 in between
	// leaves the head without its state on disk; the next open
	// re-executes the stored blocks above the newest one with state
	// (lazyflush.go; Invariant 1). Side blocks and reorgs flush at once.
	FlushAfter time.Duration

	ChainConfig *params.ChainConfig
	Genesis     Genesis
	// Sequencers are the addresses whose keys may seal blocks.
	Sequencers []common.Address
	// GasLimit is every block's gas limit (0: any limit within EIP-1559's
	// bounded drift from the parent's).
	GasLimit uint64
	// ViewLag is how many blocks the Bitcoin view lags the Bitcoin tip at
	// least (DESIGN 3.4, default 2 is the genesis config's business).
	ViewLag uint32
	// KeystoneInterval is the keystone spacing (DESIGN 4; 0 turns
	// keystones off).
	KeystoneInterval uint64
	// PoP holds the PoP reward schedule (genesis.PoPConfig).
	PoP genesis.PoPConfig
	// Derivers derive every block's system transactions, in order
	// (DESIGN 3.3; the assembly installs them, internal/chain/derive has
	// today's). The first must be the view update's (a
	// rules.ViewUpdater, derive.ViewUpdate).
	Derivers []Deriver
	// MaxFuture is how far ahead of Clock a block's timestamp may be
	// (default 15 s).
	MaxFuture time.Duration

	// BitcoinParams is the Bitcoin network (hVM address decoding).
	BitcoinParams *chaincfg.Params
	// Bitcoin answers the view rules and gives execution views.
	Bitcoin Bitcoin
	// ForkChoice decides between competing L2 branches (DESIGN 4). nil:
	// the incumbent always wins, so a block that does not extend the
	// canonical chain is stored on its side branch and never becomes
	// canonical (until SetForkChoice installs one and Reconsider runs).
	ForkChoice ForkChoice
	// SenderCache, when set, holds transaction senders this node
	// recovered before the transactions reached a block (netp2p's
	// pending-transaction feed fills it): Prepare and the insertion
	// take senders from it instead of recovering them (SenderCache's
	// doc says why consensus cannot change). nil: none.
	SenderCache *SenderCache
	// MaxReorgDepth is the most canonical blocks a reorg may remove,
	// whatever ForkChoice says (default DefaultMaxReorgDepth); a side
	// branch forking deeper is stored but never considered.
	MaxReorgDepth uint64
	// Clock defaults to clock.System (the wall clock); the header rule reads only Now.
	Clock clock.Clock
	// Logger defaults to slog.Default() with subsystem=chain.
	Logger *slog.Logger
}

// Chain is the L2 chain: blocks, state, receipts, the canonical index and
// side branches. It accepts blocks on any stored block (InsertBlock)
// after re-executing them, follows the branch ForkChoice prefers, and
// builds blocks for the sequencer (BuildBlock). Safe for concurrent use:
// one block is inserted at a time; queries run concurrently with an
// insertion and see the head before or after it.
type Chain struct {
	cfg   Config
	rules Rules
	proc  *Processor
	log   *slog.Logger

	kv    ethdb.KeyValueStore
	db    ethdb.Database
	tdb   *triedb.Database
	sdb   state.Database
	gen   *types.Header
	clock clock.Clock

	mu     sync.Mutex // one writer
	closed atomic.Bool
	fc     ForkChoice // guarded by mu

	headMu    sync.RWMutex
	head      *types.Header
	headCh    chan struct{} // closed and replaced on every new head
	reorgs    []Reorg       // the newest reorgs, for SubscribeReorgs
	reorgBase uint64        // sequence number of reorgs[0]

	lazy lazyFlush // head blocks whose trie nodes wait for FlushAfter; guarded by mu
	// reexecuted is how many blocks open executed again to restore the
	// head's state (reexecuteToHead).
	reexecuted int
	recent     recent     // the newest stored blocks, for Recent
	prep       prepareSet // blocks Prepare works on ahead of their insertion
	// keystones remembers keystones by their block's hash (keystoneFor).
	keystones *lru.Cache[common.Hash, pop.L2Keystone]
}

// New opens (or creates) the chain database in cfg.Dir, writing the
// genesis block on first use, and restarts at the last committed block.
func New(cfg Config) (*Chain, error) {
	if cfg.ChainConfig == nil || cfg.Genesis == nil || cfg.Bitcoin == nil || cfg.BitcoinParams == nil {
		return nil, errors.New("chain: Config needs ChainConfig, Genesis, Bitcoin and BitcoinParams")
	}
	if len(cfg.Derivers) == 0 {
		return nil, errors.New("chain: Config.Derivers is empty: every block starts with its view update (derive.ViewUpdate; derive.Default)")
	}
	if _, ok := cfg.Derivers[0].(rules.ViewUpdater); !ok {
		return nil, fmt.Errorf("chain: Config.Derivers[0] is %T: the view update comes first (DESIGN 3.3)", cfg.Derivers[0])
	}
	if cfg.CacheMB <= 0 {
		cfg.CacheMB = 256
	}
	if cfg.TrieCacheMB <= 0 {
		cfg.TrieCacheMB = 256
	}
	if cfg.MaxReorgDepth == 0 {
		cfg.MaxReorgDepth = DefaultMaxReorgDepth
	}
	if cfg.MaxFuture <= 0 {
		cfg.MaxFuture = 15 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default().With("subsystem", "chain")
	}
	start := time.Now()
	var kv ethdb.KeyValueStore
	if cfg.Dir == "" {
		kv = rawdb.NewMemoryDatabase()
	} else {
		p, err := chaindb.Open(chaindb.Options{Dir: cfg.Dir, CacheMB: cfg.CacheMB, Handles: 256, Logger: cfg.Logger})
		if err != nil {
			return nil, fmt.Errorf("chain: open %s: %w", cfg.Dir, err)
		}
		kv = p
	}
	db := rawdb.NewDatabase(kv)
	tdb := triedb.NewDatabase(db, &triedb.Config{HashDB: &hashdb.Config{CleanCacheSize: cfg.TrieCacheMB << 20}})
	c := &Chain{
		keystones: lru.NewCache[common.Hash, pop.L2Keystone](keystoneCacheSize),
		cfg:       cfg,
		rules:     Rules{rules.Rules{Config: cfg.ChainConfig, Sequencers: cfg.Sequencers, GasLimit: cfg.GasLimit, ViewLag: cfg.ViewLag, MaxFuture: cfg.MaxFuture}},
		proc:      NewProcessor(cfg.ChainConfig, cfg.BitcoinParams),
		log:       cfg.Logger,
		kv:        kv,
		db:        db,
		tdb:       tdb,
		sdb:       state.NewDatabase(tdb, state.NewCodeDB(db)),
		clock:     cfg.Clock,
		fc:        cfg.ForkChoice,
		headCh:    make(chan struct{}),
	}
	if err := c.open(start); err != nil {
		tdb.Close()
		db.Close()
		return nil, err
	}
	return c, nil
}

// open writes the genesis block on an empty database, checks it on a used
// one, and loads the head; it logs how long the open took since start
// (a restart's cost is mostly here and in the Bitcoin index's open).
func (c *Chain) open(start time.Time) error {
	stored := rawdb.ReadCanonicalHash(c.db, 0)
	if stored == (common.Hash{}) {
		// The genesis state is flushed first, then the block: a crash in
		// between leaves no canonical genesis, and the next open writes
		// it again (state writes are idempotent).
		gen, err := c.cfg.Genesis.Commit(c.tdb)
		if err != nil {
			return fmt.Errorf("chain: genesis: %w", err)
		}
		if gen.Number == nil || gen.Number.Sign() != 0 {
			return fmt.Errorf("chain: genesis header number %v, want 0", gen.Number)
		}
		g := &Block{Header: gen, Body: &block.Body{}}
		batch := c.db.NewBatch()
		if err := writeBlock(batch, g, nil); err != nil {
			return err
		}
		if err := writeCanonicalHead(batch, g); err != nil {
			return err
		}
		if err := c.writeBatch(batch, 0); err != nil {
			return err
		}
		c.gen = gen
	} else {
		mem := rawdb.NewMemoryDatabase()
		tdb := triedb.NewDatabase(mem, triedb.HashDefaults)
		gen, err := c.cfg.Genesis.Commit(tdb)
		tdb.Close()
		if err != nil {
			return fmt.Errorf("chain: genesis: %w", err)
		}
		if stored != gen.Hash() {
			return fmt.Errorf("%w: stored %s, configured %s", ErrGenesisMismatch, stored, gen.Hash())
		}
		c.gen = gen
	}
	headHash := rawdb.ReadHeadBlockHash(c.db)
	head, err := readHeader(c.db, headHash)
	if err != nil {
		return fmt.Errorf("chain: head %s: %w: %w", headHash, ErrCorrupt, err)
	}
	if rawdb.ReadCanonicalHash(c.db, head.Number.Uint64()) != headHash {
		return fmt.Errorf("chain: head %s is not canonical: %w", headHash, ErrCorrupt)
	}
	if _, err := state.New(head.Root, c.sdb); err != nil {
		// A node that flushed lazily (FlushAfter) was killed before the
		// head's trie nodes reached the disk: the blocks are stored, so
		// their state is computed again.
		if rerr := c.reexecuteToHead(head); rerr != nil {
			return fmt.Errorf("chain: state %s of head %d: %w: %w (re-executing the blocks without state: %w)", head.Root, head.Number, ErrCorrupt, err, rerr)
		}
	}
	c.head = head
	c.log.Info("chain opened", "head", head.Number, "hash", headHash, "root", head.Root, "took", time.Since(start).Round(time.Microsecond))
	return nil
}

// writeBatch writes batch (about block number) and syncs (unless
// NoSync).
func (c *Chain) writeBatch(batch ethdb.Batch, number uint64) error {
	if err := batch.Write(); err != nil {
		return fmt.Errorf("chain: write block %d: %w", number, err)
	}
	if !c.cfg.NoSync {
		if err := c.db.SyncKeyValue(); err != nil {
			return fmt.Errorf("chain: sync block %d: %w", number, err)
		}
	}
	return nil
}

// Close closes the database, its write-ahead log flushed into tables
// (chaindb's Close), so the next open starts at once. Subscriptions end.
func (c *Chain) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Swap(true) {
		return nil
	}
	c.stopPrepared()
	c.headMu.Lock()
	close(c.headCh)
	c.headMu.Unlock()
	ferr := c.flushLazy()
	c.lazy.stop()
	return errors.Join(ferr, c.tdb.Close(), c.db.Close())
}

// Config returns the chain's configuration.
func (c *Chain) Config() *Config { return &c.cfg }

// Rules returns the consensus rules the chain validates with.
func (c *Chain) Rules() *Rules { return &c.rules }

// Processor returns the block processor.
func (c *Chain) Processor() *Processor { return c.proc }

// InsertBlock validates b, whose parent may be any stored block, executes
// it on its parent's state, and stores it. A block extending the head
// becomes the new head. Any other block is stored on its side branch,
// and becomes the head (with its branch) only if ForkChoice prefers that
// branch to the canonical one. Errors: a kind wrapping ErrInvalidBlock
// (reject; ErrKnownBlock for a block already stored, canonical or not;
// ErrUnknownParent for a parent never stored), ErrViewNotReady (retry
// later), or a node failure. Nothing is written unless the block is
// valid.
//
// Crash safety: the block's state (trie nodes, code: content-addressed)
// is flushed first; then one batch writes the header, body, system txs,
// receipts and either the canonical entries (tx lookups, canonical
// hashes, head pointers; all of a reorg's rewrites) or its side-tip
// entry. A kill -9 between the two leaves unreferenced nodes and the
// previous head; after the batch, the new head with its state.
func (c *Chain) InsertBlock(b *Block) error {
	if b == nil || b.Header == nil || b.Body == nil {
		return fmt.Errorf("%w: nil block, header or body", ErrBadHeader)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return ErrClosed
	}
	if err := c.lazy.failed(); err != nil {
		return err
	}
	start := time.Now()
	v, err := c.verify(b)
	if err != nil {
		return err
	}
	if c.cfg.FlushAfter > 0 && b.Header.ParentHash == c.headRef().Hash() {
		// The new head: its trie nodes go to disk FlushAfter later.
		if err := c.commitState(b.Header, v.statedb); err != nil {
			return err
		}
		if err := c.store(b, v.res.Receipts); err != nil {
			return err
		}
		c.lazy.add(c, b.Header.Root)
		c.log.Debug("block inserted", "number", b.NumberU64(), "hash", b.Hash(), "txs", b.Body.Len(), "gas", v.res.GasUsed, "took", time.Since(start))
		return nil
	}
	if err := c.flushState(b.Header, v.statedb); err != nil {
		return err
	}
	if err := c.store(b, v.res.Receipts); err != nil {
		return err
	}
	c.log.Debug("block inserted", "number", b.NumberU64(), "hash", b.Hash(), "txs", b.Body.Len(), "gas", v.res.GasUsed, "took", time.Since(start))
	return nil
}

// verified is a block that passed every check, with its executed state.
type verified struct {
	statedb *state.StateDB
	res     *Result
}

// verify runs every check on b against its parent. c.mu is held.
func (c *Chain) verify(b *Block) (*verified, error) {
	h := b.Header
	hash := h.Hash()
	if h.Number != nil && h.Number.IsUint64() && rawdb.HasHeader(c.db, hash, h.Number.Uint64()) {
		return nil, fmt.Errorf("%w: %d %s", ErrKnownBlock, h.Number, hash)
	}
	parent, err := readHeader(c.db, h.ParentHash)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownParent, h.ParentHash)
	}
	extra, err := c.rules.ValidateHeader(parent, h, c.clock.Now())
	if err != nil {
		return nil, err
	}
	if err := b.Body.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadTx, err)
	}
	if root := block.TxRoot(b.Body); root != h.TxHash {
		return nil, fmt.Errorf("%w: %s, header %s", ErrBadTxRoot, root, h.TxHash)
	}
	view, vh, err := c.viewFor(parent, extra)
	if err != nil {
		return nil, err
	}
	want, err := c.deriveSystemTxs(parent, vh)
	if err != nil {
		return nil, err
	}
	if err := equalSystemTxs(want, b.Body.SystemTxs); err != nil {
		return nil, err
	}
	// Work Prepare started for b (senders recovered, accounts read into
	// a cache this state reads) is waited for here, after the checks
	// above, which it overlapped.
	var statedb *state.StateDB
	if p := c.takePrepared(b, hash); p != nil && p.reader != nil && p.root == parent.Root {
		statedb, err = state.NewWithReader(parent.Root, c.sdb, p.reader)
	} else {
		statedb, err = state.New(parent.Root, c.sdb)
	}
	if err != nil {
		return nil, fmt.Errorf("chain: state of parent %d: %w", parent.Number, err)
	}
	c.cachedSenders(b)
	// The prefetcher loads the tries the block touches on other cores while
	// it executes, so the state root at the end finds them warm. Process has
	// computed the root when it returns; the commit needs no prefetching.
	statedb.StartPrefetcher("chain", nil)
	res, err := c.proc.Process(parent, h, hash, statedb, b.Body.SystemTxs, b.Body.Txs, view, c.getHashFn(parent))
	statedb.StopPrefetcher()
	if err != nil {
		return nil, err
	}
	switch {
	case res.GasUsed != h.GasUsed:
		return nil, fmt.Errorf("%w: executed %d, header %d", ErrGasUsed, res.GasUsed, h.GasUsed)
	case res.Bloom != h.Bloom:
		return nil, fmt.Errorf("%w", ErrBloom)
	case res.ReceiptRoot != h.ReceiptHash:
		return nil, fmt.Errorf("%w: executed %s, header %s", ErrReceiptRoot, res.ReceiptRoot, h.ReceiptHash)
	case !rules.EqualPtr(res.RequestsHash, h.RequestsHash):
		return nil, fmt.Errorf("%w: requests hash", ErrBadHeader)
	case res.Root != h.Root:
		return nil, fmt.Errorf("%w: executed %s, header %s", ErrStateRoot, res.Root, h.Root)
	}
	return &verified{statedb: statedb, res: res}, nil
}

// viewFor checks the view rules for a block on parent and pins its view.
func (c *Chain) viewFor(parent *types.Header, extra block.Extra) (hvm.BitcoinView, hvm.Header, error) {
	pe, err := parentView(parent)
	if err != nil {
		return nil, hvm.Header{}, err
	}
	vh, err := c.rules.CheckIndexedView(c.cfg.Bitcoin, pe, extra)
	if err != nil {
		return nil, hvm.Header{}, err
	}
	view, err := c.cfg.Bitcoin.View(extra.BitcoinHash)
	if err != nil {
		return nil, hvm.Header{}, fmt.Errorf("view %s: %w", extra.BitcoinHash, err)
	}
	return view, vh, nil
}

// parentView is the Bitcoin view of parent; nil for a genesis without
// one.
func parentView(parent *types.Header) (*block.Extra, error) {
	e, err := block.DecodeExtra(parent.Extra)
	if err != nil {
		if parent.Number.Sign() == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("chain: stored block %d extra: %w: %w", parent.Number, ErrCorrupt, err)
	}
	return &e, nil
}

// equalSystemTxs compares the derived system transactions with a block's.
func equalSystemTxs(want, got []*block.SystemTx) error {
	if len(want) != len(got) {
		return fmt.Errorf("%w: block has %d, derived %d", ErrBadSystemTxs, len(got), len(want))
	}
	for i := range want {
		if !want[i].Equal(got[i]) {
			return fmt.Errorf("%w: system tx %d is %s, derived %s", ErrBadSystemTxs, i, got[i].Hash(), want[i].Hash())
		}
	}
	return nil
}

// flushState commits a verified block's state and flushes its trie
// nodes to disk, after those of the blocks still waiting for FlushAfter.
// c.mu is held.
func (c *Chain) flushState(h *types.Header, statedb *state.StateDB) error {
	if err := c.commitState(h, statedb); err != nil {
		return err
	}
	if err := c.flushLazy(); err != nil {
		return err
	}
	if err := c.tdb.Commit(h.Root, false); err != nil {
		return fmt.Errorf("chain: flush state of block %d: %w", h.Number, err)
	}
	return nil
}

// commitState commits a verified block's state into the trie database's
// memory (where the next block and queries read it). c.mu is held.
func (c *Chain) commitState(h *types.Header, statedb *state.StateDB) error {
	rules := c.cfg.ChainConfig.Rules(h.Number, true, h.Time)
	root, err := statedb.Commit(rules, h.Number.Uint64())
	if err != nil {
		return fmt.Errorf("chain: commit state of block %d: %w", h.Number, err)
	}
	if root != h.Root {
		// IntermediateRoot said otherwise a moment ago: a broken invariant.
		panic(fmt.Sprintf("chain: committed root %s differs from the executed root %s", root, h.Root))
	}
	return nil
}

// store writes a verified block whose state is flushed, in one batch: as
// the new head when it extends the head; else on its side branch, which
// becomes canonical in the same batch when ForkChoice prefers it. c.mu is
// held.
func (c *Chain) store(b *Block, receipts types.Receipts) (err error) {
	defer func() {
		if err == nil {
			c.recent.add(b, receipts)
		}
	}()
	h := b.Header
	batch := c.db.NewBatch()
	if err := writeBlock(batch, b, receipts); err != nil {
		return err
	}
	if err := c.writeKeystone(batch, b); err != nil {
		return err
	}
	if h.ParentHash == c.headRef().Hash() {
		if err := writeCanonicalHead(batch, b); err != nil {
			return err
		}
		if err := c.writeBatch(batch, b.NumberU64()); err != nil {
			return err
		}
		c.setHead(types.CopyHeader(h))
		return nil
	}
	// A side block: its parent is no longer a tip.
	if err := batch.Delete(hashKey(prefixSideTip, h.ParentHash)); err != nil {
		return err
	}
	plan, err := c.planReorg(h)
	if err != nil {
		return err
	}
	if plan == nil {
		if err := batch.Put(hashKey(prefixSideTip, b.Hash()), numberValue(b.NumberU64())); err != nil {
			return err
		}
		if err := c.writeBatch(batch, b.NumberU64()); err != nil {
			return err
		}
		c.log.Info("side block stored", "number", h.Number, "hash", b.Hash(), "parent", h.ParentHash)
		return nil
	}
	if err := c.writeReorg(batch, plan, b); err != nil {
		return err
	}
	if err := c.writeBatch(batch, b.NumberU64()); err != nil {
		return err
	}
	c.applyReorg(plan)
	return nil
}

func (c *Chain) setHead(h *types.Header) {
	c.headMu.Lock()
	c.head = h
	close(c.headCh)
	c.headCh = make(chan struct{})
	c.headMu.Unlock()
}

// getHashFn answers BLOCKHASH for a block on parent by walking parent
// links (correct on any branch), caching what it read.
func (c *Chain) getHashFn(parent *types.Header) GetHashFunc {
	top := parent.Number.Uint64()
	hashes := []common.Hash{parent.Hash()} // hashes[i] is block top-i
	next := parent.ParentHash
	return func(n uint64) common.Hash {
		if n > top {
			return common.Hash{}
		}
		for idx := top - n; uint64(len(hashes)) <= idx; {
			num := top - uint64(len(hashes))
			h := rawdb.ReadHeader(c.db, next, num)
			if h == nil {
				return common.Hash{}
			}
			hashes = append(hashes, next)
			next = h.ParentHash
		}
		return hashes[top-n]
	}
}
