package node

import (
	"context"
	"log/slog"
	"time"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/finality"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/netp2p"
	"github.com/hemi-go/hemi/internal/node/indexadapt"
	"github.com/hemi-go/hemi/internal/popm"
	"github.com/hemi-go/hemi/internal/rpc"
	"github.com/hemi-go/hemi/internal/sequencer"
	"github.com/hemi-go/hemi/internal/txpool"
)

// The assembly's adapters, asserted at compile time: the index answers
// the chain, the block producer, finality and the RPC layer; the mempool
// serves the RPC layer and the block producer.
var (
	_ chain.Bitcoin         = (*Bitcoin)(nil)
	_ chain.Bitcoin         = (*indexadapt.Chain)(nil)
	_ hvm.BitcoinView       = (*indexadapt.View)(nil)
	_ popm.Bitcoin          = indexadapt.PoPMiner{}
	_ sequencer.Bitcoin     = (*Bitcoin)(nil)
	_ finality.Bitcoin      = (*index.Index)(nil)
	_ rpc.Bitcoin           = (*index.Index)(nil)
	_ rpc.Pool              = (*txpool.Pool)(nil)
	_ sequencer.Pool        = (*txpool.Pool)(nil)
	_ sequencer.Chain       = (*chain.Chain)(nil)
	_ txpool.Chain          = (*chain.Chain)(nil)
	_ rpc.Finality          = (*finality.Service)(nil)
	_ netp2p.Chain          = (*chain.Chain)(nil)
	_ netp2p.Finalizer      = (*finality.Service)(nil)
	_ netp2p.BitcoinHeaders = (*index.Index)(nil)
)

// Bitcoin is the Bitcoin index as the L2 consumers ask for it: the
// chain's view rules, execution views and publications
// and the block producer's main-chain lookup (MainChainAt), all
// indexadapt.Chain's.
type Bitcoin struct {
	*indexadapt.Chain
}

// NewBitcoin adapts ix.
func NewBitcoin(ix *index.Index) *Bitcoin {
	return &Bitcoin{Chain: indexadapt.NewChain(ix)}
}

// WaitIndexed waits until ix has connected a block at height or above.
// With a logger it says at once and then every 10 s what it waits for (a
// node waiting for its L2 genesis block); it returns only ctx's error.
func WaitIndexed(ctx context.Context, ix *index.Index, height int32, log *slog.Logger) error {
	last := time.Time{}
	for {
		_, h := ix.BlockTip()
		if h >= height {
			return nil
		}
		if log != nil && time.Since(last) > 10*time.Second {
			log.Info("waiting for the Bitcoin index to reach the L2 genesis block", "height", h, "genesis_btc_height", height)
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
