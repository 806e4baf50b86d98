package devnet

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/sequencer"
)

// L2 is the devnet's L2 side: the chain, its mempool and the sequencer.
type L2 struct {
	Chain     *chain.Chain
	Pool      *sequencer.Pool
	Sequencer *sequencer.Sequencer
	Spec      *genesis.Spec
	Accounts  []genesis.DevAccount
	Key       *ecdsa.PrivateKey
}

// L2Config configures NewL2.
type L2Config struct {
	// Dir holds the chain database and the mempool journal.
	Dir string
	// BlockTime is the L2 block time (default genesis.DefaultBlockTime).
	BlockTime time.Duration
	// GasLimit is the L2 block gas limit (default the genesis default).
	GasLimit uint64
	// Pool configures the mempool (Journal and Logger are set by NewL2).
	Pool       sequencer.PoolConfig
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// WaitIndexed waits until ix has connected a block at height or above.
func WaitIndexed(ctx context.Context, ix *index.Index, height int32) error {
	for {
		if _, h := ix.BlockTip(); h >= height {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// NewL2 starts the devnet's L2 on ix: the devnet genesis sealed by the
// public dev sequencer key (sequencer.DevKey), its Bitcoin view the
// index's block genesis.DefaultViewLag below its tip, and anvil's ten
// funded dev accounts. The caller runs Pool and Sequencer and closes
// Chain.
func NewL2(ix *index.Index, cfg L2Config) (*L2, error) {
	key := sequencer.DevKey()
	btc := sequencer.NewIndexBitcoin(ix)
	_, tip := ix.BlockTip()
	gh := tip - int32(genesis.DefaultViewLag)
	if gh < 0 {
		gh = 0
	}
	view, err := btc.MainChainAt(gh)
	if err != nil {
		return nil, fmt.Errorf("devnet: genesis view: %w", err)
	}
	spec, accounts, err := genesis.DevnetSpec(crypto.PubkeyToAddress(key.PublicKey), view, uint64(time.Now().Unix()))
	if err != nil {
		return nil, fmt.Errorf("devnet: genesis: %w", err)
	}
	if cfg.BlockTime > 0 {
		spec.Config.BlockTime = cfg.BlockTime
	}
	if cfg.GasLimit > 0 {
		spec.Config.GasLimit = cfg.GasLimit
	}
	ccfg, err := chain.ConfigFromSpec(spec)
	if err != nil {
		return nil, fmt.Errorf("devnet: %w", err)
	}
	ccfg.Dir = filepath.Join(cfg.Dir, "chain")
	ccfg.Bitcoin = btc
	ccfg.Logger = cfg.Logger.With("subsystem", "chain")
	c, err := chain.New(ccfg)
	if err != nil {
		return nil, fmt.Errorf("devnet: %w", err)
	}
	pcfg := cfg.Pool
	pcfg.Journal = filepath.Join(cfg.Dir, "transactions.rlp")
	pcfg.Logger = cfg.Logger.With("subsystem", "txpool")
	pool, err := sequencer.NewPool(c, pcfg)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("devnet: %w", err)
	}
	seq, err := sequencer.New(sequencer.Config{
		Chain:      c,
		Pool:       pool,
		Bitcoin:    btc,
		Key:        key,
		BlockTime:  spec.Config.BlockTime,
		Logger:     cfg.Logger.With("subsystem", "sequencer"),
		Registerer: cfg.Registerer,
	})
	if err != nil {
		pool.Close()
		c.Close()
		return nil, fmt.Errorf("devnet: %w", err)
	}
	return &L2{Chain: c, Pool: pool, Sequencer: seq, Spec: spec, Accounts: accounts, Key: key}, nil
}
