package rpc

import (
	"context"
	"math/big"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/event"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/explorer/addrindex"
	"github.com/hemi-go/hemi/internal/finality"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/pop"
)

// Chain is what the RPC server asks of the L2 chain. *chain.Chain
// implements it (asserted below).
//
// Concurrency: every method is called from many request goroutines at
// once, concurrently with block insertion, and must be safe for that.
// Errors for unknown blocks and transactions wrap chain.ErrNotFound.
type Chain interface {
	Head() *types.Header
	Genesis() *types.Header
	HeaderByHash(hash common.Hash) (*types.Header, error)
	HeaderByNumber(number uint64) (*types.Header, error)
	BlockByHash(hash common.Hash) (*chain.Block, error)
	BlockByNumber(number uint64) (*chain.Block, error)
	// Receipts are a block's receipts in block order with derived fields.
	Receipts(blockHash common.Hash) (types.Receipts, error)
	// TxLookup finds a canonical transaction, system or user.
	TxLookup(hash common.Hash) (*chain.TxLocation, error)
	StateAt(root common.Hash) (*state.StateDB, error)
	// ViewOf pins the Bitcoin view of a block (nil for the genesis).
	ViewOf(h *types.Header) (hvm.BitcoinView, error)
	GetHashFn(parent *types.Header) chain.GetHashFunc
	// Subscribe delivers canonical headers from number from, in order.
	Subscribe(ctx context.Context, from uint64) <-chan *types.Header
	// Processor builds every EVM (NewEVM) and runs blocks for tracing.
	Processor() *chain.Processor
	// IsKeystone, KeystoneAt (canonical), KeystoneByID and
	// KeystoneByHash (any stored branch) answer the keystone methods.
	IsKeystone(number uint64) bool
	KeystoneAt(number uint64) (*pop.L2Keystone, error)
	KeystoneByID(id [32]byte) (*pop.L2Keystone, error)
	KeystoneByHash(hash common.Hash) (*pop.L2Keystone, error)
}

var _ Chain = (*chain.Chain)(nil)

// Pool is what the RPC server asks of the mempool. *txpool.Pool (over
// go-ethereum's legacypool) implements it (asserted by the assembly,
// internal/node). It may be nil: a node without a pool answers
// eth_sendRawTransaction with an error and shows an empty txpool.
//
// Concurrency: every method is called from many request goroutines at
// once and must be safe for that; none may block on block production
// for long.
type Pool interface {
	// Add validates txs against the head state and the pool's rules and
	// adds them, one error per transaction (nil: accepted). Errors must
	// wrap go-ethereum's sentinels so they map to the messages tools
	// expect (knownTxErrors): core.ErrNonceTooLow, core.ErrInsufficientFunds,
	// txpool.ErrReplaceUnderpriced, txpool.ErrUnderpriced, ... The RPC
	// layer has already refused blob and system (0x7E) transactions and
	// other chains' transactions.
	Add(txs []*types.Transaction) []error
	// Nonce is the next nonce of addr counting the pool's executable
	// transactions (eth_getTransactionCount "pending").
	Nonce(addr common.Address) uint64
	// Get returns a pool transaction by hash, or nil.
	Get(hash common.Hash) *types.Transaction
	// Stats counts executable (pending) and future (queued) transactions.
	Stats() (pending, queued int)
	// Content lists the pool's transactions per sender, nonce-sorted.
	Content() (pending, queued map[common.Address][]*types.Transaction)
	// SubscribeTransactions delivers transactions that became pending.
	// The subscriber drains ch and unsubscribes when done.
	SubscribeTransactions(ch chan<- core.NewTxsEvent) event.Subscription
	// MinTip is the smallest tip the pool accepts (the floor of
	// eth_maxPriorityFeePerGas).
	MinTip() *big.Int
}

// TxForwarder hands a user transaction to the sequencer (a follower's
// eth_sendRawTransaction, Config.Forward); *Forwarder implements it.
//
// Concurrency: called from many request goroutines at once.
type TxForwarder interface {
	// Forward sends raw, the encoding of the transaction hash, and
	// returns the sequencer's error as the JSON-RPC error to answer
	// (nil: accepted). It returns within a bounded time.
	Forward(ctx context.Context, raw []byte, hash common.Hash) error
}

var _ TxForwarder = (*Forwarder)(nil)

// GroupRelay is a raft sequencer group member's way to its leader
// (Config.Relay; *ha.Relay implements it): the member keeps every
// transaction in its own pool (it includes them if it becomes leader)
// and hands it to whichever member leads.
//
// Concurrency: called from many request goroutines at once.
type GroupRelay interface {
	// Leads reports whether this member leads the group now: it then
	// includes the transactions sent to it and forwards none.
	Leads() bool
	// Relay sends tx to the leader with ForwardedHeader set and returns
	// the leader's JSON-RPC error as the error to answer (nil:
	// accepted). raw is tx's encoding as the client sent it, sent on
	// as it came; tx is the transaction the server decoded and the
	// local pool checked (its sender recovered and cached in it), so the
	// relay keeps it without decoding it or recovering its sender again
	// (tx and raw are not modified). kept says the local pool holds the
	// transaction: then a leader that cannot be reached now is no error
	// (the relay sends the pool again once one can be); without it that
	// failure is the caller's error. It returns within a bounded time.
	Relay(ctx context.Context, tx *types.Transaction, raw []byte, kept bool) error
}

// Bitcoin is what hemi_btcTip asks of the Bitcoin index; *index.Index
// implements it. Optional (nil: hemi_btcTip errors).
type Bitcoin interface {
	// BlockTip is the hash and height of the index's connected tip.
	BlockTip() (chainhash.Hash, int32)
}

// Finality is what the safe and finalized tags, hemi_getFinality and the
// keystone subscription ask of PoP finality; *finality.Service implements
// it. Optional.
//
// Concurrency: called from many request goroutines at once.
type Finality interface {
	// Heads are the newest safe and finalized canonical blocks.
	Heads() finality.Heads
	// Finality is the finality of canonical block number; an unknown
	// block wraps finality.ErrNotFound.
	Finality(number uint64) (*finality.BlockFinality, error)
	// SubscribeHeads delivers the safe and finalized heads when they
	// change.
	SubscribeHeads(ch chan<- finality.Heads) event.Subscription
}

var _ Finality = (*finality.Service)(nil)

// Sync is what eth_syncing asks of the catch-up sync;
// internal/netp2p/rangesync's Syncer implements it. Optional (nil:
// eth_syncing answers false).
//
// Concurrency: called from many request goroutines at once, during a
// sync.
type Sync interface {
	// SyncProgress reports whether a catch-up runs and, if so, the head
	// when it started, the head now and the block it catches up to.
	SyncProgress() (starting, current, highest uint64, syncing bool)
}

// AddressIndex is what Otterscan's ots_searchTransactions* ask of the
// explorer's address index; *addrindex.Index implements it. Optional
// (nil: those two methods answer an error).
//
// Concurrency: called from many request goroutines at once, while the
// index follows the chain.
type AddressIndex interface {
	// Before and After page addr's history from block (exclusive; 0:
	// from the newest, from the genesis), at least pageSize entries
	// unless it ends, never splitting a block; entries newest first.
	// mask selects entries by flag (0: all).
	Before(addr common.Address, block uint64, pageSize int, mask byte) (addrindex.Page, error)
	After(addr common.Address, block uint64, pageSize int, mask byte) (addrindex.Page, error)
}

var _ AddressIndex = (*addrindex.Index)(nil)
