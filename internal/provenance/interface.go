package provenance

import (
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/finality/tracker"
	"github.com/hemi-go/hemi/internal/pop"
)

// Chain is what the builder reads of the L2 chain; *chain.Chain
// implements it. Unknown blocks and transactions wrap chain.ErrNotFound.
//
// Concurrency: called from RPC handlers at once; must be safe for that.
type Chain interface {
	Head() *types.Header
	TxLookup(hash common.Hash) (*chain.TxLocation, error)
	HeaderByHash(hash common.Hash) (*types.Header, error)
	HeaderByNumber(number uint64) (*types.Header, error)
	BlockByHash(hash common.Hash) (*chain.Block, error)
	Receipts(hash common.Hash) (types.Receipts, error)
	StateAt(root common.Hash) (*state.StateDB, error)
	CoveringKeystone(number uint64) uint64
	KeystoneAt(number uint64) (*pop.L2Keystone, error)
	KeystoneByID(id [32]byte) (*pop.L2Keystone, error)
}

var _ Chain = (*chain.Chain)(nil)

// Finality is what the builder asks of the finality service: the
// effective publication of a keystone (DESIGN 4). *finality.Service
// implements it.
type Finality interface {
	KeystoneStatus(k *pop.L2Keystone) tracker.Status
}

// Bitcoin is what the builder reads of the Bitcoin index; *index.Index
// implements it.
type Bitcoin interface {
	BlockTip() (chainhash.Hash, int32)
	HeaderByHeight(height int32, asOf chainhash.Hash) (index.HeaderInfo, error)
	Block(hash chainhash.Hash) (*wire.MsgBlock, error)
	TxByID(txid, asOf chainhash.Hash) (index.TxInfo, error)
}

var _ Bitcoin = (*index.Index)(nil)
