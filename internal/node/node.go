package node

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/derive"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/clock"
	"github.com/hemi-go/hemi/internal/explorer"
	"github.com/hemi-go/hemi/internal/explorer/addrindex"
	"github.com/hemi-go/hemi/internal/finality"
	"github.com/hemi-go/hemi/internal/ha"
	"github.com/hemi-go/hemi/internal/netp2p"
	"github.com/hemi-go/hemi/internal/provenance"
	"github.com/hemi-go/hemi/internal/rpc"
	"github.com/hemi-go/hemi/internal/sequencer"
	"github.com/hemi-go/hemi/internal/tbc"
	"github.com/hemi-go/hemi/internal/txpool"
)

// Config configures a Node. It is not modified after New.
type Config struct {
	// Dir holds the L2's databases: chain/, finality/ (the finality
	// service's state), addrindex/ (the explorer's address index) and
	// the mempool journal transactions.rlp ("" keeps the databases in
	// memory and no journal: tests).
	Dir string
	// BTC is the node's Bitcoin layer (required). Its Run is the
	// caller's and starts first: the L2 genesis is read from its index
	// (GenesisSpec), and the devnet funds its PoP miner from it before
	// the L2 starts.
	BTC *tbc.Service
	// GenesisHash is the hash of the network's genesis file
	// (genesis.File.Hash): L2 peers with another are refused at the
	// handshake. Zero: the genesis block's hash (tests, the in-process
	// devnet).
	GenesisHash common.Hash
	// Spec is the L2 genesis (GenesisSpec of a network's genesis file;
	// the devnet's is its own genesis.DevnetFile).
	Spec *genesis.Spec
	// Key seals blocks: with it the node runs the block producer, without
	// it the node is a follower.
	Key *ecdsa.PrivateKey
	// StrictTipOrder turns off building ahead of the tick
	// (sequencer.AheadFor).
	StrictTipOrder bool
	// WaitSynced starts the block producer only once the Bitcoin layer
	// reports itself synced: a sequencer that starts while Bitcoin is
	// still syncing would walk its view through old blocks one L2 block
	// at a time. The devnet and tests, whose Bitcoin is local, start at
	// once.
	WaitSynced bool
	// TxPool configures the mempool; New sets its Journal (under Dir)
	// and Logger.
	TxPool txpool.Config
	// RPC configures the JSON-RPC server: on when ListenAddr is set or
	// RPCListener is given. Bitcoin and Finality are the node's; a nil
	// Logger or Registerer the node's.
	RPC rpc.Config
	// SequencerURLs are the sequencer group's public JSON-RPC URLs
	// (rpc.sequencer_urls): a node without Key forwards every
	// eth_sendRawTransaction to them after its own checks (rpc.Forwarder),
	// since it never builds the blocks that would include it. A node with
	// Key builds and ignores them.
	SequencerURLs []string
	// RPCListener, if set, is where the server serves (a test's free
	// port) instead of listening on RPC.ListenAddr.
	RPCListener net.Listener
	// HA, with Key, makes the node a member of a raft sequencer group
	// (DESIGN 9; internal/ha): sealed blocks are committed to the group
	// before they are stored, and the producer runs only while this member
	// leads. The node fills ID, Sequencers, BlockTime, Chain, Producer,
	// Logger, Registerer, Bitcoin (unless set), Dir (Dir/raft unless
	// set) and RPCURL (memberRPCURL unless set); with the RPC server on
	// it relays transactions to the leader while another member leads
	// (ha.Relay).
	HA *ha.Config
	// P2P configures L2 networking (DESIGN 9): on when it lists a listen
	// address or a static peer. The node fills in the chain, genesis
	// hash, chain id, sequencers, finality, Bitcoin index, publishing (a
	// node with Key publishes its blocks), logger and registerer; the
	// identity key is read from (or created in) Dir's IdentityFile, or is
	// new every start with Dir "" (tests).
	P2P netp2p.Config
	// NoAddrIndex turns off the explorer's address index (Dir/addrindex;
	// internal/explorer/addrindex), which Otterscan's ots_search*
	// methods and the explorer's address pages read.
	NoAddrIndex bool
	// NoExplorer keeps the block explorer's pages (internal/explorer)
	// off the RPC listener; Explorer's Name, PublicRPC, PublicExplorer
	// and HBTC are the network's (the node fills in the rest).
	NoExplorer bool
	Explorer   explorer.Config
	// NoSync skips the chain's fsync after each block (tests). A node
	// without Key (a follower) never fsyncs each block, whatever NoSync
	// says: a kill -9 still loses nothing (pebble's WAL is in the OS), a
	// machine crash loses at most its newest blocks, never tears one
	// (the WAL is ordered), and those are fetched again from its peers
	// by catch-up sync; the fsync was a few ms of every gossiped block's
	// insertion (BenchmarkGossipFollower). A sequencer keeps it: the
	// blocks it committed to its raft group must survive it.
	NoSync bool
	// HeadSettle is how long the readers of new heads that can wait (the
	// address index and the vault watch) let
	// each new head settle before reading it, so that they run after the network's insertions of the
	// block rather than among them (0: DefaultHeadSettle, at most a
	// quarter of the block time; negative: none). A node without Key
	// also flushes each new head's state trie nodes once it settled
	// (chain.Config.FlushAfter).
	HeadSettle time.Duration
	// NoGCPacing leaves the garbage collector's timing to the runtime
	// alone. By default the node runs a cycle when a new head settled if
	// the runtime would otherwise start one while the next block is
	// inserted (paceGC); it acts on the whole process.
	NoGCPacing bool
	// Logger receives every subsystem's logs (with subsystem=...).
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Node is one L2 node over its Bitcoin layer: the chain, PoP finality
// (the chain's fork choice), the mempool, the block producer (with a
// key) and the JSON-RPC server. It is the one place these are built and
// wired; `hemi node`, `hemi devnet`, the end-to-end tests and the
// benchmarks all build through it.
//
// Where wave 2 plugs in (DESIGN 2, 9, 10): L2 networking (gossip and
// range sync) becomes a service of Run fed by the chain's Subscribe and
// feeding InsertBlock; the raft group replaces the block producer's
// Committer (commit to the group, then store); the tunnel's derivers
// join chainDerivers; the explorer mounts on the RPC server's handler.
type Node struct {
	Chain     *chain.Chain
	Pool      *txpool.Pool
	Finality  *finality.Service
	Sequencer *sequencer.Sequencer // nil without Config.Key
	HA        *ha.Group            // nil without Config.HA
	RPC       *rpc.Server          // nil with the server off
	P2P       *netp2p.Service      // nil with L2 networking off
	// AddrIndex is the explorer's address index (nil with NoAddrIndex).
	AddrIndex *addrindex.Index
	Spec      *genesis.Spec
	// Bitcoin is the adapted index the chain and the producer read.
	Bitcoin *Bitcoin
	// Senders holds the senders the pending-transaction feed recovered
	// ahead of their blocks (nil with L2 networking off): the chain's
	// insertion looks there first (chain.Config.SenderCache).
	Senders *chain.SenderCache

	cfg    Config
	log    *slog.Logger
	settle time.Duration   // the settled readers' wait (headSettle)
	sync   *catchUp        // catch-up sync, with P2P
	inproc *gethrpc.Client // the explorer's in-process JSON-RPC client
	vault  *vaultWatch     // the tunnel's vault watch, with a tunnel
	// forward sends a follower's transactions to the sequencer (nil on
	// a sequencer or without SequencerURLs).
	forward *rpc.Forwarder
	// relay sends a group member's transactions to the leader while
	// another member leads (nil outside a group or with RPC off).
	relay *ha.Relay
}

// forwarding sets rcfg.Forward on a follower given SequencerURLs, and
// says in the log what happens to transactions sent to this node.
func (n *Node) forwarding(cfg Config, rcfg *rpc.Config) error {
	if n.relay != nil {
		rcfg.Relay = n.relay
		n.log.Info("transactions sent to this group member while another leads are kept in its pool and relayed to the leader")
	}
	switch {
	case cfg.Key != nil && len(cfg.SequencerURLs) > 0:
		n.log.Info("rpc.sequencer_urls ignored: this node sequences and includes the transactions sent to it")
	case cfg.Key != nil:
	case len(cfg.SequencerURLs) == 0:
		n.log.Warn("follower without rpc.sequencer_urls: transactions sent to its JSON-RPC stay in its pool and are never mined; " +
			"list the sequencers' public RPC URLs in rpc.sequencer_urls (--sequencer-url, HEMI_RPC_SEQUENCER_URLS)")
	default:
		f, err := rpc.NewForwarder(rpc.ForwarderConfig{URLs: cfg.SequencerURLs,
			Registerer: cfg.Registerer, Logger: n.log.With("subsystem", "rpc")})
		if err != nil {
			return err
		}
		n.forward, rcfg.Forward = f, f
		n.log.Info("transactions sent to this follower are forwarded to the sequencer", "urls", cfg.SequencerURLs)
	}
	return nil
}

// mountExplorer builds the block explorer over the node's services and
// mounts its pages on the RPC listener (DESIGN 10).
func (n *Node) mountExplorer(cfg Config, btc explorer.Bitcoin) error {
	ec := cfg.Explorer
	ec.Chain, ec.Bitcoin, ec.RPC = n.Chain, btc, n.RPC.RPCHandler()
	ec.Finality = n.Finality
	// The genesis's tunnel names hBTC, the predeploy whose events and
	// queue the deposit and withdrawal pages read, and the vault.
	ec.Tunnel = cfg.Spec.Config.Tunnel
	if n.AddrIndex != nil {
		ec.Index = n.AddrIndex
	}
	n.inproc = gethrpc.DialInProc(n.RPC.RPC())
	ec.Caller = n.inproc
	if ec.Logger == nil {
		ec.Logger = n.log.With("subsystem", "explorer")
	}
	x, err := explorer.New(ec)
	if err != nil {
		return err
	}
	x.Mount(n.RPC)
	return nil
}

// ChainOptions are the storage and clock options of OpenChain.
type ChainOptions struct {
	// Dir is the chain database ("" in memory); NoSync, FlushAfter,
	// CacheMB, TrieCacheMB and Clock are chain.Config's.
	Dir                  string
	NoSync               bool
	FlushAfter           time.Duration
	CacheMB, TrieCacheMB int
	Clock                clock.Clock
	Logger               *slog.Logger
	// SenderCache is chain.Config's (nil: none).
	SenderCache *chain.SenderCache
}

// chainDerivers are the system-transaction derivers the node installs,
// in DESIGN 3.3's order: the Bitcoin view update, the tunnel's
// (tunnelDerivers: fee rate, deposits; then its withdrawal side:
// batches, paid markers, vault-spend and shortfall flags,
// tunnel.Withdrawals) when the genesis has a tunnel, then the PoP
// rewards.
func chainDerivers(spec *genesis.Spec) ([]chain.Deriver, error) {
	tun, err := tunnelDerivers(spec)
	if err != nil {
		return nil, err
	}
	ds := []chain.Deriver{derive.ViewUpdate{}}
	ds = append(ds, tun...)
	wd, _, err := withdrawalDeriver(spec)
	if err != nil {
		return nil, err
	}
	if wd != nil {
		ds = append(ds, wd)
	}
	return append(ds, &derive.PoPRewards{PoP: spec.Config.PoP, Interval: spec.Config.KeystoneInterval}), nil
}

// OpenChain opens the L2 chain of spec over btc with the node's
// derivers: the one place a chain is opened (New; the l2-import
// benchmark opens a bare chain with it).
func OpenChain(spec *genesis.Spec, btc chain.Bitcoin, o ChainOptions) (*chain.Chain, error) {
	cfg, err := chain.ConfigFromSpec(spec)
	if err != nil {
		return nil, err
	}
	if cfg.Derivers, err = chainDerivers(spec); err != nil {
		return nil, err
	}
	cfg.Bitcoin = btc
	cfg.Dir, cfg.NoSync, cfg.CacheMB, cfg.TrieCacheMB, cfg.Clock, cfg.Logger = o.Dir, o.NoSync, o.CacheMB, o.TrieCacheMB, o.Clock, o.Logger
	cfg.SenderCache, cfg.FlushAfter = o.SenderCache, o.FlushAfter
	c, err := chain.New(cfg)
	if err != nil {
		if o.Dir != "" {
			return nil, fmt.Errorf("L2 chain in %s: %w", o.Dir, err)
		}
		return nil, err
	}
	return c, nil
}

// New builds the node: it opens the chain, installs finality as its fork
// choice, opens the mempool (loading its journal), and builds the block
// producer and the RPC server as configured. Nothing runs until Run;
// Close releases what New opened (Run does not).
func New(cfg Config) (_ *Node, err error) {
	if cfg.BTC == nil || cfg.Spec == nil {
		return nil, errors.New("node: Config needs BTC and Spec")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Node{Spec: cfg.Spec, Bitcoin: NewBitcoin(cfg.BTC.Index()), cfg: cfg, log: log}
	defer func() {
		if err != nil {
			if cerr := n.Close(); cerr != nil {
				log.Warn("node close after a failed start", "err", cerr)
			}
		}
	}()
	chainDir := ""
	if cfg.Dir != "" {
		chainDir = filepath.Join(cfg.Dir, "chain")
	}
	if len(cfg.P2P.ListenAddrs) > 0 || len(cfg.P2P.Peers) > 0 {
		// The pending-transaction feed recovers announced senders into
		// it (netp2p doc "Pending-transaction feed").
		n.Senders = chain.NewSenderCache(0)
	}
	settle := headSettle(cfg.HeadSettle, cfg.Spec.Config.BlockTime)
	// A follower (no key) also flushes a new head's trie nodes once it
	// settled (chain.Config.FlushAfter): a kill -9 before that costs the
	// re-execution of those blocks at the next start. A sequencer's
	// blocks, committed to its group, are on disk with their state.
	var flushAfter time.Duration
	if cfg.Key == nil {
		flushAfter = settle
	}
	if n.Chain, err = OpenChain(cfg.Spec, n.Bitcoin, ChainOptions{Dir: chainDir, NoSync: cfg.NoSync || cfg.Key == nil,
		FlushAfter: flushAfter, Logger: log.With("subsystem", "chain"), SenderCache: n.Senders}); err != nil {
		return nil, err
	}
	ix := cfg.BTC.Index()
	finDir := ""
	if cfg.Dir != "" {
		finDir = filepath.Join(cfg.Dir, "finality")
	}
	if n.Finality, err = finality.New(finality.Config{Index: ix, PoP: cfg.Spec.Config.PoP, Dir: finDir,
		Logger: log.With("subsystem", "finality"), Registerer: cfg.Registerer}); err != nil {
		return nil, err
	}
	if err := n.Chain.SetForkChoice(n.Finality); err != nil {
		return nil, err
	}
	// Readers of heads that can wait see them settled (DefaultHeadSettle).
	settled := settledChain{Chain: n.Chain, settle: settle}
	n.settle = settle
	// Finality reads heads at once: a keystone the PoP miner published
	// the moment its block came must be in finality's list when the
	// Bitcoin block confirming it arrives, or the safe and finalized
	// heads would move in two steps, the second without a Bitcoin
	// block (internal/compat's TestViem saw it).
	n.Finality.Bind(n.Chain)
	if !cfg.NoAddrIndex {
		ixDir := ""
		if cfg.Dir != "" {
			ixDir = filepath.Join(cfg.Dir, "addrindex")
		}
		if n.AddrIndex, err = addrindex.New(addrindex.Config{Dir: ixDir, Chain: settled,
			Logger: log.With("subsystem", "addrindex")}); err != nil {
			return nil, err
		}
	}
	if wd, v, err := withdrawalDeriver(cfg.Spec); err != nil {
		return nil, err
	} else if wd != nil {
		n.vault = newVaultWatch(settled, n.Bitcoin, wd, v, log.With("subsystem", "tunnel"), cfg.Registerer)
	}
	pcfg := cfg.TxPool
	if cfg.Dir != "" {
		pcfg.Journal = filepath.Join(cfg.Dir, "transactions.rlp")
	}
	pcfg.Logger = log.With("subsystem", "txpool")
	// The mempool follows the head at once: a producer builds the next
	// block on it, and a follower's checks (nonce too low) must see the
	// transactions a head included before it forwards more.
	if n.Pool, err = txpool.New(n.Chain, pcfg); err != nil {
		return nil, err
	}
	if len(cfg.P2P.ListenAddrs) > 0 || len(cfg.P2P.Peers) > 0 {
		if n.P2P, err = newP2P(cfg, n); err != nil {
			return nil, err
		}
		if n.sync, err = newCatchUp(n, n.P2P.Status().GenesisHash); err != nil {
			return nil, err
		}
		n.P2P.SetSyncer(n.sync)
	}
	rpcOn := cfg.RPC.ListenAddr != "" || cfg.RPCListener != nil
	if cfg.Key != nil && cfg.HA != nil {
		// The group exists before the RPC server, which relays through it.
		if n.HA, err = n.newHA(cfg); err != nil {
			return nil, err
		}
		if rpcOn {
			if n.relay, err = ha.NewRelay(ha.RelayConfig{Group: n.HA, ID: crypto.PubkeyToAddress(cfg.Key.PublicKey),
				Pool: n.Pool, Chain: n.Chain, Logger: log.With("subsystem", "ha"), Registerer: cfg.Registerer}); err != nil {
				return nil, err
			}
		}
	}
	if rpcOn {
		rcfg := cfg.RPC
		rcfg.Bitcoin, rcfg.Finality = ix, n.Finality
		// Provenance bundles (DESIGN 8); deposits' bundles need the
		// tunnel's predeploy (minted[]), so a network without a tunnel
		// refuses them.
		pcfg := provenance.Config{Chain: n.Chain, Finality: n.Finality, Bitcoin: cfg.BTC.Index(),
			ChainID: cfg.Spec.Config.ChainID, BitcoinNetwork: cfg.Spec.Config.BitcoinNetwork}
		if t := cfg.Spec.Config.Tunnel; t != nil {
			pcfg.TunnelAddress = t.TunnelAddress
		}
		prov, err := provenance.New(pcfg)
		if err != nil {
			return nil, err
		}
		rcfg.Provenance = prov
		if n.vault != nil {
			rcfg.Withdrawals = n.rpcWithdrawals(ix)
		}
		if dq, err := n.rpcDeposits(); err != nil {
			return nil, err
		} else if dq != nil {
			rcfg.Deposits = dq
		}
		if n.sync != nil {
			rcfg.Sync = n.sync
		}
		if err := n.forwarding(cfg, &rcfg); err != nil {
			return nil, err
		}
		if n.AddrIndex != nil {
			rcfg.AddressIndex = n.AddrIndex
		}
		if rcfg.Logger == nil {
			rcfg.Logger = log.With("subsystem", "rpc")
		}
		if rcfg.Registerer == nil {
			rcfg.Registerer = cfg.Registerer
		}
		if n.RPC, err = rpc.New(rcfg, n.Chain, n.Pool); err != nil {
			return nil, err
		}
		status := n.StatusHandler()
		n.RPC.Mount("GET /status", status)
		n.RPC.Mount("GET /healthz", status)
		if !cfg.NoExplorer {
			if err := n.mountExplorer(cfg, ix); err != nil {
				return nil, err
			}
		}
	}
	if cfg.Key != nil {
		// Alone, a sealed block is stored at once; in a raft group (DESIGN
		// 9) it is committed to the group first.
		var committer sequencer.Committer = sequencer.CommitFunc(n.Chain.CommitBuilt)
		if n.HA != nil {
			committer = n.HA
		}
		if n.Sequencer, err = sequencer.New(sequencer.Config{Chain: n.Chain, Pool: n.Pool,
			Committer: committer, Bitcoin: n.Bitcoin, Key: cfg.Key,
			BlockTime: cfg.Spec.Config.BlockTime, Ahead: sequencer.AheadFor(cfg.StrictTipOrder),
			// A raft group runs the producer each time this member wins
			// leadership: its first block comes at once (failover).
			StartAtOnce: cfg.HA != nil,
			Logger:      log.With("subsystem", "sequencer"), Registerer: cfg.Registerer}); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// Run runs the node's services in one errgroup until ctx is done or one
// fails: the mempool, finality, the RPC server, L2 networking (gossip:
// a follower's block source, a sequencer's publisher) and the block
// producer.
func (n *Node) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return n.Pool.Run(ctx) })
	g.Go(func() error { return n.Finality.Run(ctx) })
	if n.AddrIndex != nil {
		g.Go(func() error { return n.AddrIndex.Run(ctx) })
	}
	if n.vault != nil {
		g.Go(func() error { return n.vault.Run(ctx) })
	}
	switch {
	case n.RPC != nil && n.cfg.RPCListener != nil:
		g.Go(func() error { return n.RPC.Serve(ctx, n.cfg.RPCListener) })
	case n.RPC != nil:
		g.Go(func() error { return n.RPC.Run(ctx) })
	}
	g.Go(func() error { n.logHeads(ctx); return nil })
	if n.settle > 0 && !n.cfg.NoGCPacing {
		g.Go(func() error {
			paceGC(n.Chain.SubscribeSettled(ctx, n.Chain.Head().Number.Uint64()+1, n.settle), n.Spec.Config.BlockTime)
			return nil
		})
	}
	if n.P2P != nil {
		g.Go(func() error { return n.P2P.Run(ctx) })
		g.Go(func() error { return n.sync.server.Run(ctx) })
	}
	switch {
	case n.HA != nil:
		// The group runs the producer while this member leads and is
		// caught up (Bitcoin included, so WaitSynced is implied).
		g.Go(func() error { return n.HA.Run(ctx) })
		if n.relay != nil {
			g.Go(func() error { return n.relay.Run(ctx) })
		}
	case n.Sequencer != nil:
		g.Go(func() error {
			if n.cfg.WaitSynced {
				if err := waitSynced(ctx, n.cfg.BTC, n.log); err != nil {
					return nil
				}
			}
			return n.Sequencer.Run(ctx)
		})
	case n.P2P == nil || len(n.cfg.P2P.Peers) == 0:
		n.log.Warn("L2 follower without static peers: it serves the chain as it is until a peer dials it; list the network's nodes in net.peers to follow it",
			"head", n.Chain.Head().Number, "chain_id", n.Spec.Config.ChainID, "p2p", n.P2P != nil)
	}
	return g.Wait()
}

// headLogLag: a new head further than this below the chain's head when
// its log line would be written is a block of a catch-up (range sync,
// import), logged only every headLogEvery blocks; the sync logs its own
// progress.
const (
	headLogLag   = 2
	headLogEvery = 1000
)

// logHeads writes one Info line per new canonical head (as geth's
// "Imported new chain segment"): the node's own record of what it had as
// head and when, which `hemi bench net` reads for propagation, reorged
// blocks and equivocations. After a reorg the new branch's heads are
// logged again from the fork point, so a hash logged and later replaced
// at its height is a block the node lost.
func (n *Node) logHeads(ctx context.Context) {
	for h := range n.Chain.Subscribe(ctx, n.Chain.Head().Number.Uint64()+1) {
		num := h.Number.Uint64()
		if head := n.Chain.Head().Number.Uint64(); head > num+headLogLag && num%headLogEvery != 0 {
			continue
		}
		n.log.Info("new head", "number", num, "hash", h.Hash(), "parent", h.ParentHash, "gas_used", h.GasUsed)
	}
}

// Close closes the mempool and the chain (and the L2 host when Run never
// ran). Call it after Run returned (or instead of Run).
func (n *Node) Close() error {
	var err error
	if n.P2P != nil {
		err = n.P2P.Close()
	}
	if n.Pool != nil {
		if cerr := n.Pool.Close(); err == nil {
			err = cerr
		}
	}
	if n.AddrIndex != nil {
		if cerr := n.AddrIndex.Close(); err == nil {
			err = cerr
		}
	}
	if n.inproc != nil {
		n.inproc.Close()
	}
	if n.forward != nil {
		n.forward.Close()
	}
	if n.Chain != nil {
		if cerr := n.Chain.Close(); err == nil {
			err = cerr
		}
	}
	return err
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

// newP2P builds the node's L2 networking over its chain. Peers must
// share Config.GenesisHash, the genesis file's hash (DESIGN 9; the
// genesis block's hash when the node was given no file).
func newP2P(cfg Config, n *Node) (*netp2p.Service, error) {
	pc := cfg.P2P
	if pc.Identity == nil && cfg.Dir != "" {
		key, err := netp2p.LoadIdentity(filepath.Join(cfg.Dir, netp2p.IdentityFile))
		if err != nil {
			return nil, err
		}
		pc.Identity = key
	}
	pc.Chain, pc.Finality, pc.Bitcoin = n.Chain, n.Finality, cfg.BTC.Index()
	pc.GenesisHash = cfg.GenesisHash
	if pc.GenesisHash == (common.Hash{}) {
		pc.GenesisHash = n.Chain.Genesis().Hash()
	}
	pc.ChainID = cfg.Spec.Config.ChainID
	pc.Sequencers = cfg.Spec.Config.Sequencers
	if cfg.Key != nil {
		// A sequencer publishes the blocks it sealed: a raft group's
		// members that only applied a block leave it to its leader.
		pc.Publisher = crypto.PubkeyToAddress(cfg.Key.PublicKey)
		// It announces what its pool accepts, sealed by the same key.
		pc.TxFeed.Pool, pc.TxFeed.Key = n.Pool, cfg.Key
	}
	pc.TxFeed.Senders, pc.TxFeed.Signer = n.Senders, types.LatestSigner(n.Chain.Config().ChainConfig)
	if pc.Logger == nil {
		pc.Logger = n.log.With("subsystem", "netp2p")
	}
	if pc.Registerer == nil {
		pc.Registerer = cfg.Registerer
	}
	return netp2p.New(pc)
}
