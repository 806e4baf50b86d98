package devnet

import (
	"crypto/ecdsa"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/explorer"
	"github.com/hemi-go/hemi/internal/node"
	"github.com/hemi-go/hemi/internal/rpc"
	"github.com/hemi-go/hemi/internal/sequencer"
	"github.com/hemi-go/hemi/internal/tbc"
	"github.com/hemi-go/hemi/internal/txpool"
)

// L2 is the devnet's L2 node (internal/node: the chain, its mempool, the
// sequencer, the finality service and the JSON-RPC server) with the dev
// accounts its genesis funds and its sealing key.
type L2 struct {
	*node.Node
	Accounts []genesis.DevAccount
	Key      *ecdsa.PrivateKey
	// File is the genesis file the L2 runs (written to
	// L2Config.GenesisPath when set).
	File *genesis.File
}

// L2Config configures NewL2.
type L2Config struct {
	// Dir holds the chain database and the mempool journal.
	Dir string
	// GenesisPath, when set, is where the genesis file is written (an
	// existing file there is replaced: the devnet's data is new at every
	// start), so that `hemi node --genesis` can run the same network.
	GenesisPath string
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
	// Pool configures the mempool (Journal and Logger are set by the
	// node).
	Pool txpool.Config
	// RPC and RPCListener configure the JSON-RPC server
	// (node.Config's; off when both are unset).
	RPC         rpc.Config
	RPCListener net.Listener
	Logger      *slog.Logger
	Registerer  prometheus.Registerer
}

// NewL2 builds the devnet's L2 node on svc's index: the devnet genesis
// file (genesis.DevnetFile) sealed by the public dev sequencer key
// (sequencer.DevKey), its Bitcoin view the index's block
// genesis.DefaultViewLag below its tip, its time now, anvil's ten
// funded dev accounts and the dev tunnel (genesis.DevTunnelConfig); the
// file is written to cfg.GenesisPath. The caller
// runs the node (Node.Run) and closes it.
func NewL2(svc *tbc.Service, cfg L2Config) (*L2, error) {
	key := sequencer.DevKey()
	ix := svc.Index()
	_, tip := ix.BlockTip()
	gh := tip - int32(genesis.DefaultViewLag)
	if gh < 0 {
		gh = 0
	}
	view, err := node.NewBitcoin(ix).MainChainAt(gh)
	if err != nil {
		return nil, fmt.Errorf("devnet: genesis view: %w", err)
	}
	file, accounts, err := genesis.DevnetFile(crypto.PubkeyToAddress(key.PublicKey),
		genesis.BitcoinBlock{Height: view.Height, Hash: view.Hash}, uint64(time.Now().Unix()))
	if err != nil {
		return nil, fmt.Errorf("devnet: genesis: %w", err)
	}
	file.SequencerNames = []string{"devnet"}
	c := &file.Config
	// The dev tunnel: a 2-of-3 committee and 2-of-3 recovery set of
	// public dev keys, recovery after DevRecoveryDelay blocks.
	if c.Tunnel, err = genesis.DevTunnelConfig(); err != nil {
		return nil, fmt.Errorf("devnet: genesis: %w", err)
	}
	if cfg.BlockTime > 0 {
		c.BlockTime = cfg.BlockTime
	}
	if cfg.GasLimit > 0 {
		c.GasLimit = cfg.GasLimit
	}
	if cfg.KeystoneInterval > 0 {
		c.KeystoneInterval = cfg.KeystoneInterval
	}
	if cfg.SuperfinalDepth > 0 {
		c.PoP.SuperfinalDepth = cfg.SuperfinalDepth
	}
	if cfg.RewardDelay > 0 {
		c.PoP.RewardDelay = cfg.RewardDelay
	}
	spec, err := file.Spec(view)
	if err != nil {
		return nil, fmt.Errorf("devnet: genesis: %w", err)
	}
	if cfg.GenesisPath != "" {
		if err := writeGenesis(cfg.GenesisPath, file); err != nil {
			return nil, err
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The explorer serves the genesis file: its chain-of-trust page
	// offers it to the in-browser verifier as the network's identity.
	gen, err := file.Encode()
	if err != nil {
		return nil, fmt.Errorf("devnet: genesis: %w", err)
	}
	n, err := node.New(node.Config{
		Dir:            cfg.Dir,
		BTC:            svc,
		Spec:           spec,
		Key:            key,
		StrictTipOrder: cfg.StrictTipOrder,
		TxPool:         cfg.Pool,
		RPC:            cfg.RPC,
		RPCListener:    cfg.RPCListener,
		Explorer:       explorer.Config{Genesis: gen},
		Logger:         log,
		Registerer:     cfg.Registerer,
	})
	if err != nil {
		return nil, fmt.Errorf("devnet: %w", err)
	}
	return &L2{Node: n, Accounts: accounts, Key: key, File: file}, nil
}

// writeGenesis writes f to path atomically (a reader never sees half a
// file).
func writeGenesis(path string, f *genesis.File) error {
	data, err := f.Encode()
	if err != nil {
		return fmt.Errorf("devnet: genesis file: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("devnet: genesis file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("devnet: genesis file: %w", err)
	}
	return nil
}
