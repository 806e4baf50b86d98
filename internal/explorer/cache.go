package explorer

import (
	"github.com/ethereum/go-ethereum/common"
)

// summaryCacheSize is how many block summaries the explorer remembers:
// the home page's 20 latest blocks many times over.
const summaryCacheSize = 4096

// blockSummary is a block's row in a list and its parent, remembered by
// the block's hash (a hash fixes the block, so a summary never goes
// stale; the finality badge is not part of it and is set per request).
type blockSummary struct {
	blockRow
	parent common.Hash
}

// summary returns the summary of block hash, reading the block once.
func (e *Explorer) summary(hash common.Hash) (blockSummary, error) {
	if s, ok := e.summaries.Get(hash); ok {
		return s, nil
	}
	b, err := e.cfg.Chain.BlockByHash(hash)
	if err != nil {
		return blockSummary{}, err
	}
	h := b.Header
	s := blockSummary{blockRow: blockRow{Number: h.Number.Uint64(), Hash: hash, Time: h.Time, Txs: b.Body.Len(), GasUsed: h.GasUsed}, parent: h.ParentHash}
	e.summaries.Add(hash, s)
	return s, nil
}
