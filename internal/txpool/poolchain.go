package txpool

import (
	"context"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/txpool"
	"github.com/ethereum/go-ethereum/core/txpool/legacypool"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/event"
	"github.com/ethereum/go-ethereum/params"
)

var (
	_ txpool.BlockChain     = (*poolChain)(nil)
	_ legacypool.BlockChain = (*poolChain)(nil)
)

// poolChain is the chain as go-ethereum's transaction pool sees it. Our
// system transactions are not go-ethereum transactions (0x7E does not
// decode as types.Transaction), so the pool's blocks carry the header and
// the user transactions only: what the pool needs to drop included and
// re-inject reorged-out transactions.
type poolChain struct {
	c    Chain
	feed event.Feed // core.ChainHeadEvent, from follow
}

func (p *poolChain) Config() *params.ChainConfig { return p.c.Config().ChainConfig }

func (p *poolChain) CurrentBlock() *types.Header { return p.c.Head() }

// GetBlock returns the block as a types.Block of header and user
// transactions, nil if unknown or not at number.
func (p *poolChain) GetBlock(hash common.Hash, number uint64) *types.Block {
	b, err := p.c.BlockByHash(hash)
	if err != nil || b.Header.Number.Uint64() != number {
		return nil
	}
	return types.NewBlockWithHeader(b.Header).WithBody(types.Body{Transactions: b.Body.Txs})
}

func (p *poolChain) StateAt(root common.Hash, _ *big.Int, _ uint64) (*state.StateDB, error) {
	return p.c.StateAt(root)
}

func (p *poolChain) SubscribeChainHeadEvent(ch chan<- core.ChainHeadEvent) event.Subscription {
	return p.feed.Subscribe(ch)
}

// follow forwards every new head of the chain after from to the pool
// until ctx is done.
func (p *poolChain) follow(ctx context.Context, from uint64) {
	for h := range p.c.Subscribe(ctx, from) {
		p.feed.Send(core.ChainHeadEvent{Header: h})
	}
}
