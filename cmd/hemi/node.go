package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/ethereum/go-ethereum/core/txpool/legacypool"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/urfave/cli/v3"

	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/config"
	"github.com/hemi-go/hemi/internal/explorer"
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
	// flagSequencerURL is rpc.sequencer_urls.
	flagSequencerURL = "sequencer-url"
)

func sequencerURLFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: flagSequencerURL, Sources: cli.EnvVars("HEMI_RPC_SEQUENCER_URLS"),
		Usage: "a sequencer's public JSON-RPC URL a follower forwards eth_sendRawTransaction to (repeat for each member of a group)"}
}

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
		Description: "Syncs Bitcoin over P2P from --peer (as `hemi tbc`), opens the L2 chain of the network's\n" +
			"genesis file (--genesis; `hemi genesis new` writes one) once its Bitcoin index has the\n" +
			"genesis Bitcoin block, keeps the mempool, and with --sequencer builds and seals a block\n" +
			"every block_time of the genesis. btc.network must be the genesis file's bitcoin.network. The\n" +
			"sealing key comes from sequencer.key_file or $HEMI_SEQUENCER_KEY (hex), never from a flag;\n" +
			"its address must be one of the genesis file's sequencers. With --ha-listen the sequencer is a\n" +
			"member of a raft group ([ha]; `hemi ha`) and builds only while it leads. Blocks travel between\n" +
			"nodes over libp2p ([net]): a follower lists the network's nodes with --net-peer and imports\n" +
			"the blocks they gossip.\n\n" +
			"Example: HEMI_SEQUENCER_KEY=... hemi node --sequencer --genesis genesis.json --network regtest --peer 127.0.0.1:18444",
		Flags: append(append(append(btcFlags(), haFlags()...), netFlags()...),
			genesisFlag(),
			rpcFlag(),
			sequencerURLFlag(),
			&cli.BoolFlag{Name: flagSequencer, Usage: "build and seal blocks (needs the sequencer key)", Sources: cli.EnvVars("HEMI_SEQUENCER")},
		),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			cfg, _, err := loadConfig(cmd, keyUse{uses: []string{"datadir", "genesis", "log", "metrics", "btc", "sequencer", "txpool", "rpc", "ha", "net", "explorer"}})
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

// loadGenesis loads the genesis file cfg names and checks the node can
// run it: the same Bitcoin network, and with key, a sealing key of its
// sequencer set.
func loadGenesis(cfg config.Config, key *ecdsa.PrivateKey) (*genesis.File, error) {
	if cfg.Genesis == "" {
		return nil, fmt.Errorf("%w: `hemi node` needs the network's genesis file: set genesis = FILE in the config, --genesis FILE or "+
			"HEMI_GENESIS (`hemi genesis new` writes one; `hemi devnet` prints the path of its own)", config.ErrInvalid)
	}
	f, err := genesis.Load(cfg.Genesis)
	if err != nil {
		return nil, err
	}
	if net := f.Config.BitcoinNetwork; net != cfg.BTC.Network {
		return nil, fmt.Errorf("%w: btc.network is %s but the genesis file %s defines a network on Bitcoin %s (bitcoin.network): "+
			"set btc.network (--network, HEMI_BTC_NETWORK) to %s, or use this network's genesis file", config.ErrInvalid, cfg.BTC.Network, cfg.Genesis, net, net)
	}
	if key != nil {
		if addr := crypto.PubkeyToAddress(key.PublicKey); !f.Config.IsSequencer(addr) {
			return nil, fmt.Errorf("%w: the sequencer key's address %v is not one of the genesis file's sequencers %v: "+
				"use the seal key of one of them (sequencer.key_file, HEMI_SEQUENCER_KEY), or run without --sequencer", config.ErrInvalid, addr, f.Config.Sequencers)
		}
	}
	return f, nil
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
	f, err := loadGenesis(cfg, key)
	if err != nil {
		return err
	}
	// Another network's data is refused before Bitcoin syncs; the copy is
	// kept once the genesis block is built (runL2).
	if err := pinGenesis(l2Dir(cfg), cfg.Genesis, f, false); err != nil {
		return err
	}
	return runWithTBC(ctx, cfg, func(ctx context.Context, svc *tbc.Service, log *slog.Logger, reg *prometheus.Registry) error {
		log.Info("genesis file", "path", cfg.Genesis, "hash", f.Hash(), "chain_id", f.Config.ChainID,
			"genesis_btc_height", f.Bitcoin.Height, "genesis_btc_hash", f.Bitcoin.Hash, "sequencers", len(f.Config.Sequencers))
		return runL2(ctx, cfg, f, svc, key, log, reg)
	})
}

func runL2(ctx context.Context, cfg config.Config, f *genesis.File, svc *tbc.Service, key *ecdsa.PrivateKey, log *slog.Logger, reg prometheus.Registerer) error {
	if err := node.WaitGenesisBlock(ctx, svc, f, log); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	spec, err := node.GenesisSpec(f, node.NewBitcoin(svc.Index()))
	if err != nil {
		return err
	}
	hc, err := haConfig(cfg.HA)
	if err != nil {
		return err
	}
	if hc != nil && key == nil {
		return fmt.Errorf("ha.listen is set but this node does not sequence: a sequencer group member runs with --sequencer and its key")
	}
	dir := l2Dir(cfg)
	if err := pinGenesis(dir, cfg.Genesis, f, true); err != nil {
		return err
	}
	// The explorer serves the genesis file (/genesis.json): its
	// chain-of-trust page offers it to the in-browser verifier.
	gen, err := f.Encode()
	if err != nil {
		return err
	}
	n, err := node.New(node.Config{
		HA:             hc,
		GenesisHash:    f.Hash(),
		Dir:            dir,
		BTC:            svc,
		Spec:           spec,
		Key:            key,
		StrictTipOrder: cfg.Sequencer.StrictTipOrder,
		WaitSynced:     true,
		TxPool:         poolConfig(cfg.TxPool, log),
		RPC:            rpcConfig(cfg.RPC, log),
		SequencerURLs:  cfg.RPC.SequencerURLs,
		P2P:            netConfig(cfg.Net),
		NoExplorer:     cfg.Explorer.Off,
		NoAddrIndex:    cfg.Explorer.NoAddrIndex,
		Explorer: explorer.Config{Name: cfg.Explorer.Name, PublicRPC: cfg.Explorer.PublicRPC,
			PublicExplorer: cfg.Explorer.PublicURL, Genesis: gen},
		Logger:     log,
		Registerer: reg,
	})
	if err != nil {
		return err
	}
	defer n.Close()
	return n.Run(ctx)
}

// l2Dir is the node's L2 data directory.
func l2Dir(cfg config.Config) string { return filepath.Join(cfg.DataDir, cfg.BTC.Network, "l2") }

// pinnedGenesis is the copy of the genesis file a node keeps beside its
// L2 data.
const pinnedGenesis = "genesis.json"

// pinGenesis refuses a genesis file other than the one kept in the
// node's L2 data directory, and with keep, keeps f there when none is:
// parameters that are not in the genesis block (PoP, block time, fork
// schedule) would otherwise change under a chain built with others,
// unnoticed.
func pinGenesis(dir, path string, f *genesis.File, keep bool) error {
	pinned := filepath.Join(dir, pinnedGenesis)
	old, err := genesis.Load(pinned)
	switch {
	case err == nil:
		if old.Hash() != f.Hash() {
			return fmt.Errorf("%w: %s holds the L2 data of the network whose genesis file (kept as %s) has hash %v; --genesis %s has hash %v: "+
				"use that network's genesis file, or another --datadir for this network", config.ErrInvalid, dir, pinned, old.Hash(), path, f.Hash())
		}
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("the genesis file kept with the L2 data: %w", err)
	case !keep:
		return nil
	}
	data, err := f.Encode()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := pinned + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, pinned)
}
