package chain

import (
	"math/big"
	"runtime"
	"sync/atomic"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/lru"
	"github.com/ethereum/go-ethereum/core/types"
)

// DefaultSenderCacheSize is how many transactions a SenderCache
// remembers: a minute of blocks of 1,000 transactions, about 5 MB.
const DefaultSenderCacheSize = 65536

// SenderCache remembers the senders of transactions this node recovered
// before they reached a block, by transaction hash, so a block's
// insertion finds them instead of recovering each signature inside the
// window between the leader's commit and the import (DESIGN 9; the
// pending-transaction feed of internal/netp2p fills it in the
// background).
//
// It cannot be poisoned: every entry is this node's own recovery (Add
// runs the signer itself), the hash covers the signature and every
// signed field, and an entry is used only by a signer Equal to the one
// that recovered it (a fork that changes the signer, or another chain
// id, misses). So an answer from the cache is exactly what the signer
// would compute, and consensus does not change. Safe for concurrent use.
type SenderCache struct {
	entries *lru.Cache[common.Hash, senderEntry]
	hits    atomic.Uint64
	misses  atomic.Uint64
}

type senderEntry struct {
	signer types.Signer
	from   common.Address
}

// NewSenderCache returns a cache of at most size transactions (the
// least recently used is forgotten first); size <= 0 means
// DefaultSenderCacheSize.
func NewSenderCache(size int) *SenderCache {
	if size <= 0 {
		size = DefaultSenderCacheSize
	}
	return &SenderCache{entries: lru.NewCache[common.Hash, senderEntry](size)}
}

// Add recovers tx's sender with signer and remembers it. A transaction
// whose signature does not recover is not remembered (the block's own
// recovery reports it).
func (c *SenderCache) Add(signer types.Signer, tx *types.Transaction) (common.Address, error) {
	from, err := signer.Sender(tx)
	if err != nil {
		return common.Address{}, err
	}
	c.entries.Add(tx.Hash(), senderEntry{signer: signer, from: from})
	return from, nil
}

// Contains reports whether tx's hash is cached (any signer).
func (c *SenderCache) Contains(hash common.Hash) bool { return c.entries.Contains(hash) }

// Len is how many transactions are cached.
func (c *SenderCache) Len() int { return c.entries.Len() }

// Stats are the lookups by blocks' sender recoveries so far: found in
// the cache, and recovered because they were not.
func (c *SenderCache) Stats() (hits, misses uint64) { return c.hits.Load(), c.misses.Load() }

// Signer wraps inner: its Sender answers from the cache when an entry
// recovered by a signer equal to inner exists, else recovers with inner.
// types.Sender stores its answer in the transaction as usual, and the
// wrapper is Equal to inner, so the execution's later types.Sender(inner,
// tx) finds it there.
func (c *SenderCache) Signer(inner types.Signer) types.Signer {
	if c == nil {
		return inner
	}
	return &cachedSigner{Signer: inner, cache: c}
}

// cachedSigner is SenderCache.Signer's wrapper; every method but Sender
// and Equal is inner's.
type cachedSigner struct {
	types.Signer
	cache *SenderCache
}

func (s *cachedSigner) Sender(tx *types.Transaction) (common.Address, error) {
	if e, ok := s.cache.entries.Get(tx.Hash()); ok && e.signer.Equal(s.Signer) {
		s.cache.hits.Add(1)
		return e.from, nil
	}
	s.cache.misses.Add(1)
	return s.Signer.Sender(tx)
}

// Equal compares the inner signers, so a sender cached in a transaction
// by the wrapper serves types.Sender(inner, tx) and the reverse.
func (s *cachedSigner) Equal(o types.Signer) bool {
	if w, ok := o.(*cachedSigner); ok {
		o = w.Signer
	}
	return s.Signer.Equal(o)
}

func (s *cachedSigner) ChainID() *big.Int { return s.Signer.ChainID() }

// txSigner is the signer of h's transactions, answering from
// Config.SenderCache when one is set.
func (c *Chain) txSigner(h *types.Header) types.Signer {
	return c.cfg.SenderCache.Signer(types.MakeSigner(c.cfg.ChainConfig, h.Number, h.Time))
}

// cachedSenders recovers b's senders through Config.SenderCache before
// its execution (nothing without a cache): the senders the cache holds
// are set in the transactions, the rest recovered on every core as
// Process would (a transaction Prepare recovered already is not looked
// up again).
func (c *Chain) cachedSenders(b *Block) {
	if c.cfg.SenderCache != nil && len(b.Body.Txs) > 0 {
		recoverSenders(c.txSigner(b.Header), b.Body.Txs, runtime.GOMAXPROCS(0), nil)
	}
}
