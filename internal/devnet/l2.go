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
	"github.com/hemi-go/hemi/internal/finality"
	"github.com/hemi-go/hemi/internal/sequencer"
	"github.com/hemi-go/hemi/internal/txpool"
)

// L2 is the devnet's L2 side: the chain, its mempool, the sequencer and
// the finality service (the chain's PoP fork choice).
type L2 struct {
	Chain     *chain.Chain
	Pool      *txpool.Pool
	Sequencer *sequencer.Sequencer
	Finality  *finality.Service
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
	// KeystoneInterval overrides the keystone spacing (0: the genesis
	// default, 25 blocks).
	KeystoneInterval uint64
	// SuperfinalDepth overrides the Bitcoin confirmations of
	// superfinality (0: the devnet genesis default).
	SuperfinalDepth uint32
	// RewardDelay overrides the PoP reward delay in L2 blocks (0: the
	// devnet genesis default).
	RewardDelay uint64
	// StrictTipOrder turns off building ahead of the tick
	// (sequencer.Config.Ahead < 0).
	StrictTipOrder bool
	// Pool configures the mempool (Journal and Logger are set by NewL2).
	Pool       txpool.Config
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
// funded dev accounts. The caller runs Pool, Sequencer and Finality and
// closes Chain.
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
	if cfg.KeystoneInterval > 0 {
		spec.Config.KeystoneInterval = cfg.KeystoneInterval
	}
	if cfg.SuperfinalDepth > 0 {
		spec.Config.PoP.SuperfinalDepth = cfg.SuperfinalDepth
	}
	if cfg.RewardDelay > 0 {
		spec.Config.PoP.RewardDelay = cfg.RewardDelay
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
	fin, err := finality.New(finality.Config{Index: ix, PoP: spec.Config.PoP,
		Logger: cfg.Logger.With("subsystem", "finality"), Registerer: cfg.Registerer})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("devnet: %w", err)
	}
	if err := c.SetForkChoice(fin); err != nil {
		c.Close()
		return nil, fmt.Errorf("devnet: %w", err)
	}
	fin.Bind(c)
	pcfg := cfg.Pool
	pcfg.Journal = filepath.Join(cfg.Dir, "transactions.rlp")
	pcfg.Logger = cfg.Logger.With("subsystem", "txpool")
	pool, err := txpool.New(c, pcfg)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("devnet: %w", err)
	}
	seq, err := sequencer.New(sequencer.Config{
		Chain:      c,
		Pool:       pool,
		Committer:  sequencer.CommitFunc(c.CommitBuilt),
		Bitcoin:    btc,
		Key:        key,
		BlockTime:  spec.Config.BlockTime,
		Ahead:      sequencer.AheadFor(cfg.StrictTipOrder),
		Logger:     cfg.Logger.With("subsystem", "sequencer"),
		Registerer: cfg.Registerer,
	})
	if err != nil {
		pool.Close()
		c.Close()
		return nil, fmt.Errorf("devnet: %w", err)
	}
	return &L2{Chain: c, Pool: pool, Sequencer: seq, Finality: fin, Spec: spec, Accounts: accounts, Key: key}, nil
}
