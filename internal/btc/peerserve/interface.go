package peerserve

import (
	"context"
	"errors"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// ErrNotFound is returned by a Source for unknown blocks or transactions.
var ErrNotFound = errors.New("not found")

// Source is the chain a Server serves to Bitcoin peers. It is implemented by
// the embedded regtest node (internal/btc/regtest) and by the benchmark's
// pre-generated chain (internal/bench). All methods are safe for concurrent
// use.
type Source interface {
	// Tip returns the best block's hash and height.
	Tip() (chainhash.Hash, int32)

	// HashAt returns the hash of the best-chain block at height.
	HashAt(height int32) (chainhash.Hash, bool)

	// HeightOf returns the height of hash if it is on the best chain.
	HeightOf(hash chainhash.Hash) (int32, bool)

	// Header returns the header of any known block, best chain or not.
	Header(hash chainhash.Hash) (wire.BlockHeader, error)

	// RawBlock returns the serialized block (with witness data).
	RawBlock(hash chainhash.Hash) ([]byte, error)

	// MempoolTx returns an unconfirmed transaction the source relays.
	MempoolTx(txid chainhash.Hash) (*wire.MsgTx, error)

	// AcceptTx offers a transaction a peer relayed. A policy or consensus
	// rejection returns an error whose text is sent to the peer in a
	// reject message.
	AcceptTx(tx *wire.MsgTx) error

	// Subscribe calls fn with each new best tip and each transaction
	// accepted to the mempool, until ctx is done. fn must not block.
	Subscribe(ctx context.Context, fn func(Announcement))
}

// Announcement is a change a Server announces to its peers.
type Announcement struct {
	Block *chainhash.Hash // a new best tip, or nil
	Tx    *chainhash.Hash // a newly accepted mempool tx, or nil
}
