package chain

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethdb"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/hemi-go/hemi/internal/chain/block"
)

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
// hash. It reads the lookup entry, checks its block is canonical, and
// decodes only that one transaction of the block.
func (c *Chain) TxLookup(hash common.Hash) (*TxLocation, error) {
	l, err := c.lookup(hash)
	if err != nil {
		return nil, err
	}
	stx, tx, err := readTxAt(c.db, l.BlockHash, l.Number, uint64(l.Index))
	if err != nil {
		return nil, fmt.Errorf("tx %s: %w", hash, err)
	}
	if (stx != nil && stx.Hash() != hash) || (tx != nil && tx.Hash() != hash) {
		return nil, fmt.Errorf("tx %s: lookup names position %d of block %d, which holds another: %w", hash, l.Index, l.Number, ErrCorrupt)
	}
	return &TxLocation{BlockHash: l.BlockHash, BlockNumber: l.Number, Index: uint64(l.Index), System: stx, Tx: tx}, nil
}

// lookup reads the lookup entry of a canonical transaction.
func (c *Chain) lookup(hash common.Hash) (txLookup, error) {
	v, err := c.db.Get(hashKey(prefixTxLookup, hash))
	if err != nil || len(v) == 0 {
		return c.legacyLookup(hash)
	}
	l, err := decodeTxLookup(v)
	if err != nil {
		return txLookup{}, fmt.Errorf("tx %s: %w", hash, err)
	}
	if l.Number > c.headRef().Number.Uint64() || rawdb.ReadCanonicalHash(c.db, l.Number) != l.BlockHash {
		// Left by a block that a reorg made non-canonical.
		return txLookup{}, fmt.Errorf("tx %s: %w", hash, ErrNotFound)
	}
	return l, nil
}

// legacyLookup finds a transaction through rawdb's lookup entry (number
// only), which databases written before our own entries hold, by
// scanning the canonical block at that number.
func (c *Chain) legacyLookup(hash common.Hash) (txLookup, error) {
	num := rawdb.ReadTxLookupEntry(c.db, hash)
	if num == nil || *num > c.headRef().Number.Uint64() {
		return txLookup{}, fmt.Errorf("tx %s: %w", hash, ErrNotFound)
	}
	b, err := c.BlockByNumber(*num)
	if err != nil {
		return txLookup{}, err
	}
	for i, h := range b.Body.TxHashes() {
		if h == hash {
			return txLookup{Number: *num, BlockHash: b.Hash(), Index: uint32(i)}, nil
		}
	}
	return txLookup{}, fmt.Errorf("tx %s: %w", hash, ErrNotFound)
}

// Receipt returns the receipt of a canonical transaction, with every
// derived field filled, decoding only that receipt.
func (c *Chain) Receipt(hash common.Hash) (*types.Receipt, *TxLocation, error) {
	loc, err := c.TxLookup(hash)
	if err != nil {
		return nil, nil, err
	}
	h := rawdb.ReadHeader(c.db, loc.BlockHash, loc.BlockNumber)
	if h == nil {
		return nil, nil, fmt.Errorf("header of %s: %w", loc.BlockHash, ErrCorrupt)
	}
	r, err := readReceiptAt(c.db, h, loc.Index, hash)
	if err != nil {
		return nil, nil, err
	}
	return r, loc, nil
}

// nthValue returns the full encoding (header included) of the value at
// index of an RLP list's content.
func nthValue(content []byte, index uint64) ([]byte, error) {
	for i := uint64(0); ; i++ {
		if len(content) == 0 {
			return nil, fmt.Errorf("position %d of a list of %d: %w", index, i, ErrNotFound)
		}
		_, _, rest, err := rlp.Split(content)
		if err != nil {
			return nil, err
		}
		if i == index {
			return content[:len(content)-len(rest)], nil
		}
		content = rest
	}
}

// readTxAt decodes the transaction at index (system transactions first)
// of block hash, and none of the others.
func readTxAt(db ethdb.Reader, hash common.Hash, number, index uint64) (*block.SystemTx, *types.Transaction, error) {
	raw, err := db.Get(numHashKey(prefixSystemTxs, number, hash))
	if err != nil {
		return nil, nil, fmt.Errorf("system txs of %s (number %d): %w: %w", hash, number, ErrNotFound, err)
	}
	stxs, _, err := rlp.SplitList(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("system txs of %s: %w: %w", hash, ErrCorrupt, err)
	}
	nsys, err := rlp.CountValues(stxs)
	if err != nil {
		return nil, nil, fmt.Errorf("system txs of %s: %w: %w", hash, ErrCorrupt, err)
	}
	if index < uint64(nsys) {
		elem, err := nthValue(stxs, index)
		if err != nil {
			return nil, nil, fmt.Errorf("system tx %d of %s: %w: %w", index, hash, ErrCorrupt, err)
		}
		var enc []byte
		if err := rlp.DecodeBytes(elem, &enc); err != nil {
			return nil, nil, fmt.Errorf("system tx %d of %s: %w: %w", index, hash, ErrCorrupt, err)
		}
		tx := new(block.SystemTx)
		if err := tx.UnmarshalBinary(enc); err != nil {
			return nil, nil, fmt.Errorf("system tx %d of %s: %w: %w", index, hash, ErrCorrupt, err)
		}
		return tx, nil, nil
	}
	body := rawdb.ReadBodyRLP(db, hash, number)
	if len(body) == 0 {
		return nil, nil, fmt.Errorf("body of %s (number %d): %w", hash, number, ErrNotFound)
	}
	fields, _, err := rlp.SplitList(body)
	if err != nil {
		return nil, nil, fmt.Errorf("body of %s: %w: %w", hash, ErrCorrupt, err)
	}
	txs, _, err := rlp.SplitList(fields)
	if err != nil {
		return nil, nil, fmt.Errorf("body of %s: %w: %w", hash, ErrCorrupt, err)
	}
	elem, err := nthValue(txs, index-uint64(nsys))
	if err != nil {
		return nil, nil, fmt.Errorf("tx %d of %s: %w: %w", index, hash, ErrCorrupt, err)
	}
	tx := new(types.Transaction)
	if err := rlp.DecodeBytes(elem, tx); err != nil {
		return nil, nil, fmt.Errorf("tx %d of %s: %w: %w", index, hash, ErrCorrupt, err)
	}
	return nil, tx, nil
}

// readReceiptAt decodes the receipt at index of block h, counting the
// logs of the receipts before it (for log indexes) without decoding them.
func readReceiptAt(db ethdb.Reader, h *types.Header, index uint64, txHash common.Hash) (*types.Receipt, error) {
	hash, number := h.Hash(), h.Number.Uint64()
	raw, err := db.Get(numHashKey(prefixReceipts, number, hash))
	if err != nil {
		return nil, fmt.Errorf("receipts of %s (number %d): %w: %w", hash, number, ErrNotFound, err)
	}
	corrupt := func(err error) error {
		return fmt.Errorf("receipt %d of %s: %w: %w", index, hash, ErrCorrupt, err)
	}
	list, _, err := rlp.SplitList(raw)
	if err != nil {
		return nil, corrupt(err)
	}
	var logIndex uint
	for i := uint64(0); i < index; i++ {
		_, content, rest, err := rlp.Split(list)
		if err != nil {
			return nil, corrupt(err)
		}
		n, err := countLogs(content)
		if err != nil {
			return nil, corrupt(err)
		}
		logIndex += uint(n)
		list = rest
	}
	elem, err := nthValue(list, 0)
	if err != nil {
		return nil, corrupt(err)
	}
	var s storedReceipt
	if err := rlp.DecodeBytes(elem, &s); err != nil {
		return nil, corrupt(err)
	}
	r := &types.Receipt{
		Type: s.Type, Status: s.Status, CumulativeGasUsed: s.CumulativeGasUsed, GasUsed: s.GasUsed,
		EffectiveGasPrice: s.EffectiveGasPrice, ContractAddress: s.ContractAddress, Logs: s.Logs,
		TxHash: txHash, BlockHash: hash, BlockNumber: new(big.Int).SetUint64(number), TransactionIndex: uint(index),
	}
	for _, l := range r.Logs {
		l.BlockNumber, l.BlockHash, l.BlockTimestamp = number, hash, h.Time
		l.TxHash, l.TxIndex, l.Index = txHash, uint(index), logIndex
		logIndex++
	}
	r.Bloom = types.CreateBloom(r)
	return r, nil
}

// countLogs counts the logs of a storedReceipt's list content: the
// seventh field.
func countLogs(fields []byte) (int, error) {
	for range 6 {
		_, _, rest, err := rlp.Split(fields)
		if err != nil {
			return 0, err
		}
		fields = rest
	}
	logs, _, err := rlp.SplitList(fields)
	if err != nil {
		return 0, err
	}
	return rlp.CountValues(logs)
}
