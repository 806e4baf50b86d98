package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/tbc"
)

// GenesisSpec is the genesis of the network file f defines, over the
// Bitcoin block f names as btc's most-work chain has it (WaitGenesisBlock
// first): genesis.ErrGenesisBlock when that chain has another block at
// the height, chain.ErrViewNotReady while it has none.
func GenesisSpec(f *genesis.File, btc *Bitcoin) (*genesis.Spec, error) {
	view, err := btc.MainChainAt(f.Bitcoin.Height)
	if err != nil {
		return nil, fmt.Errorf("L2 genesis view at Bitcoin height %d: %w", f.Bitcoin.Height, err)
	}
	if view.Hash != f.Bitcoin.Hash {
		return nil, genesisBlockErr(f, view.Hash.String())
	}
	return f.Spec(view)
}

func genesisBlockErr(f *genesis.File, have string) error {
	return fmt.Errorf("%w: the genesis file's Bitcoin block at height %d is %v (bitcoin.genesis_hash), this node's most-work %s chain has %s there: "+
		"the node follows another Bitcoin chain than the network; check btc.peers, or that the genesis file is the network's",
		genesis.ErrGenesisBlock, f.Bitcoin.Height, f.Bitcoin.Hash, f.Config.BitcoinNetwork, have)
}

// WaitGenesisBlock waits until svc's index has f's genesis Bitcoin block
// on its most-work chain, saying at once and then every 10 s what it
// waits for. While the index is below the height, or holds another block
// there before Bitcoin has synced (a chain a sync may still replace), it
// waits; another block there once synced is genesis.ErrGenesisBlock.
func WaitGenesisBlock(ctx context.Context, svc *tbc.Service, f *genesis.File, log *slog.Logger) error {
	btc := NewBitcoin(svc.Index())
	last := time.Time{}
	for {
		_, tip := svc.BlockTip()
		have := ""
		if tip >= f.Bitcoin.Height {
			v, err := btc.MainChainAt(f.Bitcoin.Height)
			switch {
			case err == nil && v.Hash == f.Bitcoin.Hash:
				return nil
			case err == nil:
				have = v.Hash.String()
				if svc.Progress().Synced {
					return genesisBlockErr(f, have)
				}
			case !errors.Is(err, chain.ErrViewNotReady):
				return err
			}
		}
		if log != nil && time.Since(last) > 10*time.Second {
			log.Info("waiting for the Bitcoin index to reach the L2 genesis block", "height", tip,
				"genesis_btc_height", f.Bitcoin.Height, "genesis_btc_hash", f.Bitcoin.Hash, "index_has", have)
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
