package regtest

import (
	"fmt"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/mining"
)

// MineEmpty is Mine with blocks that hold only their coinbase, whatever
// the mempool offers. Tests use it to build a replacement branch without
// the transactions a reorg returned to the mempool (a publication that
// must stay orphaned until the next ordinary Mine).
func (n *Node) MineEmpty(count int, addr address.Address) ([]chainhash.Hash, error) {
	if addr == nil || !addr.IsForNet(n.params) {
		return nil, fmt.Errorf("%w: mining address is not a regtest address", ErrConfig)
	}
	gen := mining.NewBlkTmplGenerator(&mining.Policy{
		BlockMaxWeight: blockchain.MaxBlockWeight - 4000,
		BlockMaxSize:   blockchain.MaxBlockBaseSize - 1000,
		TxMinFreeFee:   n.cfg.MinRelayTxFee,
	}, n.params, noTxs{}, n.chain, blockchain.NewMedianTime(), nil, nil)
	return n.mine(count, addr, nil, gen)
}

// noTxs is a mining.TxSource with nothing to offer.
type noTxs struct{}

func (noTxs) LastUpdated() time.Time               { return time.Time{} }
func (noTxs) MiningDescs() []*mining.TxDesc        { return nil }
func (noTxs) HaveTransaction(*chainhash.Hash) bool { return false }
