package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/txpool/legacypool"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/urfave/cli/v3"
	"golang.org/x/sync/errgroup"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/config"
	"github.com/hemi-go/hemi/internal/finality"
	"github.com/hemi-go/hemi/internal/rpc"
	"github.com/hemi-go/hemi/internal/sequencer"
	"github.com/hemi-go/hemi/internal/tbc"
)

const (
	flagSequencer = "sequencer"
	flagRPC       = "rpc"
)

func rpcFlag() cli.Flag {
	return &cli.StringFlag{Name: flagRPC, Usage: "JSON-RPC listen address (default 127.0.0.1:8545; empty: off)", Sources: cli.EnvVars("HEMI_RPC")}
}

// rpcConfig maps the [rpc] section onto the server's configuration.
func rpcConfig(c config.RPC, log *slog.Logger) rpc.Config {
	return rpc.Config{
		ListenAddr:           c.Listen,
		CORSOrigins:          c.CORSOrigins,
		VHosts:               c.VHosts,
		APIs:                 c.APIs,
		RequestTimeout:       c.RequestTimeout.Duration,
		ResponseMaxSize:      c.ResponseMaxSize,
		TraceTimeout:         c.TraceTimeout.Duration,
		TraceMaxBytes:        c.TraceMaxBytes,
		FiltersMax:           c.FiltersMax,
		FiltersPerClient:     c.FiltersPerClient,
		FilterMaxHashes:      c.FilterMaxHashes,
		SubscriptionsPerConn: c.SubscriptionsPerConn,
		Logger:               log.With("subsystem", "rpc"),
	}
}

func nodeCommand() *cli.Command {
	return &cli.Command{
		Name:  "node",
		Usage: "run a Hemi node: the Bitcoin layer and the L2 chain (with --sequencer, block production)",
		Description: "Syncs Bitcoin over P2P from --peer (as `hemi tbc`), opens the L2 chain whose genesis is\n" +
			"anchored at l2.genesis_btc_height, keeps the mempool, and with --sequencer builds and seals\n" +
			"a block every sequencer.block_time. The sealing key comes from sequencer.key_file or\n" +
			"$HEMI_SEQUENCER_KEY (hex), never from a flag.\n\n" +
			"Example: HEMI_SEQUENCER_KEY=... hemi node --sequencer --network regtest --peer 127.0.0.1:18444",
		Flags: append(btcFlags(),
			rpcFlag(),
			&cli.BoolFlag{Name: flagSequencer, Usage: "build and seal blocks (needs the sequencer key)", Sources: cli.EnvVars("HEMI_SEQUENCER")},
		),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			if cmd.IsSet(flagRPC) {
				cfg.RPC.Listen = cmd.String(flagRPC)
				if err := cfg.Validate(); err != nil {
					return err
				}
			}
			return runNode(ctx, cfg, cmd.Bool(flagSequencer))
		},
	}
}

// poolConfig maps the [txpool] section onto the mempool's configuration.
func poolConfig(c config.TxPool, journal string, log *slog.Logger) sequencer.PoolConfig {
	return sequencer.PoolConfig{
		Limits: legacypool.Config{
			PriceLimit:   c.PriceLimit,
			PriceBump:    c.PriceBump,
			AccountSlots: c.AccountSlots,
			GlobalSlots:  c.GlobalSlots,
			AccountQueue: c.AccountQueue,
			GlobalQueue:  c.GlobalQueue,
			Lifetime:     c.Lifetime.Duration,
		},
		Journal:   journal,
		Rejournal: c.Rejournal.Duration,
		Logger:    log.With("subsystem", "txpool"),
	}
}

// waitForHeight waits until ix has connected a block at height, logging
// while it waits.
func waitForHeight(ctx context.Context, ix *index.Index, height int32, log *slog.Logger) error {
	last := time.Time{}
	for {
		_, h := ix.BlockTip()
		if h >= height {
			return nil
		}
		if time.Since(last) > 10*time.Second {
			log.Info("waiting for the Bitcoin index to reach the L2 genesis block", "height", h, "genesis_btc_height", height)
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitSynced waits until the Bitcoin layer reports itself synced; it
// returns only ctx's error.
func waitSynced(ctx context.Context, svc *tbc.Service, log *slog.Logger) error {
	last := time.Now()
	for !svc.Progress().Synced {
		if time.Since(last) > 10*time.Second {
			p := svc.Progress()
			log.Info("sequencer waits for Bitcoin to sync", "block_height", p.BlockHeight, "header_height", p.HeaderHeight, "peers", p.Peers)
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// nodeSpec is the L2 genesis of cfg (see config.L2): the devnet genesis
// anchored at the Bitcoin block l2.genesis_btc_height, sealed by the
// configured sequencers (or self).
func nodeSpec(cfg config.Config, btc *sequencer.IndexBitcoin, self common.Address) (*genesis.Spec, error) {
	view, err := btc.MainChainAt(cfg.L2.GenesisBTCHeight)
	if err != nil {
		return nil, fmt.Errorf("L2 genesis view at Bitcoin height %d: %w", cfg.L2.GenesisBTCHeight, err)
	}
	seqs := make([]common.Address, 0, len(cfg.L2.Sequencers))
	for _, s := range cfg.L2.Sequencers {
		seqs = append(seqs, common.HexToAddress(s))
	}
	if len(seqs) == 0 {
		if self == (common.Address{}) {
			return nil, errors.New("l2.sequencers is empty: a node without --sequencer must name the sequencer addresses")
		}
		seqs = []common.Address{self}
	}
	ts := cfg.L2.GenesisTime
	if ts == 0 {
		ts = uint64(view.Header.Timestamp.Unix())
	}
	spec, _, err := genesis.DevnetSpec(seqs[0], view, ts)
	if err != nil {
		return nil, err
	}
	spec.Config.Sequencers = seqs
	spec.Config.BitcoinNetwork = cfg.BTC.Network
	spec.Config.BlockTime = cfg.Sequencer.BlockTime.Duration
	spec.Config.KeystoneInterval = cfg.L2.KeystoneInterval
	spec.Config.PoP.SuperfinalDepth = cfg.L2.SuperfinalDepth
	spec.Config.PoP.RewardDelay = cfg.L2.PoPRewardDelay
	if err := spec.Config.Validate(); err != nil {
		return nil, err
	}
	return spec, nil
}

func runNode(ctx context.Context, cfg config.Config, sequence bool) error {
	var key *ecdsa.PrivateKey
	if sequence {
		k, err := sequencer.LoadKey(cfg.Sequencer.KeyFile)
		if err != nil {
			return err
		}
		key = k
	}
	return runWithTBC(ctx, cfg, func(ctx context.Context, svc *tbc.Service, log *slog.Logger, reg *prometheus.Registry) error {
		return runL2(ctx, cfg, svc, key, log, reg)
	})
}

func runL2(ctx context.Context, cfg config.Config, svc *tbc.Service, key *ecdsa.PrivateKey, log *slog.Logger, reg prometheus.Registerer) error {
	ix := svc.Index()
	if err := waitForHeight(ctx, ix, cfg.L2.GenesisBTCHeight, log); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	btc := sequencer.NewIndexBitcoin(ix)
	var self common.Address
	if key != nil {
		self = crypto.PubkeyToAddress(key.PublicKey)
	}
	spec, err := nodeSpec(cfg, btc, self)
	if err != nil {
		return err
	}
	ccfg, err := chain.ConfigFromSpec(spec)
	if err != nil {
		return err
	}
	dir := filepath.Join(cfg.DataDir, cfg.BTC.Network, "l2")
	ccfg.Dir, ccfg.Bitcoin, ccfg.Logger = filepath.Join(dir, "chain"), btc, log.With("subsystem", "chain")
	c, err := chain.New(ccfg)
	if err != nil {
		return fmt.Errorf("L2 chain in %s: %w", ccfg.Dir, err)
	}
	defer c.Close()
	fin, err := finality.New(finality.Config{Index: ix, PoP: spec.Config.PoP, Logger: log.With("subsystem", "finality"), Registerer: reg})
	if err != nil {
		return err
	}
	if err := c.SetForkChoice(fin); err != nil {
		return err
	}
	fin.Bind(c)
	pool, err := sequencer.NewPool(c, poolConfig(cfg.TxPool, filepath.Join(dir, "transactions.rlp"), log))
	if err != nil {
		return err
	}
	var srv *rpc.Server
	if cfg.RPC.Listen != "" {
		rcfg := rpcConfig(cfg.RPC, log)
		rcfg.Bitcoin = ix
		rcfg.Finality = fin
		if srv, err = rpc.New(rcfg, c, pool); err != nil {
			pool.Close()
			return err
		}
	}
	var seq *sequencer.Sequencer
	if key != nil {
		seq, err = sequencer.New(sequencer.Config{Chain: c, Pool: pool, Bitcoin: btc, Key: key,
			BlockTime: spec.Config.BlockTime, Ahead: sequencer.AheadFor(cfg.Sequencer.StrictTipOrder),
			Logger: log.With("subsystem", "sequencer"), Registerer: reg})
		if err != nil {
			pool.Close()
			return err
		}
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return pool.Run(ctx) })
	g.Go(func() error { return fin.Run(ctx) })
	if srv != nil {
		g.Go(func() error { return srv.Run(ctx) })
	}
	if seq != nil {
		g.Go(func() error {
			// A sequencer that starts while Bitcoin is still syncing would
			// walk its view through old blocks one L2 block at a time.
			if err := waitSynced(ctx, svc, log); err != nil {
				return nil
			}
			return seq.Run(ctx)
		})
	} else {
		log.Info("L2 follower: no block source yet (L2 gossip comes with the network issue); serving the chain as it is",
			"head", c.Head().Number, "chain_id", spec.Config.ChainID)
	}
	return g.Wait()
}
