package bench

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/ethereum/go-ethereum/crypto"
	"golang.org/x/sync/errgroup"

	"github.com/hemi-go/hemi/internal/btc/index"
	btcregtest "github.com/hemi-go/hemi/internal/btc/regtest"
	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/devnet"
	hemirpc "github.com/hemi-go/hemi/internal/rpc"
	"github.com/hemi-go/hemi/internal/sequencer"
	"github.com/hemi-go/hemi/internal/tbc"
)

// oursStack is our devnet stack running in this process: the embedded
// regtest Bitcoin, the indexer syncing from it over P2P, the L2 chain,
// mempool, sequencer and JSON-RPC, wired as devnet.Run wires them.
type oursStack struct {
	url     string
	chainID uint64
	stop    func() error
}

// startOurs starts the devnet stack in dir with the benchmark's L2 block
// time, gas limit and pool limits. It differs from devnet.Run only there:
// devnet.NewL2 takes no gas limit, so the L2 is built here from the same
// genesis.DevnetSpec with Config.GasLimit raised.
func startOurs(ctx context.Context, cfg RPCConfig, dir string) (_ *oursStack, err error) {
	quiet := cfg.Logger
	_, minerAddr, err := devnet.MinerKey()
	if err != nil {
		return nil, fmt.Errorf("bench: devnet mining key: %w", err)
	}
	btc, err := btcregtest.New(btcregtest.Config{DataDir: filepath.Join(dir, "regtest"), Logger: quiet,
		MineInterval: cfg.BTCBlockInterval, MiningAddr: minerAddr})
	if err != nil {
		return nil, fmt.Errorf("bench: regtest: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	g, gctx := errgroup.WithContext(ctx)
	var c *chain.Chain
	stop := func() error {
		cancel()
		werr := g.Wait()
		if c != nil {
			c.Close()
		}
		btc.Close()
		if werr != nil {
			return fmt.Errorf("bench: our devnet stack: %w", werr)
		}
		return nil
	}
	defer func() {
		if err != nil {
			_ = stop()
		}
	}()
	g.Go(func() error { return btc.Run(gctx) })
	if _, err := btc.Mine(cfg.BTCInitialBlocks, minerAddr); err != nil {
		return nil, fmt.Errorf("bench: mine initial regtest blocks: %w", err)
	}
	svc, err := tbc.New(tbc.Config{Params: &chaincfg.RegressionNetParams, DataDir: filepath.Join(dir, "node"),
		Peers: []string{btc.P2PAddr()}, Logger: quiet})
	if err != nil {
		return nil, fmt.Errorf("bench: indexer: %w", err)
	}
	g.Go(func() error { return svc.Run(gctx) })
	_, btcHeight := btc.Tip()
	if err := waitIndexed(gctx, svc.Index(), btcHeight); err != nil {
		return nil, fmt.Errorf("bench: wait for the indexer to reach height %d: %w", btcHeight, err)
	}
	l2, err := newBenchL2(svc.Index(), cfg, filepath.Join(dir, "l2"))
	if err != nil {
		return nil, err
	}
	c = l2.chain
	srv, err := hemirpc.New(hemirpc.Config{Logger: quiet, Bitcoin: svc.Index()}, l2.chain, l2.pool)
	if err != nil {
		return nil, fmt.Errorf("bench: rpc server: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: rpc listener: %w", err)
	}
	g.Go(func() error { return l2.pool.Run(gctx) })
	g.Go(func() error { return l2.seq.Run(gctx) })
	g.Go(func() error { return srv.Serve(gctx, ln) })
	return &oursStack{url: "http://" + ln.Addr().String(), chainID: l2.chainID, stop: stop}, nil
}

// waitIndexed waits until ix has connected a block at height or above.
func waitIndexed(ctx context.Context, ix *index.Index, height int32) error {
	for {
		if _, h := ix.BlockTip(); h >= height {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

type benchL2 struct {
	chain   *chain.Chain
	pool    *sequencer.Pool
	seq     *sequencer.Sequencer
	chainID uint64
}

// newBenchL2 is devnet.NewL2 with the benchmark's gas limit.
func newBenchL2(ix *index.Index, cfg RPCConfig, dir string) (*benchL2, error) {
	key := sequencer.DevKey()
	btc := sequencer.NewIndexBitcoin(ix)
	_, tip := ix.BlockTip()
	gh := max(tip-int32(genesis.DefaultViewLag), 0)
	view, err := btc.MainChainAt(gh)
	if err != nil {
		return nil, fmt.Errorf("bench: genesis view: %w", err)
	}
	spec, _, err := genesis.DevnetSpec(crypto.PubkeyToAddress(key.PublicKey), view, uint64(time.Now().Unix()))
	if err != nil {
		return nil, fmt.Errorf("bench: devnet genesis: %w", err)
	}
	spec.Config.BlockTime = cfg.BlockTime
	spec.Config.GasLimit = cfg.GasLimit
	ccfg, err := chain.ConfigFromSpec(spec)
	if err != nil {
		return nil, fmt.Errorf("bench: chain config: %w", err)
	}
	ccfg.Dir = filepath.Join(dir, "chain")
	ccfg.Bitcoin = btc
	ccfg.Logger = cfg.Logger
	c, err := chain.New(ccfg)
	if err != nil {
		return nil, fmt.Errorf("bench: chain: %w", err)
	}
	pool, err := sequencer.NewPool(c, sequencer.PoolConfig{
		Limits:  cfg.PoolLimits,
		Journal: filepath.Join(dir, "transactions.rlp"),
		Logger:  cfg.Logger,
	})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("bench: pool: %w", err)
	}
	seq, err := sequencer.New(sequencer.Config{
		Chain:     c,
		Pool:      pool,
		Bitcoin:   btc,
		Key:       key,
		BlockTime: spec.Config.BlockTime,
		Logger:    cfg.SequencerLogger,
	})
	if err != nil {
		pool.Close()
		c.Close()
		return nil, fmt.Errorf("bench: sequencer: %w", err)
	}
	return &benchL2{chain: c, pool: pool, seq: seq, chainID: spec.Config.ChainID}, nil
}
