package chain

import (
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/hvm"
)

// Head returns the head header (a copy the caller may keep).
func (c *Chain) Head() *types.Header {
	return types.CopyHeader(c.headRef())
}

// headRef is the head header itself, which nobody modifies.
func (c *Chain) headRef() *types.Header {
	c.headMu.RLock()
	defer c.headMu.RUnlock()
	return c.head
}

// Genesis returns the genesis header.
func (c *Chain) Genesis() *types.Header { return types.CopyHeader(c.gen) }

// HeaderByHash returns any stored header.
func (c *Chain) HeaderByHash(hash common.Hash) (*types.Header, error) {
	return readHeader(c.db, hash)
}

// HeaderByNumber returns the canonical header at number.
func (c *Chain) HeaderByNumber(number uint64) (*types.Header, error) {
	if head := c.headRef(); number > head.Number.Uint64() {
		return nil, fmt.Errorf("block %d above the head %d: %w", number, head.Number, ErrNotFound)
	}
	hash := rawdb.ReadCanonicalHash(c.db, number)
	if hash == (common.Hash{}) {
		return nil, fmt.Errorf("block %d: %w", number, ErrNotFound)
	}
	return readHeader(c.db, hash)
}

// BlockByHash returns a stored block.
func (c *Chain) BlockByHash(hash common.Hash) (*Block, error) {
	h, err := readHeader(c.db, hash)
	if err != nil {
		return nil, err
	}
	body, err := readBody(c.db, hash, h.Number.Uint64())
	if err != nil {
		return nil, err
	}
	return &Block{Header: h, Body: body}, nil
}

// BlockByNumber returns the canonical block at number.
func (c *Chain) BlockByNumber(number uint64) (*Block, error) {
	h, err := c.HeaderByNumber(number)
	if err != nil {
		return nil, err
	}
	body, err := readBody(c.db, h.Hash(), number)
	if err != nil {
		return nil, err
	}
	return &Block{Header: h, Body: body}, nil
}

// Receipts returns the receipts of block hash, in block order (system
// transactions first), with every derived field filled.
func (c *Chain) Receipts(hash common.Hash) (types.Receipts, error) {
	b, err := c.BlockByHash(hash)
	if err != nil {
		return nil, err
	}
	return readReceipts(c.db, b.Header, b.Body)
}

// TxLocation is where a transaction is in the canonical chain.
type TxLocation struct {
	BlockHash   common.Hash
	BlockNumber uint64
	Index       uint64 // position in the block, system transactions first
	// Exactly one of System and Tx is set.
	System *block.SystemTx
	Tx     *types.Transaction
}

// TxLookup finds a transaction (user or system) of the canonical chain by
// hash.
func (c *Chain) TxLookup(hash common.Hash) (*TxLocation, error) {
	num := rawdb.ReadTxLookupEntry(c.db, hash)
	if num == nil || *num > c.headRef().Number.Uint64() {
		return nil, fmt.Errorf("tx %s: %w", hash, ErrNotFound)
	}
	b, err := c.BlockByNumber(*num)
	if err != nil {
		return nil, err
	}
	for i, tx := range b.Body.SystemTxs {
		if tx.Hash() == hash {
			return &TxLocation{BlockHash: b.Hash(), BlockNumber: *num, Index: uint64(i), System: tx}, nil
		}
	}
	for i, tx := range b.Body.Txs {
		if tx.Hash() == hash {
			return &TxLocation{BlockHash: b.Hash(), BlockNumber: *num, Index: uint64(len(b.Body.SystemTxs) + i), Tx: tx}, nil
		}
	}
	// A lookup entry left by a block that is no longer canonical.
	return nil, fmt.Errorf("tx %s: %w", hash, ErrNotFound)
}

// Receipt returns the receipt of a canonical transaction.
func (c *Chain) Receipt(hash common.Hash) (*types.Receipt, *TxLocation, error) {
	loc, err := c.TxLookup(hash)
	if err != nil {
		return nil, nil, err
	}
	rs, err := c.Receipts(loc.BlockHash)
	if err != nil {
		return nil, nil, err
	}
	if loc.Index >= uint64(len(rs)) {
		return nil, nil, fmt.Errorf("receipt %d of block %s: %w", loc.Index, loc.BlockHash, ErrCorrupt)
	}
	return rs[loc.Index], loc, nil
}

// StateAt opens the state with root (every block's state is kept).
func (c *Chain) StateAt(root common.Hash) (*state.StateDB, error) {
	s, err := state.New(root, c.sdb)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w: %w", root, ErrNotFound, err)
	}
	return s, nil
}

// ViewOf pins the Bitcoin view of block h, for eth_call, gas estimation
// and tracing against that block (nil for a genesis without one).
func (c *Chain) ViewOf(h *types.Header) (hvm.BitcoinView, error) {
	e, err := parentView(h)
	if err != nil || e == nil {
		return nil, err
	}
	return c.cfg.Bitcoin.View(e.BitcoinHash)
}

// GetHashFn answers BLOCKHASH for a block (or call) on parent.
func (c *Chain) GetHashFn(parent *types.Header) GetHashFunc { return c.getHashFn(parent) }

// Subscribe delivers the canonical headers from number from (inclusive)
// to the head, then every new head, in order and without gaps. A slow
// reader only lags: headers are read from the database as it catches
// up. The channel closes when ctx is done or the chain closes.
func (c *Chain) Subscribe(ctx context.Context, from uint64) <-chan *types.Header {
	out := make(chan *types.Header, 16)
	go func() {
		defer close(out)
		next := from
		for {
			c.headMu.RLock()
			head, wake := c.head, c.headCh
			c.headMu.RUnlock()
			if c.closed.Load() {
				return
			}
			for ; next <= head.Number.Uint64(); next++ {
				h, err := c.HeaderByNumber(next)
				if err != nil {
					c.log.Warn("subscription stopped", "number", next, "err", err)
					return
				}
				select {
				case out <- h:
				case <-ctx.Done():
					return
				}
			}
			select {
			case <-wake:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
