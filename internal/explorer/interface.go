package explorer

import (
	"context"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/explorer/addrindex"
	"github.com/hemi-go/hemi/internal/finality"
	"github.com/hemi-go/hemi/internal/pop"
)

// Chain is what the pages read of the L2 chain; *chain.Chain implements
// it.
//
// Concurrency: called from many request goroutines while blocks are
// inserted. Unknown blocks and transactions wrap chain.ErrNotFound.
type Chain interface {
	Head() *types.Header
	HeaderByNumber(number uint64) (*types.Header, error)
	HeaderByHash(hash common.Hash) (*types.Header, error)
	BlockByHash(hash common.Hash) (*chain.Block, error)
	Receipts(blockHash common.Hash) (types.Receipts, error)
	TxLookup(hash common.Hash) (*chain.TxLocation, error)
	StateAt(root common.Hash) (*state.StateDB, error)
	IsKeystone(number uint64) bool
	CoveringKeystone(number uint64) uint64
	KeystoneAt(number uint64) (*pop.L2Keystone, error)
	KeystoneByID(id [32]byte) (*pop.L2Keystone, error)
	Processor() *chain.Processor
}

var _ Chain = (*chain.Chain)(nil)

// Finality is what the finality badges and panels read;
// *finality.Service implements it. Optional (nil: every block pending).
type Finality interface {
	Heads() finality.Heads
	Finality(number uint64) (*finality.BlockFinality, error)
}

var _ Finality = (*finality.Service)(nil)

// Index is the address index the address and token pages page through;
// *addrindex.Index implements it. Optional (nil: no history shown).
type Index interface {
	Before(addr common.Address, block uint64, pageSize int, mask byte) (addrindex.Page, error)
	// BlockTxs gives the block page's rows without reading receipts or
	// recovering senders; ok is false when the index does not hold that
	// block (yet).
	BlockTxs(number uint64, hash common.Hash, from, to int) (txs []addrindex.TxInfo, ok bool, err error)
}

var _ Index = (*addrindex.Index)(nil)

// Bitcoin is what the pages read of the node's own Bitcoin index (the
// home page's tip, the Bitcoin block and transaction pages, the search
// box); *index.Index implements it. Optional (nil: the Bitcoin pages
// say the node keeps no index).
//
// Concurrency: called from many request goroutines while blocks are
// connected and reorged. Unknown blocks wrap index.ErrUnknownBlock or
// index.ErrNotFound, unknown transactions and unspent outputs
// index.ErrNotFound; a zero asOf means the index's block tip.
type Bitcoin interface {
	BlockTip() (chainhash.Hash, int32)
	// Header is any known header, on the best chain or not.
	Header(hash chainhash.Hash) (index.HeaderInfo, error)
	// HeaderByHeight is the header at height in the chain as of asOf.
	HeaderByHeight(height int32, asOf chainhash.Hash) (index.HeaderInfo, error)
	// Block is a stored block, on any fork.
	Block(hash chainhash.Hash) (*wire.MsgBlock, error)
	// TxByID is a transaction confirmed in the chain as of asOf.
	TxByID(txid, asOf chainhash.Hash) (index.TxInfo, error)
	// SpendOf is the input spending op as of asOf.
	SpendOf(op wire.OutPoint, asOf chainhash.Hash) (index.Spend, error)
	// Outputs are the outputs paying script created at or above
	// fromHeight (the vault's, for the deposits still confirming).
	Outputs(script []byte, fromHeight int32, max int, asOf chainhash.Hash) ([]index.Output, error)
	// Params is the Bitcoin network (addresses are shown in its encoding).
	Params() *chaincfg.Params
}

var _ Bitcoin = (*index.Index)(nil)

// Caller calls the node's own JSON-RPC methods in process (token
// metadata by eth_call, traces and revert reasons by the ots methods),
// so the pages run under the same limits as the public RPC;
// go-ethereum's *rpc.Client over rpc.DialInProc implements it.
type Caller interface {
	CallContext(ctx context.Context, result any, method string, args ...any) error
}
