package popm

import (
	"context"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/pop"
)

// Keystones is the miner's view of its L2 node.
//
// Concurrency contract: Keystones is called from one goroutine at a time.
// The returned channel delivers the newest canonical keystone first, then
// every new canonical keystone in order (after an L2 reorg, those of the
// new branch), and is closed when ctx is done or the source fails; the
// miner then calls Keystones again after a pause.
type Keystones interface {
	Keystones(ctx context.Context) (<-chan pop.L2Keystone, error)
}

// Bitcoin is the miner's view of the Bitcoin network: its node's index
// and the node's peers.
//
// Concurrency contract: methods are called from one goroutine at a time
// (the miner's loop), except TipChanges, whose channel is read by it, and
// Broadcast, which runs in a goroutine per transaction, concurrently with
// the other methods and with itself (never twice at once for one
// transaction): a broadcast waiting for slow peers must not hold back
// the next keystone or the other broadcasts. Every
// as-of query answers as of the given block, so one snapshot (coins, where
// each transaction is mined) is consistent even while the chain moves.
type Bitcoin interface {
	// Tip returns the indexed block tip.
	Tip(ctx context.Context) (chainhash.Hash, int32, error)
	// TipChanges signals (at least once per change, possibly more) when
	// the tip may have moved, until ctx is done; then it is closed.
	TipChanges(ctx context.Context) <-chan struct{}
	// Coins returns the outputs paying script that are unspent as of asOf.
	Coins(ctx context.Context, script []byte, asOf chainhash.Hash) ([]Coin, error)
	// Mined says where txid is mined in the chain as of asOf; false when
	// it is not.
	Mined(ctx context.Context, txid, asOf chainhash.Hash) (Mined, bool, error)
	// Spender returns the transaction that spends op in the chain as of
	// asOf; false when none does.
	Spender(ctx context.Context, op wire.OutPoint, asOf chainhash.Hash) (chainhash.Hash, bool, error)
	// FeeRate estimates the fee rate (sat/vB) for confirmation within
	// target blocks.
	FeeRate(ctx context.Context, target int) (int64, error)
	// Broadcast sends tx to the network and reports the verdict with a
	// human-readable reason. An error means no verdict (VerdictUnknown).
	Broadcast(ctx context.Context, tx *wire.MsgTx) (Verdict, string, error)
}
