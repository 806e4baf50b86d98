package signer

import (
	"context"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/tunnel"
)

// Node is what a signer needs of its own node. The signer calls it from
// its one loop goroutine only; implementations need not be safe for
// concurrent use. Every method returns promptly when ctx is done.
type Node interface {
	// OpenBatch reads the tunnel's batch from the L2 state at the node's
	// head: nil when no batch is open.
	OpenBatch(ctx context.Context) (*tunnel.Batch, error)
	// Finalized is the node's newest superfinal L2 block number.
	Finalized(ctx context.Context) (uint64, error)
	// Claims returns what the node's L2 log and state hold for each id
	// (the burn or refund, its status); ids it does not know are absent.
	Claims(ctx context.Context, b *tunnel.Batch) (map[uint64]Claim, error)
	// Posted returns every signature set posted for (batch, attempt), in
	// L2 order.
	Posted(ctx context.Context, batch uint64, attempt uint32) ([]Posted, error)
	// Post sends postSignatures(batch, attempt, index, sigs) in an L2
	// transaction from the signer's own account.
	Post(ctx context.Context, batch uint64, attempt uint32, index uint8, sigs [][]byte) error
	// Broadcast sends a signed payout through the node's Bitcoin API; a
	// transaction the network already has is not an error.
	Broadcast(ctx context.Context, tx *wire.MsgTx) error
	// Mined reports whether txid is in the node's best Bitcoin chain.
	Mined(ctx context.Context, txid chainhash.Hash) (bool, error)
}

// Posted is one SignaturesPosted event.
type Posted struct {
	Index uint8
	Sigs  [][]byte
}
