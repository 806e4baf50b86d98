package popm

import (
	"context"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/p2p"
)

// IndexPeers and IndexFees are what the assembly's in-process adapter
// (internal/node/indexadapt.PoPMiner) takes besides the index: the P2P
// client that broadcasts and the fee estimator (*tbc.Service is both).
type (
	IndexPeers interface {
		Broadcast(ctx context.Context, tx *wire.MsgTx) (p2p.BroadcastResult, error)
	}
	IndexFees interface {
		FeeRate(target int) (int64, chainhash.Hash, error)
	}
)

// NewIndexBitcoinHook makes the assembly's in-process Bitcoin. A test of
// package popm cannot import indexadapt, which imports popm, so
// indexadapt_test.go (package popm_test, linked into the same test
// binary) sets it at init: the integration tests run the miner on the
// very adapter the devnet runs it on.
var NewIndexBitcoinHook func(ix *index.Index, peers IndexPeers, fees IndexFees) Bitcoin

// newIndexBitcoin is the assembly's Bitcoin over ix, peers and fees
// (NewIndexBitcoinHook).
func newIndexBitcoin(ix *index.Index, peers IndexPeers, fees IndexFees) Bitcoin {
	if NewIndexBitcoinHook == nil {
		panic("popm test: NewIndexBitcoinHook is not set (indexadapt_test.go sets it)")
	}
	return NewIndexBitcoinHook(ix, peers, fees)
}
