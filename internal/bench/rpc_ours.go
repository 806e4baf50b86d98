package bench

import (
	"context"
	"fmt"
	"net"
	"path/filepath"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"golang.org/x/sync/errgroup"

	btcregtest "github.com/hemi-go/hemi/internal/btc/regtest"
	"github.com/hemi-go/hemi/internal/devnet"
	"github.com/hemi-go/hemi/internal/node"
	hemirpc "github.com/hemi-go/hemi/internal/rpc"
	"github.com/hemi-go/hemi/internal/tbc"
	"github.com/hemi-go/hemi/internal/txpool"
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
// time, gas limit and pool limits (devnet.NewL2 with GasLimit raised),
// its finality service running as under devnet.Run.
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
	var n *node.Node
	stop := func() error {
		cancel()
		werr := g.Wait()
		if n != nil {
			n.Close()
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
	if err := node.WaitIndexed(gctx, svc.Index(), btcHeight, nil); err != nil {
		return nil, fmt.Errorf("bench: wait for the indexer to reach height %d: %w", btcHeight, err)
	}
	// The devnet's L2 with the benchmark's block time, gas limit and pool
	// limits. Its logs go to the sequencer logger (--log-blocks).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: rpc listener: %w", err)
	}
	l2, err := devnet.NewL2(svc, devnet.L2Config{
		Dir:         filepath.Join(dir, "l2"),
		BlockTime:   cfg.BlockTime,
		GasLimit:    cfg.GasLimit,
		Pool:        txpool.Config{Limits: cfg.PoolLimits},
		RPC:         hemirpc.Config{Logger: quiet},
		RPCListener: ln,
		Logger:      cfg.SequencerLogger,
	})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("bench: %w", err)
	}
	n = l2.Node
	g.Go(func() error { return l2.Run(gctx) })
	return &oursStack{url: "http://" + ln.Addr().String(), chainID: l2.Spec.Config.ChainID, stop: stop}, nil
}
