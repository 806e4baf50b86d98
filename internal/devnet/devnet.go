package devnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hemi-go/hemi/internal/btc/peerserve"
	"github.com/hemi-go/hemi/internal/btc/regtest"
	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/rpc"
	"github.com/hemi-go/hemi/internal/sequencer"
	"github.com/hemi-go/hemi/internal/txpool"
)

// MinerSeed derives the dev mining key. It is public: devnet coins are for
// development only, like anvil's well-known accounts.
const MinerSeed = "hemi devnet miner"

// Config configures Run.
type Config struct {
	// DataDir is wiped and recreated at start.
	DataDir string
	// P2P is the regtest node's listen address.
	P2P string
	// P2PLimits bound the regtest node's P2P server (zero fields:
	// peerserve's defaults).
	P2PLimits peerserve.Limits
	// API is the Bitcoin query API's listen address ("" turns it off).
	API string
	// BlockInterval is how often a block is mined (0: only the initial ones).
	BlockInterval time.Duration
	// InitialBlocks are mined at start so the dev coinbase matures.
	InitialBlocks int
	// Progress is how often the indexer logs sync progress.
	Progress   time.Duration
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Out receives the banner saying what to connect to.
	Out io.Writer
	// L2BlockTime is the L2 block time (0: genesis.DefaultBlockTime, 2 s).
	L2BlockTime time.Duration
	// KeystoneInterval, SuperfinalDepth and RewardDelay override the
	// devnet genesis (0: its defaults; L2Config).
	KeystoneInterval uint64
	SuperfinalDepth  uint32
	RewardDelay      uint64
	// StrictTipOrder: L2Config.StrictTipOrder.
	StrictTipOrder bool
	// Pool configures the mempool (Journal is set by Run).
	Pool txpool.Config
	// RPC configures the JSON-RPC server; an empty ListenAddr turns it
	// off. Chain, pool and Bitcoin are Run's.
	RPC rpc.Config
	// PoPM configures the in-process PoP miner (on unless Off).
	PoPM PoPMConfig
}

// MinerKey returns the dev mining key and its P2WPKH regtest address.
func MinerKey() (*txgen.Key, address.Address, error) {
	k := txgen.DeriveKey([]byte(MinerSeed), 0)
	a, err := k.Address(txgen.P2WPKH, &chaincfg.RegressionNetParams)
	return k, a, err
}

// Run starts the devnet and blocks until ctx is done: Start on
// cfg.DataDir, wiped first, with interval mining, the configured listen
// addresses and no bound on its start-up waits, printing the banner once
// every service runs.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Logger == nil || cfg.Out == nil {
		return errors.New("devnet: Config.Logger and Config.Out are required")
	}
	if err := os.RemoveAll(cfg.DataDir); err != nil {
		return fmt.Errorf("devnet: wipe %s: %w", cfg.DataDir, err)
	}
	initial := cfg.InitialBlocks
	if initial == 0 {
		initial = -1 // none; StartConfig's 0 is its default
	}
	d, err := Start(ctx, StartConfig{
		DataDir:          cfg.DataDir,
		InitialBlocks:    initial,
		P2P:              cfg.P2P,
		P2PLimits:        cfg.P2PLimits,
		MineInterval:     cfg.BlockInterval,
		API:              cfg.API,
		Progress:         cfg.Progress,
		L2BlockTime:      cfg.L2BlockTime,
		KeystoneInterval: cfg.KeystoneInterval,
		SuperfinalDepth:  cfg.SuperfinalDepth,
		RewardDelay:      cfg.RewardDelay,
		StrictTipOrder:   cfg.StrictTipOrder,
		Pool:             cfg.Pool,
		PoPM:             cfg.PoPM,
		RPC:              cfg.RPC.ListenAddr != "",
		RPCServer:        cfg.RPC,
		WaitTimeout:      -1,
		Logger:           cfg.Logger,
		Registerer:       cfg.Registerer,
	})
	if err != nil {
		return err
	}
	key, addr, err := MinerKey()
	if err != nil {
		d.Close()
		return fmt.Errorf("devnet: mining key: %w", err)
	}
	printBanner(cfg, d.BTC, key, addr)
	printL2Banner(cfg.Out, d.L2, d.GenesisPath, d.BTC.P2PAddr(), cfg.RPC.ListenAddr)
	printTunnelBanner(cfg.Out, d.L2.File, d.GenesisPath, cfg.API, cfg.RPC.ListenAddr)
	printSignerBanner(cfg.Out, d)
	if d.Wallet != nil {
		printPoPMBanner(cfg.Out, d.Wallet, cfg.API, cfg.RPC.ListenAddr)
	}
	<-d.Done()
	return d.Close()
}

func printL2Banner(out io.Writer, l2 *L2, genesisPath, btcAddr, rpcAddr string) {
	fmt.Fprintf(out, `L2 (Hemi EVM chain, sequenced here)
  chain id     %d
  block time   %s (empty blocks too); Bitcoin view lags the tip by %d blocks
  sequencer    %s   (sealing key: the public devnet key, seed %q; development only)
  genesis      block %s
  genesis file %[7]s
               hash %[8]s (hemi genesis hash FILE); the same network on this Bitcoin:
               hemi node --genesis %[7]s --network regtest --peer %[9]s \
                 --datadir /tmp/hemi-node2 --rpc 127.0.0.1:8546 --api 127.0.0.1:7341

Dev accounts (anvil's well-known keys from the mnemonic
"%s"; 10,000 ETH each; PUBLIC, never use them on a real network)
`, l2.Spec.Config.ChainID, l2.Spec.Config.BlockTime, l2.Spec.Config.ViewLag, l2.Sequencer.Address(), sequencer.DevKeySeed,
		l2.Chain.Genesis().Hash(), genesisPath, l2.File.Hash(), btcAddr, genesis.DevMnemonic)
	for i, a := range l2.Accounts {
		fmt.Fprintf(out, "  (%d) %s  0x%x\n", i, a.Address, crypto.FromECDSA(a.Key))
	}
	if rpcAddr == "" {
		fmt.Fprintf(out, "\nJSON-RPC is off (rpc.listen is empty).\n\n")
		return
	}
	k0 := fmt.Sprintf("0x%x", crypto.FromECDSA(l2.Accounts[0].Key))
	fmt.Fprintf(out, `
JSON-RPC (HTTP and WebSocket)
  http://%[1]s   ws://%[1]s
  cast         cast block-number --rpc-url http://%[1]s
               cast balance %[2]s --rpc-url http://%[1]s
               cast send --rpc-url http://%[1]s --private-key %[3]s \
                 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 --value 1ether
  MetaMask     Settings > Networks > Add a network manually: RPC URL http://%[1]s,
               chain ID %[4]d, currency symbol ETH; import a dev account by its key above.
               (The devnet's data is new at every start: reset the account's activity in MetaMask.)

`, rpcAddr, l2.Accounts[0].Address, k0, l2.Spec.Config.ChainID)
}

func printBanner(cfg Config, btc *regtest.Node, key *txgen.Key, addr address.Address) {
	wif, err := btcutil.NewWIF(key.Priv, &chaincfg.RegressionNetParams, true)
	wifs := "(unavailable)"
	if err == nil {
		wifs = wif.String()
	}
	_, height := btc.Tip()
	every := "only on demand"
	if cfg.BlockInterval > 0 {
		every = "every " + cfg.BlockInterval.String()
	}
	api := cfg.API
	if api == "" {
		api = "(off)"
	}
	fmt.Fprintf(cfg.Out, `
Hemi devnet is running. Ctrl-C stops it; its data is wiped at the next start.

Bitcoin (embedded regtest, full consensus validation)
  P2P          %s   (btcd --regtest --connect=%[1]s --notls)
  height       %d, mining %s
  dev miner    %s
  miner key    %s   (WIF; regtest coins, development only)

Bitcoin indexer (TBC), syncing from it over P2P
  query API    %s
  try          go run ./cmd/hemi btc tip
               go run ./cmd/hemi btc balance %[4]s
               go run ./cmd/hemi btc header %[2]d

`, btc.P2PAddr(), height, every, addr.String(), wifs, api)
}
