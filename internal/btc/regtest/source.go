package regtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/database"
	"github.com/btcsuite/btcd/mempool"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/peerserve"
)

// TxRejectError is the mempool's refusal of a transaction, with the reject
// code sent to peers. It matches ErrTxRejected with errors.Is and unwraps to
// btcd's mempool error.
type TxRejectError struct {
	Txid   chainhash.Hash
	Code   wire.RejectCode
	Reason string
	err    error
}

func (e *TxRejectError) Error() string {
	// btcd's reasons name the transaction already.
	return fmt.Sprintf("rejected (%s): %s", e.Code, e.Reason)
}

// Is makes errors.Is(err, ErrTxRejected) hold.
func (e *TxRejectError) Is(target error) bool { return target == ErrTxRejected }

// Unwrap returns btcd's mempool error.
func (e *TxRejectError) Unwrap() error { return e.err }

// RejectCode is the code sent to the peer that relayed the transaction.
func (e *TxRejectError) RejectCode() wire.RejectCode { return e.Code }

// Tip returns the best block's hash and height.
func (n *Node) Tip() (chainhash.Hash, int32) {
	best := n.chain.BestSnapshot()
	return best.Hash, best.Height
}

// HashAt returns the hash of the best-chain block at height.
func (n *Node) HashAt(height int32) (chainhash.Hash, bool) {
	h, err := n.chain.BlockHashByHeight(height)
	if err != nil {
		return chainhash.Hash{}, false
	}
	return *h, true
}

// HeightOf returns the height of hash if it is on the best chain.
func (n *Node) HeightOf(hash chainhash.Hash) (int32, bool) {
	h, err := n.chain.BlockHeightByHash(&hash)
	if err != nil {
		return 0, false
	}
	return h, true
}

// Header returns the header of any known block, best chain or not.
func (n *Node) Header(hash chainhash.Hash) (wire.BlockHeader, error) {
	hdr, err := n.chain.HeaderByHash(&hash)
	if err != nil {
		return wire.BlockHeader{}, fmt.Errorf("header %s: %w", hash, ErrNotFound)
	}
	return hdr, nil
}

// RawBlock returns the serialized block (with witness data) of any stored
// block, best chain or not.
func (n *Node) RawBlock(hash chainhash.Hash) ([]byte, error) {
	if err := n.acquire(); err != nil {
		return nil, err
	}
	defer n.closeMu.RUnlock()
	var raw []byte
	err := n.db.View(func(tx database.Tx) error {
		b, err := tx.FetchBlock(&hash)
		if err != nil {
			return err
		}
		raw = bytes.Clone(b) // b is only valid inside the transaction
		return nil
	})
	if err != nil {
		var dbErr database.Error
		if errors.As(err, &dbErr) && dbErr.ErrorCode == database.ErrBlockNotFound {
			return nil, fmt.Errorf("block %s: %w", hash, ErrNotFound)
		}
		return nil, fmt.Errorf("%w: block %s: %w", ErrStorage, hash, err)
	}
	return raw, nil
}

// Block returns any stored block, best chain or not.
func (n *Node) Block(hash chainhash.Hash) (*wire.MsgBlock, error) {
	raw, err := n.RawBlock(hash)
	if err != nil {
		return nil, err
	}
	var b wire.MsgBlock
	if err := b.Deserialize(bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("%w: block %s does not decode: %w", ErrStorage, hash, err)
	}
	return &b, nil
}

// MempoolTx returns an unconfirmed transaction.
func (n *Node) MempoolTx(txid chainhash.Hash) (*wire.MsgTx, error) {
	tx, err := n.pool.FetchTransaction(&txid)
	if err != nil {
		return nil, fmt.Errorf("mempool tx %s: %w", txid, ErrNotFound)
	}
	return tx.MsgTx(), nil
}

// MempoolTxids lists the mempool's transactions.
func (n *Node) MempoolTxids() []chainhash.Hash {
	hs := n.pool.TxHashes()
	out := make([]chainhash.Hash, len(hs))
	for i, h := range hs {
		out[i] = *h
	}
	return out
}

// AcceptTx offers a transaction a peer relayed; orphans are kept until
// their parents arrive.
func (n *Node) AcceptTx(tx *wire.MsgTx) error {
	return n.submit(tx, true)
}

// SubmitTx adds a transaction to the mempool and announces it to peers.
// A refusal is a *TxRejectError (errors.Is ErrTxRejected).
func (n *Node) SubmitTx(tx *wire.MsgTx) error {
	return n.submit(tx, false)
}

func (n *Node) submit(msg *wire.MsgTx, allowOrphan bool) error {
	if err := n.acquire(); err != nil {
		return err
	}
	defer n.closeMu.RUnlock()
	tx := btcutil.NewTx(msg)
	accepted, err := n.pool.ProcessTransaction(tx, allowOrphan, false, 0)
	if err != nil {
		code, reason := mempool.ErrToRejectErr(err)
		return &TxRejectError{Txid: *tx.Hash(), Code: code, Reason: reason, err: err}
	}
	for _, d := range accepted {
		h := *d.Tx.Hash()
		n.announce(peerserve.Announcement{Tx: &h})
	}
	return nil
}

// HaveBlock reports whether the block is known, on the best chain or not.
func (n *Node) HaveBlock(hash chainhash.Hash) bool {
	ok, err := n.chain.HaveBlock(&hash)
	return err == nil && ok
}

// AcceptBlock validates and stores a block a peer sent.
func (n *Node) AcceptBlock(b *wire.MsgBlock) error {
	if err := n.acquire(); err != nil {
		return err
	}
	defer n.closeMu.RUnlock()
	n.mineMu.Lock()
	defer n.mineMu.Unlock()
	blk := btcutil.NewBlock(b)
	isOrphan, err := n.processBlock(blk)
	if err != nil {
		return err
	}
	if isOrphan {
		return fmt.Errorf("block %s: %w", blk.Hash(), peerserve.ErrOrphanBlock)
	}
	return nil
}

// processBlock runs full validation; the caller holds mineMu.
func (n *Node) processBlock(b *btcutil.Block) (isOrphan bool, err error) {
	_, isOrphan, err = n.chain.ProcessBlock(b, blockchain.BFNone)
	if err != nil {
		var re blockchain.RuleError
		if errors.As(err, &re) {
			return false, &blockRejectError{hash: *b.Hash(), err: err}
		}
		return false, fmt.Errorf("%w: process block %s: %w", ErrStorage, b.Hash(), err)
	}
	return isOrphan, nil
}

// blockRejectError is a consensus refusal of a block.
type blockRejectError struct {
	hash chainhash.Hash
	err  error
}

func (e *blockRejectError) Error() string {
	return fmt.Sprintf("block %s rejected: %v", e.hash, e.err)
}
func (e *blockRejectError) Is(target error) bool        { return target == ErrBlockRejected }
func (e *blockRejectError) Unwrap() error               { return e.err }
func (e *blockRejectError) RejectCode() wire.RejectCode { return wire.RejectInvalid }

// Subscribe calls fn with each new best tip and each transaction accepted
// to the mempool until ctx is done. fn must not block.
func (n *Node) Subscribe(ctx context.Context, fn func(peerserve.Announcement)) {
	n.subMu.Lock()
	id := n.nextSub
	n.nextSub++
	n.subs[id] = fn
	n.subMu.Unlock()
	context.AfterFunc(ctx, func() {
		n.subMu.Lock()
		delete(n.subs, id)
		n.subMu.Unlock()
	})
}

func (n *Node) announce(a peerserve.Announcement) {
	n.subMu.Lock()
	fns := make([]func(peerserve.Announcement), 0, len(n.subs))
	for _, fn := range n.subs {
		fns = append(fns, fn)
	}
	n.subMu.Unlock()
	for _, fn := range fns {
		fn(a)
	}
}

// onChainEvent keeps the mempool in step with the chain, as btcd's sync
// manager does, and announces new tips. btcd calls it without its chain
// lock held.
func (n *Node) onChainEvent(note *blockchain.Notification) {
	block, ok := note.Data.(*btcutil.Block)
	if !ok {
		return
	}
	switch note.Type {
	case blockchain.NTBlockConnected:
		for _, tx := range block.Transactions()[1:] {
			n.pool.RemoveTransaction(tx, false)
			n.pool.RemoveDoubleSpends(tx)
			n.pool.RemoveOrphan(tx)
			for _, d := range n.pool.ProcessOrphans(tx) {
				h := *d.Tx.Hash()
				n.announce(peerserve.Announcement{Tx: &h})
			}
		}
		h := *block.Hash()
		n.announce(peerserve.Announcement{Block: &h})
	case blockchain.NTBlockDisconnected:
		for _, tx := range block.Transactions()[1:] {
			if _, _, err := n.pool.MaybeAcceptTransaction(tx, false, false); err != nil {
				n.pool.RemoveTransaction(tx, true)
			}
		}
	}
}
