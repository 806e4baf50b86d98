package rpc

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/lru"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain"
)

// cacheBlocks is how many recent blocks (and their receipts) the server
// keeps decoded: receipts, logs, fee and tip queries hit the newest
// blocks again and again, and a block is immutable under its hash.
const cacheBlocks = 64

// blockCache holds decoded blocks and receipts by block hash. Cached
// values are shared between requests and never modified.
type blockCache struct {
	blocks   *lru.Cache[common.Hash, *chain.Block]
	receipts *lru.Cache[common.Hash, types.Receipts]
}

func newBlockCache() blockCache {
	return blockCache{
		blocks:   lru.NewCache[common.Hash, *chain.Block](cacheBlocks),
		receipts: lru.NewCache[common.Hash, types.Receipts](cacheBlocks),
	}
}

// blockByHash is chain.BlockByHash through the cache.
func (s *Server) blockByHash(hash common.Hash) (*chain.Block, error) {
	if b, ok := s.cache.blocks.Get(hash); ok {
		return b, nil
	}
	b, err := s.chain.BlockByHash(hash)
	if err != nil {
		return nil, err
	}
	s.cache.blocks.Add(hash, b)
	return b, nil
}

// blockByNumber is the canonical block at n through the cache.
func (s *Server) blockByNumber(n uint64) (*chain.Block, error) {
	h, err := s.chain.HeaderByNumber(n)
	if err != nil {
		return nil, err
	}
	return s.blockByHash(h.Hash())
}

// receipts is chain.Receipts through the cache.
func (s *Server) receipts(hash common.Hash) (types.Receipts, error) {
	if rs, ok := s.cache.receipts.Get(hash); ok {
		return rs, nil
	}
	rs, err := s.chain.Receipts(hash)
	if err != nil {
		return nil, err
	}
	s.cache.receipts.Add(hash, rs)
	return rs, nil
}
