package devnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/hemi-go/hemi/internal/btc/peerserve"
	"github.com/hemi-go/hemi/internal/btc/regtest"
	"github.com/hemi-go/hemi/internal/netp2p"
	"github.com/hemi-go/hemi/internal/popm"
	"github.com/hemi-go/hemi/internal/rpc"
	"github.com/hemi-go/hemi/internal/signer"
	"github.com/hemi-go/hemi/internal/tbc"
	"github.com/hemi-go/hemi/internal/txpool"
)

// ErrStopped means the devnet stopped (one of its services failed, or
// Close was called) while a caller waited on it.
var ErrStopped = errors.New("devnet stack stopped")

// Start defaults.
const (
	// DefaultInitialBlocks are mined before the indexer starts, so the
	// dev miner's first coinbase (which funds the PoP miner) is mature.
	DefaultInitialBlocks = 101
	// DefaultWait bounds each start-up wait when the caller's context has
	// no deadline.
	DefaultWait = 30 * time.Second
	// poll is how often a start-up wait re-checks the index.
	poll = 5 * time.Millisecond
	// GenesisFile is the name of the genesis file the devnet writes in
	// its data directory.
	GenesisFile = "genesis.json"
)

// StartConfig configures Start. Zero values take the devnet's defaults
// (NewL2's and the PoP miner's).
type StartConfig struct {
	// DataDir holds every database; empty means a temporary directory
	// that Close removes.
	DataDir string
	// InitialBlocks are mined before the indexer starts (0:
	// DefaultInitialBlocks; negative: none). The PoP miner needs at
	// least DefaultInitialBlocks.
	InitialBlocks int
	// P2P is the regtest node's listen address (empty: a free loopback
	// port).
	P2P string
	// P2PLimits bound the regtest node's P2P server
	// (regtest.Config.P2PLimits).
	P2PLimits peerserve.Limits
	// MineInterval, when positive, mines a regtest block this often
	// (regtest.Config.MineInterval).
	MineInterval time.Duration
	// API is the Bitcoin query API's listen address (empty: off) and
	// Progress how often the indexer logs sync progress
	// (tbc.Config's).
	API      string
	Progress time.Duration
	// L2BlockTime, KeystoneInterval, SuperfinalDepth and RewardDelay
	// override the L2 genesis (L2Config).
	L2BlockTime      time.Duration
	KeystoneInterval uint64
	SuperfinalDepth  uint32
	RewardDelay      uint64
	// StrictTipOrder: L2Config.StrictTipOrder.
	StrictTipOrder bool
	// Pool configures the mempool (L2Config.Pool).
	Pool txpool.Config
	// PoPM configures the in-process PoP miner.
	PoPM PoPMConfig
	// RPC serves the L2's JSON-RPC (HTTP and WebSocket); Devnet.RPCURL
	// names it.
	RPC bool
	// RPCServer configures that server; Bitcoin and Finality are the
	// node's, a nil Logger or Registerer the devnet's. An empty
	// ListenAddr means a free loopback port accepting any Host header.
	RPCServer rpc.Config
	// L2P2P is the L2 node's libp2p networking (node.Config.P2P): with a
	// listen address, follower nodes of a test can gossip and sync from
	// the devnet's sequencer. Zero: off.
	L2P2P netp2p.Config
	// WaitTimeout bounds each start-up wait when the caller's context
	// has no deadline: 0 means DefaultWait, negative no bound.
	WaitTimeout time.Duration
	// SignersOff turns the in-process tunnel signers off (they run when
	// the genesis has a tunnel and RPC is on; signers.go).
	SignersOff bool
	// SignerRebroadcast is how often the in-process signers send an
	// assembled, unmined payout again (signer.Config.Rebroadcast; 0 its
	// default).
	SignerRebroadcast time.Duration
	// OnL2, if set, is called once the L2 node is built, before it or
	// the PoP miner runs (a harness subscribes to its heads there).
	OnL2 func(d *Devnet)
	// Logger receives every service's logs; nil discards them.
	Logger *slog.Logger
	// Registerer gets the services' metrics; may be nil.
	Registerer prometheus.Registerer
}

// Devnet is a whole devnet in one process: the embedded regtest Bitcoin
// node, the Bitcoin layer syncing from it over P2P, the L2 node
// (internal/node) and the PoP miner funded from the dev coinbase. Start
// starts its services in order (the indexer must have the funding block
// before the L2 and the miner start) and returns once all of them run;
// Close stops them. Its methods are safe for concurrent use.
type Devnet struct {
	BTC *regtest.Node
	TBC *tbc.Service
	L2  *L2
	// Wallet is the PoP miner's (nil with PoPM.Off); its RewardAddress
	// receives the L2 rewards.
	Wallet *popm.Wallet
	Miner  *popm.Miner
	// Signers are the dev tunnel committee's signers (signers.go).
	Signers []*signer.Signer
	// MinerAddr receives the dev miner's coinbases.
	MinerAddr address.Address
	// RPCURL is the JSON-RPC server's http:// URL (empty without
	// StartConfig.RPC).
	RPCURL string
	// GenesisPath is the L2's genesis file (GenesisFile in the data
	// directory): `hemi node --genesis GenesisPath` against this
	// devnet's Bitcoin runs the same network.
	GenesisPath string

	cfg    StartConfig
	log    *slog.Logger
	dir    string
	ownDir bool
	ctx    context.Context // the services' context
	cancel context.CancelFunc
	g      *errgroup.Group

	closeOnce sync.Once
	closeErr  error
}

// Start starts the devnet's services in ctx's lifetime (or until Close):
// it mines the initial regtest blocks, waits for the indexer, funds the
// PoP miner, and starts the L2 node and the miner. On error, whatever
// started is stopped.
func Start(ctx context.Context, cfg StartConfig) (_ *Devnet, err error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Devnet{cfg: cfg, log: log, dir: cfg.DataDir}
	if d.dir == "" {
		if d.dir, err = os.MkdirTemp("", "hemi-stack-"); err != nil {
			return nil, fmt.Errorf("devnet: stack: %w", err)
		}
		d.ownDir = true
	}
	ctx, d.cancel = context.WithCancel(ctx)
	d.g, d.ctx = errgroup.WithContext(ctx)
	defer func() {
		if err != nil {
			if cerr := d.Close(); cerr != nil {
				log.Warn("stack close after a failed start", "err", cerr)
			}
		}
	}()
	key, addr, err := MinerKey()
	if err != nil {
		return nil, fmt.Errorf("devnet: mining key: %w", err)
	}
	d.MinerAddr = addr
	if d.BTC, err = regtest.New(regtest.Config{DataDir: filepath.Join(d.dir, "regtest"), ListenAddr: cfg.P2P,
		P2PLimits: cfg.P2PLimits, MineInterval: cfg.MineInterval, Logger: log, MiningAddr: addr, Registerer: cfg.Registerer}); err != nil {
		return nil, fmt.Errorf("devnet: %w", err)
	}
	d.g.Go(func() error { return d.BTC.Run(d.ctx) })
	if n := cfg.InitialBlocks; n >= 0 {
		if n == 0 {
			n = DefaultInitialBlocks
		}
		if _, err := d.BTC.Mine(n, addr); err != nil {
			return nil, fmt.Errorf("devnet: mine initial blocks: %w", err)
		}
	}
	if d.TBC, err = tbc.New(tbc.Config{Params: &chaincfg.RegressionNetParams, DataDir: filepath.Join(d.dir, "node"),
		Peers: []string{d.BTC.P2PAddr()}, API: cfg.API, Progress: cfg.Progress, Logger: log,
		Registerer: cfg.Registerer}); err != nil {
		return nil, fmt.Errorf("devnet: %w", err)
	}
	d.g.Go(func() error { return d.TBC.Run(d.ctx) })
	if err := d.waitIndexed(ctx); err != nil {
		return nil, err
	}
	if !cfg.PoPM.Off {
		if d.Wallet, err = PoPMWallet(); err != nil {
			return nil, fmt.Errorf("devnet: pop miner wallet: %w", err)
		}
		if err := FundPoPM(d.ctx, d.BTC, d.TBC, key, d.Wallet); err != nil {
			return nil, err
		}
	}
	if err := d.startL2(); err != nil {
		return nil, err
	}
	if d.Wallet != nil {
		if d.Miner, err = newPoPM(Config{DataDir: d.dir, Logger: log, Registerer: cfg.Registerer, PoPM: cfg.PoPM},
			d.TBC, d.L2, d.Wallet); err != nil {
			return nil, fmt.Errorf("devnet: %w", err)
		}
		d.g.Go(func() error { return d.Miner.Run(d.ctx) })
	}
	if err := d.startSigners(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Devnet) startL2() error {
	d.GenesisPath = filepath.Join(d.dir, GenesisFile)
	lcfg := L2Config{Dir: filepath.Join(d.dir, "l2"), GenesisPath: d.GenesisPath, BlockTime: d.cfg.L2BlockTime,
		KeystoneInterval: d.cfg.KeystoneInterval, SuperfinalDepth: d.cfg.SuperfinalDepth,
		RewardDelay: d.cfg.RewardDelay, StrictTipOrder: d.cfg.StrictTipOrder, Pool: d.cfg.Pool, P2P: d.cfg.L2P2P,
		Logger: d.log, Registerer: d.cfg.Registerer}
	if d.cfg.RPC {
		lcfg.RPC = d.cfg.RPCServer
		if lcfg.RPC.ListenAddr == "" {
			lcfg.RPC.ListenAddr, lcfg.RPC.VHosts = "127.0.0.1:0", []string{"*"}
		}
		ln, err := net.Listen("tcp", lcfg.RPC.ListenAddr)
		if err != nil {
			return fmt.Errorf("devnet: rpc listen %s: %w", lcfg.RPC.ListenAddr, err)
		}
		lcfg.RPCListener = ln
		d.RPCURL = "http://" + ln.Addr().String()
	}
	l2, err := NewL2(d.TBC, lcfg)
	if err != nil {
		if lcfg.RPCListener != nil {
			lcfg.RPCListener.Close()
		}
		return err
	}
	d.L2 = l2
	if d.cfg.OnL2 != nil {
		d.cfg.OnL2(d)
	}
	d.g.Go(func() error { return l2.Run(d.ctx) })
	return nil
}

// waitIndexed waits until the indexer's tip is the regtest node's,
// bounded by StartConfig.WaitTimeout unless ctx has a deadline.
func (d *Devnet) waitIndexed(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok && d.cfg.WaitTimeout >= 0 {
		wait := d.cfg.WaitTimeout
		if wait == 0 {
			wait = DefaultWait
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		want, _ := d.BTC.Tip()
		if got, _ := d.TBC.Index().BlockTip(); got == want {
			return nil
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("devnet: wait for the indexer to reach the regtest tip: %w", ctx.Err())
		case <-d.ctx.Done():
			return fmt.Errorf("devnet: wait for the indexer to reach the regtest tip: %w", d.Stopped())
		}
	}
}

// Go runs f in the devnet's group, with the services' context: f must
// return when that context is done; an error stops the devnet.
func (d *Devnet) Go(f func(ctx context.Context) error) {
	d.g.Go(func() error { return f(d.ctx) })
}

// Close stops every service, waits for them and closes the L2 node; it
// returns the first service error (none for a clean stop). Later calls
// return the same.
func (d *Devnet) Close() error {
	d.closeOnce.Do(func() { d.closeErr = d.close() })
	return d.closeErr
}

func (d *Devnet) close() error {
	d.cancel()
	err := d.g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	if d.L2 != nil {
		if cerr := d.L2.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	if d.BTC != nil {
		if cerr := d.BTC.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	if d.ownDir {
		if rerr := os.RemoveAll(d.dir); rerr != nil && err == nil {
			err = rerr
		}
	}
	return err
}

// Done is closed when the devnet stops: one of its services failed, or
// Close was called, or Start's context ended. Close then says why.
func (d *Devnet) Done() <-chan struct{} { return d.ctx.Done() }

// Stopped explains why the devnet stopped: ErrStopped, wrapping the
// failed service's error if one failed.
func (d *Devnet) Stopped() error {
	if err := context.Cause(d.ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("%w: %w", ErrStopped, err)
	}
	return ErrStopped
}

// Dir is the devnet's data directory (a temporary one, removed by Close,
// when StartConfig.DataDir was empty).
func (d *Devnet) Dir() string { return d.dir }
