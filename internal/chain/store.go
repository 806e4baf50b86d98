package chain

import (
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethdb"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/hemi-go/hemi/internal/chain/block"
)

// Our own keys, beside rawdb's. rawdb holds headers, canonical hashes,
// the user transactions of each body (types.Body), tx lookups (system and
// user hashes -> block number) and the head pointers. Under these
// prefixes, which rawdb does not use:
//
//	"hemi-stx-"  number (8, big-endian) || hash -> RLP list of system tx encodings
//	"hemi-rcpt-" number (8, big-endian) || hash -> RLP list of storedReceipt
//	"hemi-txl-"  tx hash -> number (8) || block hash (32) || index (4), big-endian
//	"hemi-tip-"  block hash -> number (8): the tips of side branches
//
// Receipts are ours because a system transaction's receipt carries what
// rawdb's storage form drops and cannot re-derive without a
// types.Transaction (its type, its gas used, a created contract's
// address). Tx lookups are ours because rawdb's entry holds only the
// number, so a lookup had to decode the whole block to find the
// transaction's position; ours names the block and the position, and a
// reader checks the block is still canonical (an entry written by a block
// a reorg removed is left in place and refused on read).
var (
	prefixSystemTxs = []byte("hemi-stx-")
	prefixReceipts  = []byte("hemi-rcpt-")
	prefixTxLookup  = []byte("hemi-txl-")
	prefixSideTip   = []byte("hemi-tip-")
)

func hashKey(prefix []byte, hash common.Hash) []byte {
	return append(append(make([]byte, 0, len(prefix)+32), prefix...), hash[:]...)
}

// txLookup is a stored tx lookup entry.
type txLookup struct {
	Number    uint64
	BlockHash common.Hash
	Index     uint32 // position in the block, system transactions first
}

const txLookupLen = 8 + 32 + 4

func (l txLookup) encode() []byte {
	v := make([]byte, 0, txLookupLen)
	v = binary.BigEndian.AppendUint64(v, l.Number)
	v = append(v, l.BlockHash[:]...)
	return binary.BigEndian.AppendUint32(v, l.Index)
}

func decodeTxLookup(v []byte) (txLookup, error) {
	if len(v) != txLookupLen {
		return txLookup{}, fmt.Errorf("tx lookup entry of %d bytes: %w", len(v), ErrCorrupt)
	}
	return txLookup{
		Number:    binary.BigEndian.Uint64(v),
		BlockHash: common.BytesToHash(v[8:40]),
		Index:     binary.BigEndian.Uint32(v[40:]),
	}, nil
}

// writeTxLookups writes the lookup entries of every transaction of b
// (system transactions first) into w.
func writeTxLookups(w ethdb.KeyValueWriter, number uint64, hash common.Hash, body *block.Body) error {
	for i, txh := range body.TxHashes() {
		if err := w.Put(hashKey(prefixTxLookup, txh), txLookup{Number: number, BlockHash: hash, Index: uint32(i)}.encode()); err != nil {
			return err
		}
	}
	return nil
}

func numHashKey(prefix []byte, number uint64, hash common.Hash) []byte {
	k := make([]byte, 0, len(prefix)+8+32)
	k = append(k, prefix...)
	k = binary.BigEndian.AppendUint64(k, number)
	return append(k, hash[:]...)
}

// storedReceipt is a receipt's stored form: consensus fields plus what
// the consensus encoding leaves out. Bloom and the per-block fields are
// derived on read.
type storedReceipt struct {
	Type              uint8
	Status            uint64
	CumulativeGasUsed uint64
	GasUsed           uint64
	EffectiveGasPrice *big.Int
	ContractAddress   common.Address
	Logs              []*types.Log
}

// Block is an L2 block: a go-ethereum header and a body of system and user
// transactions.
type Block struct {
	Header *types.Header
	Body   *block.Body
}

// Hash is the header hash.
func (b *Block) Hash() common.Hash { return b.Header.Hash() }

// NumberU64 is the block number.
func (b *Block) NumberU64() uint64 { return b.Header.Number.Uint64() }

// writeCanonicalHead puts the tx lookups and canonical hash of b, which
// extends the canonical chain, and the head pointers into w (a batch).
func writeCanonicalHead(w ethdb.KeyValueWriter, b *Block) error {
	hash, number := b.Hash(), b.NumberU64()
	if err := writeTxLookups(w, number, hash, b.Body); err != nil {
		return err
	}
	rawdb.WriteCanonicalHash(w, hash, number)
	rawdb.WriteHeadHeaderHash(w, hash)
	rawdb.WriteHeadBlockHash(w, hash)
	return nil
}

// writeBlock puts a block and its receipts into w (a batch): header,
// body, system transactions, receipts. Nothing canonical.
func writeBlock(w ethdb.KeyValueWriter, b *Block, receipts types.Receipts) error {
	hash, number := b.Hash(), b.NumberU64()
	rawdb.WriteHeader(w, b.Header)
	rawdb.WriteBody(w, hash, number, &types.Body{Transactions: b.Body.Txs})
	stx := make([][]byte, len(b.Body.SystemTxs))
	for i, tx := range b.Body.SystemTxs {
		enc, err := tx.MarshalBinary()
		if err != nil {
			return fmt.Errorf("chain: encode system tx %d: %w", i, err)
		}
		stx[i] = enc
	}
	enc, err := rlp.EncodeToBytes(stx)
	if err != nil {
		return fmt.Errorf("chain: encode system txs: %w", err)
	}
	if err := w.Put(numHashKey(prefixSystemTxs, number, hash), enc); err != nil {
		return err
	}
	srs := make([]*storedReceipt, len(receipts))
	for i, r := range receipts {
		srs[i] = &storedReceipt{
			Type: r.Type, Status: r.Status, CumulativeGasUsed: r.CumulativeGasUsed, GasUsed: r.GasUsed,
			EffectiveGasPrice: r.EffectiveGasPrice, ContractAddress: r.ContractAddress, Logs: r.Logs,
		}
		if srs[i].EffectiveGasPrice == nil {
			srs[i].EffectiveGasPrice = new(big.Int)
		}
		if srs[i].Logs == nil {
			srs[i].Logs = []*types.Log{}
		}
	}
	if enc, err = rlp.EncodeToBytes(srs); err != nil {
		return fmt.Errorf("chain: encode receipts: %w", err)
	}
	return w.Put(numHashKey(prefixReceipts, number, hash), enc)
}

// readHeader reads the header of block hash.
func readHeader(db ethdb.Reader, hash common.Hash) (*types.Header, error) {
	number, ok := rawdb.ReadHeaderNumber(db, hash)
	if !ok {
		return nil, fmt.Errorf("block %s: %w", hash, ErrNotFound)
	}
	h := rawdb.ReadHeader(db, hash, number)
	if h == nil {
		return nil, fmt.Errorf("header %s (number %d): %w", hash, number, ErrNotFound)
	}
	return h, nil
}

// readBody reads the body of block hash at number.
func readBody(db ethdb.Reader, hash common.Hash, number uint64) (*block.Body, error) {
	ub := rawdb.ReadBody(db, hash, number)
	if ub == nil {
		return nil, fmt.Errorf("body of %s (number %d): %w", hash, number, ErrNotFound)
	}
	raw, err := db.Get(numHashKey(prefixSystemTxs, number, hash))
	if err != nil {
		return nil, fmt.Errorf("system txs of %s (number %d): %w: %w", hash, number, ErrNotFound, err)
	}
	var encs [][]byte
	if err := rlp.DecodeBytes(raw, &encs); err != nil {
		return nil, fmt.Errorf("system txs of %s: %w: %w", hash, ErrCorrupt, err)
	}
	body := &block.Body{Txs: ub.Transactions}
	for i, enc := range encs {
		tx := new(block.SystemTx)
		if err := tx.UnmarshalBinary(enc); err != nil {
			return nil, fmt.Errorf("system tx %d of %s: %w: %w", i, hash, ErrCorrupt, err)
		}
		body.SystemTxs = append(body.SystemTxs, tx)
	}
	if len(body.Txs) == 0 {
		body.Txs = nil
	}
	return body, nil
}

// readReceipts reads the receipts of a block and fills every derived
// field (hashes, indexes, bloom, log positions).
func readReceipts(db ethdb.Reader, h *types.Header, body *block.Body) (types.Receipts, error) {
	hash, number := h.Hash(), h.Number.Uint64()
	raw, err := db.Get(numHashKey(prefixReceipts, number, hash))
	if err != nil {
		return nil, fmt.Errorf("receipts of %s (number %d): %w: %w", hash, number, ErrNotFound, err)
	}
	var srs []*storedReceipt
	if err := rlp.DecodeBytes(raw, &srs); err != nil {
		return nil, fmt.Errorf("receipts of %s: %w: %w", hash, ErrCorrupt, err)
	}
	hashes := body.TxHashes()
	if len(hashes) != len(srs) {
		return nil, fmt.Errorf("receipts of %s: %d receipts for %d transactions: %w", hash, len(srs), len(hashes), ErrCorrupt)
	}
	out := make(types.Receipts, len(srs))
	var logIndex uint
	for i, s := range srs {
		r := &types.Receipt{
			Type: s.Type, Status: s.Status, CumulativeGasUsed: s.CumulativeGasUsed, GasUsed: s.GasUsed,
			EffectiveGasPrice: s.EffectiveGasPrice, ContractAddress: s.ContractAddress, Logs: s.Logs,
			TxHash: hashes[i], BlockHash: hash, BlockNumber: new(big.Int).SetUint64(number), TransactionIndex: uint(i),
		}
		for _, l := range r.Logs {
			l.BlockNumber, l.BlockHash, l.BlockTimestamp = number, hash, h.Time
			l.TxHash, l.TxIndex, l.Index = hashes[i], uint(i), logIndex
			logIndex++
		}
		r.Bloom = types.CreateBloom(r)
		out[i] = r
	}
	return out, nil
}
