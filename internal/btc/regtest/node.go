package regtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/database"
	_ "github.com/btcsuite/btcd/database/ffldb" // the block database driver
	"github.com/btcsuite/btcd/mempool"
	"github.com/btcsuite/btcd/mining"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/hemi-go/hemi/internal/btc/peerserve"
)

// Sentinel errors; callers match them with errors.Is.
var (
	// ErrConfig means the Config is invalid.
	ErrConfig = errors.New("invalid regtest config")
	// ErrClosed means the node has been closed.
	ErrClosed = errors.New("regtest node closed")
	// ErrNotFound means an unknown block or transaction; it is
	// peerserve.ErrNotFound, as the Source contract asks.
	ErrNotFound = peerserve.ErrNotFound
	// ErrTxRejected means the mempool refused a transaction; the error is
	// a *TxRejectError with the reject code and reason.
	ErrTxRejected = errors.New("transaction rejected")
	// ErrBlockRejected means consensus refused a block.
	ErrBlockRejected = errors.New("block rejected")
	// ErrStorage means the block database failed.
	ErrStorage = errors.New("regtest storage failed")
)

// Defaults of Config.
const (
	DefaultListenAddr = "127.0.0.1:0"
	// DefaultMinRelayTxFee is the mempool's minimum fee rate in satoshis
	// per 1000 virtual bytes, Bitcoin Core's and btcd's default.
	DefaultMinRelayTxFee = btcutil.Amount(mempool.DefaultMinRelayTxFee)
	utxoCacheBytes       = 64 << 20
)

// Config configures a Node. It is not changed after New.
type Config struct {
	// DataDir holds the block database. Empty means a temporary directory
	// that Close removes; a non-empty directory is reopened if it holds a
	// regtest database.
	DataDir string
	// ListenAddr is the P2P listen address; empty means DefaultListenAddr
	// (loopback, a free port).
	ListenAddr string
	// Logger receives the node's logs; nil means slog.Default().
	Logger *slog.Logger
	// MineInterval, when positive, makes Run mine one block to MiningAddr
	// at that interval.
	MineInterval time.Duration
	// MiningAddr receives the timer's coinbases; required with
	// MineInterval.
	MiningAddr address.Address
	// MinRelayTxFee is the mempool's minimum fee rate per 1000 vbytes; 0
	// means DefaultMinRelayTxFee.
	MinRelayTxFee btcutil.Amount
	// Registerer registers the node's and its P2P server's Prometheus
	// metrics; nil means they are not registered.
	Registerer prometheus.Registerer
	// P2PLimits bound what peers can make the P2P server hold (unfinished
	// handshakes, connections per address, partly received messages);
	// zero fields are peerserve's defaults.
	P2PLimits peerserve.Limits
}

// Node is the embedded regtest node. Its methods are safe for concurrent
// use.
type Node struct {
	cfg    Config
	log    *slog.Logger
	params *chaincfg.Params
	dir    string
	ownDir bool

	db    database.DB
	chain *blockchain.BlockChain
	pool  *mempool.TxPool
	gen   *mining.BlkTmplGenerator
	srv   *peerserve.Server

	mineMu     sync.Mutex
	extraNonce uint64 // guarded by mineMu
	mined      prometheus.Counter

	subMu   sync.Mutex
	subs    map[int]func(peerserve.Announcement)
	nextSub int

	// closeMu is held shared by every operation on the database and
	// exclusively by Close.
	closeMu sync.RWMutex
	closed  bool
}

var (
	_ peerserve.Source        = (*Node)(nil)
	_ peerserve.MempoolLister = (*Node)(nil)
	_ peerserve.BlockAcceptor = (*Node)(nil)
)

// New opens (or creates) the chain database, builds the chain, mempool and
// miner, and starts listening for peers; Run serves them.
func New(cfg Config) (*Node, error) {
	if cfg.MineInterval < 0 {
		return nil, fmt.Errorf("%w: MineInterval %s is negative", ErrConfig, cfg.MineInterval)
	}
	params := params()
	if cfg.MineInterval > 0 {
		if cfg.MiningAddr == nil {
			return nil, fmt.Errorf("%w: MineInterval needs a MiningAddr", ErrConfig)
		}
		if !cfg.MiningAddr.IsForNet(params) {
			return nil, fmt.Errorf("%w: MiningAddr %s is not a regtest address", ErrConfig, cfg.MiningAddr.EncodeAddress())
		}
	}
	if cfg.MinRelayTxFee < 0 {
		return nil, fmt.Errorf("%w: MinRelayTxFee %d is negative", ErrConfig, cfg.MinRelayTxFee)
	}
	if cfg.MinRelayTxFee == 0 {
		cfg.MinRelayTxFee = DefaultMinRelayTxFee
	}
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = DefaultListenAddr
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	n := &Node{
		cfg:        cfg,
		log:        cfg.Logger.With("subsystem", "regtest"),
		params:     params,
		subs:       make(map[int]func(peerserve.Announcement)),
		extraNonce: uint64(time.Now().UnixNano()),
	}
	if err := n.openDB(); err != nil {
		return nil, err
	}
	if err := n.build(); err != nil {
		n.closeDB()
		return nil, err
	}
	if err := n.registerMetrics(); err != nil {
		n.closeDB()
		return nil, err
	}
	srv, err := peerserve.New(peerserve.Config{
		ListenAddr: cfg.ListenAddr,
		Params:     params,
		Source:     n,
		Logger:     cfg.Logger,
		UserAgent:  "hemi-regtest",
		Registerer: cfg.Registerer,
		Limits:     cfg.P2PLimits,
	})
	if err != nil {
		n.closeDB()
		return nil, fmt.Errorf("regtest: p2p server: %w", err)
	}
	n.srv = srv
	best := n.chain.BestSnapshot()
	n.log.Info("regtest node ready", "dir", n.dir, "p2p", srv.Addr(), "height", best.Height, "tip", best.Hash.String())
	return n, nil
}

func (n *Node) openDB() error {
	n.dir = n.cfg.DataDir
	if n.dir == "" {
		d, err := os.MkdirTemp("", "hemi-regtest-")
		if err != nil {
			return fmt.Errorf("%w: temp dir: %w", ErrStorage, err)
		}
		n.dir, n.ownDir = d, true
	}
	path := filepath.Join(n.dir, "blocks_ffldb")
	db, err := database.Open("ffldb", path, n.params.Net)
	if err != nil {
		var dbErr database.Error
		if !errors.As(err, &dbErr) || dbErr.ErrorCode != database.ErrDbDoesNotExist {
			n.removeDir()
			return fmt.Errorf("%w: open %s: %w", ErrStorage, path, err)
		}
		if err := os.MkdirAll(n.dir, 0o700); err != nil {
			n.removeDir()
			return fmt.Errorf("%w: mkdir %s: %w", ErrStorage, n.dir, err)
		}
		if db, err = database.Create("ffldb", path, n.params.Net); err != nil {
			n.removeDir()
			return fmt.Errorf("%w: create %s: %w", ErrStorage, path, err)
		}
	}
	n.db = db
	return nil
}

func (n *Node) build() error {
	timeSource := blockchain.NewMedianTime()
	sigCache := txscript.NewSigCache(100_000)
	hashCache := txscript.NewHashCache(10_000)
	chain, err := blockchain.New(&blockchain.Config{
		DB:               n.db,
		UtxoCacheMaxSize: utxoCacheBytes,
		ChainParams:      n.params,
		TimeSource:       timeSource,
		SigCache:         sigCache,
		HashCache:        hashCache,
	})
	if err != nil {
		return fmt.Errorf("%w: chain: %w", ErrStorage, err)
	}
	n.chain = chain
	n.pool = mempool.New(&mempool.Config{
		Policy: mempool.Policy{
			// Mainnet-like relay policy, as btcd --rejectnonstd.
			DisableRelayPriority: true,
			AcceptNonStd:         false,
			// No free relay: like Bitcoin Core, a new transaction below
			// MinRelayTxFee is refused (btcd's rate limiter at zero).
			FreeTxRelayLimit:  0,
			MaxOrphanTxs:      100,
			MaxOrphanTxSize:   100_000,
			MaxSigOpCostPerTx: blockchain.MaxBlockSigOpsCost / 4,
			MinRelayTxFee:     n.cfg.MinRelayTxFee,
			MaxTxVersion:      2,
		},
		ChainParams:    n.params,
		FetchUtxoView:  chain.FetchUtxoView,
		BestHeight:     func() int32 { return chain.BestSnapshot().Height },
		MedianTimePast: func() time.Time { return chain.BestSnapshot().MedianTime },
		CalcSequenceLock: func(tx *btcutil.Tx, view *blockchain.UtxoViewpoint) (*blockchain.SequenceLock, error) {
			return chain.CalcSequenceLock(tx, view, true)
		},
		IsDeploymentActive: chain.IsDeploymentActive,
		SigCache:           sigCache,
		HashCache:          hashCache,
	})
	n.gen = mining.NewBlkTmplGenerator(&mining.Policy{
		BlockMaxWeight: blockchain.MaxBlockWeight - 4000,
		BlockMaxSize:   blockchain.MaxBlockBaseSize - 1000,
		TxMinFreeFee:   n.cfg.MinRelayTxFee,
	}, n.params, n.pool, chain, timeSource, sigCache, hashCache)
	chain.Subscribe(n.onChainEvent)
	return nil
}

// Run serves peers, and mines on the timer if configured, until ctx is
// done; then it closes the node.
func (n *Node) Run(ctx context.Context) error {
	defer func() {
		if err := n.Close(); err != nil {
			n.log.Warn("regtest close failed", "err", err)
		}
	}()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return n.srv.Run(ctx) })
	if n.cfg.MineInterval > 0 {
		g.Go(func() error { n.mineLoop(ctx); return nil })
	}
	return g.Wait()
}

func (n *Node) mineLoop(ctx context.Context) {
	t := time.NewTicker(n.cfg.MineInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		hs, err := n.Mine(1, n.cfg.MiningAddr)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, ErrClosed) {
				return
			}
			n.log.Warn("regtest timed mining failed", "err", err)
			continue
		}
		_, height := n.Tip()
		n.log.Info("regtest mined block", "height", height, "hash", hs[0].String())
	}
}

// Close stops listening (if Run never ran), flushes and closes the
// database and removes a temporary data directory. It waits for running
// operations and is safe to call more than once.
func (n *Node) Close() error {
	n.closeMu.Lock()
	defer n.closeMu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	n.srv.Close()
	var errs []error
	if err := n.chain.FlushUtxoCache(blockchain.FlushRequired); err != nil {
		errs = append(errs, fmt.Errorf("%w: flush utxo cache: %w", ErrStorage, err))
	}
	if err := n.closeDB(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (n *Node) closeDB() error {
	var err error
	if cerr := n.db.Close(); cerr != nil {
		err = fmt.Errorf("%w: close database: %w", ErrStorage, cerr)
	}
	n.removeDir()
	return err
}

func (n *Node) removeDir() {
	if n.ownDir {
		_ = os.RemoveAll(n.dir)
	}
}

// acquire takes the shared close lock; release with n.closeMu.RUnlock.
func (n *Node) acquire() error {
	n.closeMu.RLock()
	if n.closed {
		n.closeMu.RUnlock()
		return ErrClosed
	}
	return nil
}

// Params are the chain parameters (regtest).
func (n *Node) Params() *chaincfg.Params { return n.params }

// P2PAddr is the address peers connect to.
func (n *Node) P2PAddr() string { return n.srv.Addr() }

// PeerCount is the number of connected P2P peers.
func (n *Node) PeerCount() int { return n.srv.PeerCount() }

// params are the regtest chain parameters every Node uses.
func params() *chaincfg.Params { return &chaincfg.RegressionNetParams }

// registerMetrics creates the node's collectors and registers them on
// cfg.Registerer, if any.
func (n *Node) registerMetrics() error {
	const ns, sub = "hemi", "btc_regtest"
	n.mined = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
		Name: "blocks_mined_total", Help: "Blocks the embedded node mined."})
	height := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
		Name: "height", Help: "Height of the best block."},
		func() float64 { return float64(n.chain.BestSnapshot().Height) })
	txs := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
		Name: "mempool_txs", Help: "Transactions in the mempool."},
		func() float64 { return float64(n.pool.Count()) })
	if n.cfg.Registerer == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{n.mined, height, txs} {
		if err := n.cfg.Registerer.Register(c); err != nil {
			return fmt.Errorf("%w: register metrics (one Node per registerer): %w", ErrConfig, err)
		}
	}
	return nil
}
