package hvm

import (
	"errors"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// ErrNotFound is what a BitcoinView wraps when the thing asked for does not
// exist as of the view (unknown or reorged-out transaction, height above
// the view). The precompiles turn it into an empty answer. Any other error
// is a failure of the view itself (see BitcoinView).
var ErrNotFound = errors.New("hvm: not found as of the view")

// ErrView wraps every failure a BitcoinView records: its store could not
// answer (I/O, corruption, closed), which is not the same as "not found".
// The assembly's view over the Bitcoin index
// (internal/node/indexadapt.View) wraps it.
var ErrView = errors.New("hvm: bitcoin view failed")

// Header is a Bitcoin block header with its height and hash.
type Header struct {
	Height int32
	Hash   chainhash.Hash
	Header wire.BlockHeader
}

// Tx is a confirmed transaction and the block holding it.
type Tx struct {
	Tx        *wire.MsgTx
	BlockHash chainhash.Hash
	Height    int32
}

// UTXO is an unspent output paying a script.
type UTXO struct {
	Outpoint wire.OutPoint
	Value    int64
}

// BitcoinView is the Bitcoin chain as of one block: the Bitcoin view of
// the L2 block being executed (DESIGN 3.4). The precompiles ask it
// nothing else.
//
// Contract for implementations:
//
//   - Every answer is as of Tip() and only Tip(): the chain from genesis to
//     that block, whatever the current Bitcoin tip is. Answers never change
//     for the life of the view, also after Tip() is reorged out, so a block
//     re-executed later gets the same answers and the same state root.
//   - "Does not exist as of the view" is an error wrapping ErrNotFound. Any
//     other error (I/O, corrupt database, closed index) is a failure: the
//     precompiles answer it with empty output like a miss, so the
//     implementation must also remember it and let the block processor see
//     it (an Err() error method, as indexadapt.View has), which must then discard the execution instead of
//     committing it. A failure must never turn into a plausible answer.
//   - Methods are safe for concurrent use (an EVM runs on one goroutine,
//     but eth_call, tracing and block execution may share a view).
//   - Returned values are owned by the caller except Tx.Tx, which callers
//     must not modify.
type BitcoinView interface {
	// Tip is the view's block. It cannot fail: the view resolved it when
	// it was made.
	Tip() Header

	// HeaderByHeight is the header at height in the view's chain;
	// ErrNotFound above Tip().Height or below 0.
	HeaderByHeight(height int32) (Header, error)

	// Tx is the transaction txid confirmed in the view's chain (the latest
	// one if a txid repeats, as BIP 30 allowed before BIP 34).
	Tx(txid chainhash.Hash) (Tx, error)

	// Spent reports whether op is spent in the view's chain.
	Spent(op wire.OutPoint) (bool, error)

	// Balance is the sum of outputs paying script that are unspent as of
	// the view.
	Balance(script []byte) (int64, error)

	// UTXOs is page page (from 0) of pageSize (>= 1) unspent outputs paying
	// script as of the view, ordered by height, position in block, then
	// output index.
	UTXOs(script []byte, page, pageSize int) ([]UTXO, error)
}
