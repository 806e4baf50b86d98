package index

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/cockroachdb/pebble/v2"
)

// blockData is a decoded block with what indexing needs computed once:
// transaction ids and each transaction's place in the raw encoding.
type blockData struct {
	msg   *wire.MsgBlock
	txids []chainhash.Hash
	offs  []uint32 // offs[i] is tx i's byte offset; offs[len(txs)] is the raw size
}

// memSize estimates the memory a decoded block holds.
func (bd *blockData) memSize() int {
	return int(bd.offs[len(bd.offs)-1])*2 + len(bd.txids)*(32+4+200)
}

// Errors from block verification; they are wrapped with ErrInvalid.
var (
	errNoTxs        = errors.New("block has no transactions")
	errMerkle       = errors.New("merkle root does not match the header")
	errMutated      = errors.New("merkle tree is mutated (duplicate transactions)")
	errWitness      = errors.New("witness commitment invalid")
	errBlockTooMany = errors.New("transaction count exceeds the block size")
)

// AcceptBlock checks a block against its stored header, stores it and
// connects every block that has become contiguous; see p2p.Chain. It may be
// called from several goroutines with blocks in any order.
func (ix *Index) AcceptBlock(msg *wire.MsgBlock) error {
	if err := ix.enter(); err != nil {
		return err
	}
	defer ix.leave()
	if msg == nil {
		return fmt.Errorf("%w: nil block", ErrInvalid)
	}

	hash := msg.BlockHash()
	ix.mu.RLock()
	n := ix.byHash[hash]
	ix.mu.RUnlock()
	if n == nil {
		return fmt.Errorf("%w: block %s has no known header", ErrInvalid, hash)
	}
	if n.has(statusHaveData) {
		return nil
	}
	// Serialize straight into the batch that stores the block, verify
	// from those bytes, and commit only if the block matches its header.
	if len(msg.Transactions) == 0 {
		return fmt.Errorf("%w: block %s at height %d: %w", ErrInvalid, hash, n.height, errNoTxs)
	}
	size := msg.SerializeSize()
	b := ix.db.NewBatchWithSize(size + 256)
	defer b.Close()
	op := b.SetDeferred(idKeyLen, size)
	copy(op.Key, idKey(pfxBlock, n.id))
	offs, err := encodeBlockInto(op.Value, msg)
	if err != nil {
		return fmt.Errorf("%w: block %s at height %d: %w", ErrInvalid, hash, n.height, err)
	}
	bd := &blockData{msg: msg, offs: offs}
	if err := bd.hashAndVerify(op.Value); err != nil {
		return fmt.Errorf("%w: block %s at height %d: %w", ErrInvalid, hash, n.height, err)
	}
	_ = op.Finish()
	_ = b.Set(idKey(pfxHeader, n.id), n.recordWith(n.flags()|statusHaveData), nil)
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("index: store block %s: %w", hash, err)
	}
	ix.keepPending(n.id, bd)
	n.setFlag(statusHaveData)
	ix.m.blocksStored.Inc()

	if err := ix.connectReady(); err != nil {
		ix.log.Error("connect blocks failed", "block", hash, "err", err)
		return err
	}
	return nil
}

// keepPending remembers a decoded block until it connects, within the
// PendingBytes budget.
func (ix *Index) keepPending(id uint32, bd *blockData) {
	sz := bd.memSize()
	ix.pendMu.Lock()
	defer ix.pendMu.Unlock()
	if ix.pendingBytes+sz > ix.cfg.PendingBytes {
		return
	}
	if _, ok := ix.pending[id]; ok {
		return
	}
	ix.pending[id] = bd
	ix.pendingBytes += sz
}

// takeBlock returns the decoded block of n, from memory or disk.
func (ix *Index) takeBlock(n *node) (*blockData, error) {
	ix.pendMu.Lock()
	bd := ix.pending[n.id]
	if bd != nil {
		delete(ix.pending, n.id)
		ix.pendingBytes -= bd.memSize()
	}
	ix.pendMu.Unlock()
	if bd != nil {
		return bd, nil
	}
	raw, closer, err := ix.db.Get(idKey(pfxBlock, n.id))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("%w: stored block %s is missing", ErrCorrupt, n.hash)
	}
	if err != nil {
		return nil, fmt.Errorf("index: read block %s: %w", n.hash, err)
	}
	defer closer.Close()
	bd, err = decodeRawBlock(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: stored block %s: %w", ErrCorrupt, n.hash, err)
	}
	return bd, nil
}

// forgetData clears n's have-data flag after its stored block turned out
// unreadable, so the block is downloaded again instead of stalling the
// chain.
func (ix *Index) forgetData(n *node, cause error) error {
	ix.log.Warn("stored block unreadable, downloading it again", "block", n.hash, "height", n.height, "err", cause)
	f := n.flags() &^ (statusHaveData | statusIndexed)
	b := ix.db.NewBatch()
	defer b.Close()
	_ = b.Set(idKey(pfxHeader, n.id), n.recordWith(f), nil)
	_ = b.Delete(idKey(pfxIndexed, n.id), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("index: mark block %s for download: %w", n.hash, err)
	}
	n.clearFlag(statusHaveData | statusIndexed)
	return nil
}

// prepareBlock encodes a block, hashes its transactions once and checks the
// merkle root and witness commitment against the (already matched) header.
func prepareBlock(msg *wire.MsgBlock) ([]byte, *blockData, error) {
	if len(msg.Transactions) == 0 {
		return nil, nil, errNoTxs
	}
	raw, offs, err := encodeBlock(msg)
	if err != nil {
		return nil, nil, err
	}
	bd := &blockData{msg: msg, offs: offs}
	if err := bd.hashAndVerify(raw); err != nil {
		return nil, nil, err
	}
	return raw, bd, nil
}

// encodeBlock serializes msg (with witness data) and records where each
// transaction starts.
func encodeBlock(msg *wire.MsgBlock) ([]byte, []uint32, error) {
	raw := make([]byte, msg.SerializeSize())
	offs, err := encodeBlockInto(raw, msg)
	return raw, offs, err
}

// sliceWriter writes into a fixed slice.
type sliceWriter struct {
	b []byte
	n int
}

var errShortBuffer = errors.New("block larger than its computed size")

func (w *sliceWriter) Write(p []byte) (int, error) {
	if len(p) > len(w.b)-w.n {
		return 0, errShortBuffer
	}
	w.n += copy(w.b[w.n:], p)
	return len(p), nil
}

// encodeBlockInto serializes msg into dst, which must be exactly
// msg.SerializeSize() bytes, and returns the transaction offsets.
func encodeBlockInto(dst []byte, msg *wire.MsgBlock) ([]uint32, error) {
	buf := &sliceWriter{b: dst}
	if err := msg.Header.Serialize(buf); err != nil {
		return nil, err
	}
	if err := wire.WriteVarInt(buf, 0, uint64(len(msg.Transactions))); err != nil {
		return nil, err
	}
	offs := make([]uint32, len(msg.Transactions)+1)
	for i, tx := range msg.Transactions {
		offs[i] = uint32(buf.n)
		if err := tx.Serialize(buf); err != nil {
			return nil, err
		}
	}
	if buf.n != len(dst) {
		return nil, errShortBuffer
	}
	offs[len(msg.Transactions)] = uint32(buf.n)
	return offs, nil
}

func serializeBlock(msg *wire.MsgBlock) ([]byte, error) {
	raw, _, err := encodeBlock(msg)
	return raw, err
}

// decodeRawBlock decodes a stored block and recomputes its transaction ids
// and offsets.
func decodeRawBlock(raw []byte) (*blockData, error) {
	r := bytes.NewReader(raw)
	msg := new(wire.MsgBlock)
	if err := msg.Header.Deserialize(r); err != nil {
		return nil, err
	}
	count, err := wire.ReadVarInt(r, 0)
	if err != nil {
		return nil, err
	}
	// The smallest transaction is 60 bytes; more than that cannot fit.
	if count == 0 || count > uint64(len(raw))/60 {
		return nil, fmt.Errorf("%w: %d", errBlockTooMany, count)
	}
	msg.Transactions = make([]*wire.MsgTx, count)
	offs := make([]uint32, count+1)
	for i := range msg.Transactions {
		offs[i] = uint32(len(raw) - r.Len())
		tx := new(wire.MsgTx)
		if err := tx.Deserialize(r); err != nil {
			return nil, fmt.Errorf("transaction %d: %w", i, err)
		}
		msg.Transactions[i] = tx
	}
	offs[count] = uint32(len(raw) - r.Len())
	if r.Len() != 0 {
		return nil, fmt.Errorf("%d trailing bytes", r.Len())
	}
	bd := &blockData{msg: msg, offs: offs}
	bd.txids = make([]chainhash.Hash, count)
	hashTxs(raw, bd, nil)
	return bd, nil
}

// hashAndVerify computes the txids (and wtxids when needed) from the raw
// encoding and checks merkle root and witness commitment.
func (bd *blockData) hashAndVerify(raw []byte) error {
	txs := bd.msg.Transactions
	bd.txids = make([]chainhash.Hash, len(txs))
	commitment, hasCommitment := witnessCommitment(txs[0])
	var wtxids []chainhash.Hash
	if hasCommitment {
		wtxids = make([]chainhash.Hash, len(txs))
	}
	anyWitness := hashTxs(raw, bd, wtxids)

	scratch := make([]chainhash.Hash, len(txs))
	copy(scratch, bd.txids)
	root, mutated := merkleRoot(scratch)
	if root != bd.msg.Header.MerkleRoot {
		return errMerkle
	}
	if mutated {
		return errMutated
	}

	if !hasCommitment {
		if anyWitness {
			return fmt.Errorf("%w: witness data without a commitment", errWitness)
		}
		return nil
	}
	wit := txs[0].TxIn[0].Witness
	if len(wit) != 1 || len(wit[0]) != blockchain.CoinbaseWitnessDataLen {
		return fmt.Errorf("%w: coinbase witness nonce malformed", errWitness)
	}
	wtxids[0] = chainhash.Hash{}
	wroot, _ := merkleRoot(wtxids)
	var pre [64]byte
	copy(pre[:32], wroot[:])
	copy(pre[32:], wit[0])
	if chainhash.DoubleHashH(pre[:]) != commitment {
		return fmt.Errorf("%w: commitment mismatch", errWitness)
	}
	return nil
}

// hashTxs fills bd.txids (and wtxids when not nil) by hashing segments of
// the raw block, so no transaction is serialized twice. It reports whether
// any transaction carries witness data.
func hashTxs(raw []byte, bd *blockData, wtxids []chainhash.Hash) bool {
	h := sha256.New()
	var first [32]byte
	anyWitness := false
	for i, tx := range bd.msg.Transactions {
		seg := raw[bd.offs[i]:bd.offs[i+1]]
		if !tx.HasWitness() {
			bd.txids[i] = chainhash.DoubleHashH(seg)
			if wtxids != nil {
				wtxids[i] = bd.txids[i]
			}
			continue
		}
		anyWitness = true
		// Witness encoding: version | 0x00 0x01 | ins..outs | witness | locktime.
		body := tx.SerializeSizeStripped() - 8
		h.Reset()
		h.Write(seg[:4])
		h.Write(seg[6 : 6+body])
		h.Write(seg[len(seg)-4:])
		h.Sum(first[:0])
		bd.txids[i] = sha256.Sum256(first[:])
		if wtxids != nil {
			wtxids[i] = chainhash.DoubleHashH(seg)
		}
	}
	return anyWitness
}

// witnessCommitment finds the BIP141 commitment in the coinbase: the last
// output starting with the witness magic bytes.
func witnessCommitment(coinbase *wire.MsgTx) (chainhash.Hash, bool) {
	var c chainhash.Hash
	if len(coinbase.TxIn) != 1 || coinbase.TxIn[0].PreviousOutPoint.Index != wire.MaxPrevOutIndex ||
		coinbase.TxIn[0].PreviousOutPoint.Hash != (chainhash.Hash{}) {
		return c, false
	}
	for i := len(coinbase.TxOut) - 1; i >= 0; i-- {
		s := coinbase.TxOut[i].PkScript
		if len(s) >= blockchain.CoinbaseWitnessPkScriptLength && bytes.HasPrefix(s, blockchain.WitnessMagicBytes) {
			copy(c[:], s[len(blockchain.WitnessMagicBytes):blockchain.CoinbaseWitnessPkScriptLength])
			return c, true
		}
	}
	return c, false
}

// merkleRoot computes the Bitcoin merkle root of hashes in place and
// reports whether the tree is mutated (two equal siblings), which lets a
// different transaction list produce the same root (CVE-2012-2459).
func merkleRoot(hashes []chainhash.Hash) (chainhash.Hash, bool) {
	if len(hashes) == 0 {
		return chainhash.Hash{}, false
	}
	mutated := false
	var pair [64]byte
	n := len(hashes)
	for n > 1 {
		for i := 0; i+1 < n; i += 2 {
			if hashes[i] == hashes[i+1] {
				mutated = true
			}
		}
		j := 0
		for i := 0; i < n; i += 2 {
			copy(pair[:32], hashes[i][:])
			if i+1 < n {
				copy(pair[32:], hashes[i+1][:])
			} else {
				copy(pair[32:], hashes[i][:])
			}
			hashes[j] = chainhash.DoubleHashH(pair[:])
			j++
		}
		n = j
	}
	return hashes[0], mutated
}
