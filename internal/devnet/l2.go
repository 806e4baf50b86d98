package devnet

import (
	"crypto/ecdsa"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hemi-go/hemi/internal/chain/genesis"
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
// sealed by the public dev sequencer key (sequencer.DevKey), its Bitcoin
// view the index's block genesis.DefaultViewLag below its tip, and
// anvil's ten funded dev accounts. The caller runs it (Node.Run) and
// closes it.
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
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
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
		Logger:         log,
		Registerer:     cfg.Registerer,
	})
	if err != nil {
		return nil, fmt.Errorf("devnet: %w", err)
	}
	return &L2{Node: n, Accounts: accounts, Key: key}, nil
}
