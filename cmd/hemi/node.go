package main

import (
	"context"
	"crypto/ecdsa"
	"log/slog"
	"path/filepath"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/txpool/legacypool"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/urfave/cli/v3"

	"github.com/hemi-go/hemi/internal/config"
	"github.com/hemi-go/hemi/internal/netp2p"
	"github.com/hemi-go/hemi/internal/node"
	"github.com/hemi-go/hemi/internal/rpc"
	"github.com/hemi-go/hemi/internal/sequencer"
	"github.com/hemi-go/hemi/internal/tbc"
	"github.com/hemi-go/hemi/internal/txpool"
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
			"$HEMI_SEQUENCER_KEY (hex), never from a flag. Blocks travel between nodes over libp2p ([net]):\n" +
			"a follower lists the network's nodes with --net-peer and imports the blocks they gossip.\n\n" +
			"Example: HEMI_SEQUENCER_KEY=... hemi node --sequencer --network regtest --peer 127.0.0.1:18444",
		Flags: append(append(btcFlags(), netFlags()...),
			rpcFlag(),
			&cli.BoolFlag{Name: flagSequencer, Usage: "build and seal blocks (needs the sequencer key)", Sources: cli.EnvVars("HEMI_SEQUENCER")},
		),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			cfg, _, err := loadConfig(cmd, keyUse{uses: []string{"datadir", "log", "metrics", "btc", "l2", "sequencer", "txpool", "rpc", "net"}})
			if err != nil {
				return err
			}
			return runNode(ctx, cfg, cmd.Bool(flagSequencer))
		},
	}
}

// poolConfig maps the [txpool] section onto the mempool's configuration
// (the node sets its journal).
func poolConfig(c config.TxPool, log *slog.Logger) txpool.Config {
	return txpool.Config{
		Limits: legacypool.Config{
			PriceLimit:   c.PriceLimit,
			PriceBump:    c.PriceBump,
			AccountSlots: c.AccountSlots,
			GlobalSlots:  c.GlobalSlots,
			AccountQueue: c.AccountQueue,
			GlobalQueue:  c.GlobalQueue,
			Lifetime:     c.Lifetime.Duration,
		},
		Rejournal: c.Rejournal.Duration,
		Logger:    log.With("subsystem", "txpool"),
	}
}

// nodeGenesis maps the [l2] section (and the network and block time) onto
// the node's genesis (see config.L2).
func nodeGenesis(cfg config.Config) node.Genesis {
	seqs := make([]common.Address, 0, len(cfg.L2.Sequencers))
	for _, s := range cfg.L2.Sequencers {
		seqs = append(seqs, common.HexToAddress(s))
	}
	return node.Genesis{
		BTCHeight:        cfg.L2.GenesisBTCHeight,
		Time:             cfg.L2.GenesisTime,
		Sequencers:       seqs,
		Network:          cfg.BTC.Network,
		BlockTime:        cfg.Sequencer.BlockTime.Duration,
		KeystoneInterval: cfg.L2.KeystoneInterval,
		SuperfinalDepth:  cfg.L2.SuperfinalDepth,
		RewardDelay:      cfg.L2.PoPRewardDelay,
	}
}

// netConfig maps the [net] section onto the node's L2 networking (the
// node fills in the chain, genesis and identity).
func netConfig(c config.Net) netp2p.Config {
	return netp2p.Config{ListenAddrs: c.Listen, Peers: c.Peers, MaxPeers: c.MaxPeers}
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
	if err := node.WaitIndexed(ctx, svc.Index(), cfg.L2.GenesisBTCHeight, log); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	var self common.Address
	if key != nil {
		self = crypto.PubkeyToAddress(key.PublicKey)
	}
	spec, err := node.GenesisSpec(nodeGenesis(cfg), node.NewBitcoin(svc.Index()), self)
	if err != nil {
		return err
	}
	n, err := node.New(node.Config{
		Dir:            filepath.Join(cfg.DataDir, cfg.BTC.Network, "l2"),
		BTC:            svc,
		Spec:           spec,
		Key:            key,
		StrictTipOrder: cfg.Sequencer.StrictTipOrder,
		WaitSynced:     true,
		TxPool:         poolConfig(cfg.TxPool, log),
		RPC:            rpcConfig(cfg.RPC, log),
		P2P:            netConfig(cfg.Net),
		Logger:         log,
		Registerer:     reg,
	})
	if err != nil {
		return err
	}
	defer n.Close()
	return n.Run(ctx)
}
