package devnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/hemi-go/hemi/internal/btc/peerserve"
	"github.com/hemi-go/hemi/internal/btc/regtest"
	"github.com/hemi-go/hemi/internal/finality"
	"github.com/hemi-go/hemi/internal/popm"
	"github.com/hemi-go/hemi/internal/rpc"
	"github.com/hemi-go/hemi/internal/sequencer"
	"github.com/hemi-go/hemi/internal/tbc"
)

// ErrStack means the stack stopped (one of its services failed, or Close
// was called) while a caller waited on it.
var ErrStack = errors.New("devnet stack stopped")

// Stack defaults.
const (
	// StackInitialBlocks are mined before the indexer starts, so the dev
	// miner's first coinbase (which funds the PoP miner) is mature.
	StackInitialBlocks = 101
	// DefaultStackWait bounds each of the stack's waits when the
	// caller's context has no deadline.
	DefaultStackWait = 30 * time.Second
	// stackPoll is how often waits re-check a condition nothing
	// announces (the index tip, the mempool, finality).
	stackPoll = 5 * time.Millisecond
)

// StackConfig configures StartStack. Zero values take the devnet's
// defaults (NewL2's and the PoP miner's).
type StackConfig struct {
	// DataDir holds every database; empty means a temporary directory
	// that Close removes.
	DataDir string
	// InitialBlocks are mined before the indexer starts (0:
	// StackInitialBlocks; negative: none). The PoP miner needs at least
	// StackInitialBlocks.
	InitialBlocks int
	// P2P is the regtest node's listen address (empty: a free loopback
	// port).
	P2P string
	// P2PLimits bound the regtest node's P2P server
	// (regtest.Config.P2PLimits).
	P2PLimits peerserve.Limits
	// MineInterval, when positive, mines a regtest block this often
	// besides MineBTC (regtest.Config.MineInterval).
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
	Pool sequencer.PoolConfig
	// PoPM configures the in-process PoP miner; its OnEvent, if set, is
	// called after the stack has recorded the event.
	PoPM PoPMConfig
	// RPC serves the L2's JSON-RPC (HTTP and WebSocket); Stack.RPCURL
	// names it.
	RPC bool
	// RPCServer configures that server; Bitcoin and Finality are the
	// stack's, a nil Logger or Registerer the stack's. An empty
	// ListenAddr means a free loopback port accepting any Host header.
	RPCServer rpc.Config
	// WaitTimeout bounds each of the stack's waits (StartStack's
	// included) when the caller's context has no deadline: 0 means
	// DefaultStackWait, negative no bound.
	WaitTimeout time.Duration
	// Logger receives every service's logs; nil discards them.
	Logger *slog.Logger
	// Registerer gets the services' metrics; may be nil.
	Registerer prometheus.Registerer
}

// PoPEvent is a PoP miner event as the stack recorded it.
type PoPEvent struct {
	popm.Event
	// Seq numbers the events from 0 in the order they were reported.
	Seq int
	// BTCHeight is the regtest node's tip height when the event was
	// reported. For a transaction handed to the network (published,
	// bumped, republished) it is the height at broadcast: the stack
	// records it while no block is being mined, and MineBTC includes
	// the transaction in the next block, so it is mined at BTCHeight+1.
	BTCHeight int32
}

// Stack is a whole devnet in one process, for tests and benchmarks and
// under Run: the embedded regtest Bitcoin node with manual mining
// (MineBTC; a timer too with StackConfig.MineInterval),
// the Bitcoin indexer syncing from it over P2P, the L2 (sequencer,
// mempool, finality service) and the PoP miner funded from the dev
// coinbase, optionally the JSON-RPC server. Start it with StartStack and
// stop it with Close; its methods are safe for concurrent use.
//
// Unlike the daemons, which have New and Run, the stack starts its
// services in order (the indexer must have the funding block before the
// L2 and the miner start), so StartStack returns only once all of them
// run, and Close stops them.
type Stack struct {
	BTC *regtest.Node
	TBC *tbc.Service
	L2  *L2
	// Wallet is the PoP miner's (nil with PoPM.Off); its RewardAddress
	// receives the L2 rewards.
	Wallet *popm.Wallet
	Miner  *popm.Miner
	// MinerAddr receives the coinbases MineBTC mines.
	MinerAddr address.Address
	// RPCURL is the JSON-RPC server's http:// URL (empty without
	// StackConfig.RPC).
	RPCURL string

	cfg    StackConfig
	log    *slog.Logger
	dir    string
	ownDir bool
	ctx    context.Context // the services' context
	cancel context.CancelFunc
	g      *errgroup.Group

	closeOnce sync.Once
	closeErr  error

	// mineMu is held while a block is mined and while an event's
	// Bitcoin height is read, so a transaction is never reported at a
	// height a block under construction is about to change.
	mineMu sync.Mutex
	// pending are the transactions reported sent at the current tip, by
	// keystone id (a bump replaces its keystone's entry); guarded by
	// mineMu. MineBTC waits until they are in the mempool.
	pending map[[32]byte]chainhash.Hash
	mined   int // blocks MineBTC and MineEmptyBTC mined; guarded by mineMu

	mu      sync.Mutex
	events  []PoPEvent
	sealed  map[uint64]sealedAt
	changed chan struct{} // closed and replaced when events or sealed change
}

type sealedAt struct {
	hash common.Hash
	at   time.Time
}

// StartStack starts the stack's services in ctx's lifetime (or until
// Close): it mines StackInitialBlocks regtest blocks, waits for the
// indexer, funds the PoP miner, and starts the L2, the RPC server and the
// miner. On error, whatever started is stopped.
func StartStack(ctx context.Context, cfg StackConfig) (_ *Stack, err error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Stack{cfg: cfg, log: log, dir: cfg.DataDir, pending: map[[32]byte]chainhash.Hash{},
		sealed: map[uint64]sealedAt{}, changed: make(chan struct{})}
	if s.dir == "" {
		if s.dir, err = os.MkdirTemp("", "hemi-stack-"); err != nil {
			return nil, fmt.Errorf("devnet: stack: %w", err)
		}
		s.ownDir = true
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.g, s.ctx = errgroup.WithContext(ctx)
	defer func() {
		if err != nil {
			if cerr := s.Close(); cerr != nil {
				log.Warn("stack close after a failed start", "err", cerr)
			}
		}
	}()
	key, addr, err := MinerKey()
	if err != nil {
		return nil, fmt.Errorf("devnet: mining key: %w", err)
	}
	s.MinerAddr = addr
	if s.BTC, err = regtest.New(regtest.Config{DataDir: filepath.Join(s.dir, "regtest"), ListenAddr: cfg.P2P,
		P2PLimits: cfg.P2PLimits, MineInterval: cfg.MineInterval, Logger: log, MiningAddr: addr, Registerer: cfg.Registerer}); err != nil {
		return nil, fmt.Errorf("devnet: %w", err)
	}
	s.g.Go(func() error { return s.BTC.Run(s.ctx) })
	if n := cfg.InitialBlocks; n >= 0 {
		if n == 0 {
			n = StackInitialBlocks
		}
		if _, err := s.BTC.Mine(n, addr); err != nil {
			return nil, fmt.Errorf("devnet: mine initial blocks: %w", err)
		}
	}
	if s.TBC, err = tbc.New(tbc.Config{Params: &chaincfg.RegressionNetParams, DataDir: filepath.Join(s.dir, "node"),
		Peers: []string{s.BTC.P2PAddr()}, API: cfg.API, Progress: cfg.Progress, Logger: log,
		Registerer: cfg.Registerer}); err != nil {
		return nil, fmt.Errorf("devnet: %w", err)
	}
	s.g.Go(func() error { return s.TBC.Run(s.ctx) })
	if err := s.WaitIndexed(ctx); err != nil {
		return nil, err
	}
	if !cfg.PoPM.Off {
		if s.Wallet, err = PoPMWallet(); err != nil {
			return nil, fmt.Errorf("devnet: pop miner wallet: %w", err)
		}
		if err := fundPoPM(s.ctx, s.BTC, s.TBC, key, s.Wallet); err != nil {
			return nil, err
		}
	}
	if err := s.startL2(); err != nil {
		return nil, err
	}
	if cfg.RPC {
		if err := s.startRPC(); err != nil {
			return nil, err
		}
	}
	if s.Wallet != nil {
		pcfg := cfg.PoPM
		pcfg.OnEvent = s.onEvent
		if s.Miner, err = newPoPM(Config{DataDir: s.dir, Logger: log, Registerer: cfg.Registerer, PoPM: pcfg},
			s.TBC, s.L2, s.Wallet); err != nil {
			return nil, fmt.Errorf("devnet: %w", err)
		}
		s.g.Go(func() error { return s.Miner.Run(s.ctx) })
	}
	return s, nil
}

func (s *Stack) startL2() error {
	l2, err := NewL2(s.TBC.Index(), L2Config{Dir: filepath.Join(s.dir, "l2"), BlockTime: s.cfg.L2BlockTime,
		KeystoneInterval: s.cfg.KeystoneInterval, SuperfinalDepth: s.cfg.SuperfinalDepth,
		RewardDelay: s.cfg.RewardDelay, StrictTipOrder: s.cfg.StrictTipOrder, Pool: s.cfg.Pool, Logger: s.log, Registerer: s.cfg.Registerer})
	if err != nil {
		return err
	}
	s.L2 = l2
	// The head subscription starts before the sequencer, so every
	// block's arrival is recorded.
	heads := l2.Chain.Subscribe(s.ctx, 0)
	s.g.Go(func() error {
		for h := range heads {
			s.mu.Lock()
			s.sealed[h.Number.Uint64()] = sealedAt{hash: h.Hash(), at: time.Now()}
			s.notifyLocked()
			s.mu.Unlock()
		}
		return nil
	})
	s.g.Go(func() error { return l2.Pool.Run(s.ctx) })
	s.g.Go(func() error { return l2.Sequencer.Run(s.ctx) })
	s.g.Go(func() error { return l2.Finality.Run(s.ctx) })
	return nil
}

func (s *Stack) startRPC() error {
	rcfg := s.cfg.RPCServer
	rcfg.Bitcoin, rcfg.Finality = s.TBC.Index(), s.L2.Finality
	if rcfg.Logger == nil {
		rcfg.Logger = s.log.With("subsystem", "rpc")
	}
	if rcfg.Registerer == nil {
		rcfg.Registerer = s.cfg.Registerer
	}
	if rcfg.ListenAddr == "" {
		rcfg.ListenAddr, rcfg.VHosts = "127.0.0.1:0", []string{"*"}
	}
	srv, err := rpc.New(rcfg, s.L2.Chain, s.L2.Pool)
	if err != nil {
		return fmt.Errorf("devnet: %w", err)
	}
	ln, err := net.Listen("tcp", rcfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("devnet: rpc listen %s: %w", rcfg.ListenAddr, err)
	}
	s.RPCURL = "http://" + ln.Addr().String()
	s.g.Go(func() error { return srv.Serve(s.ctx, ln) })
	return nil
}

// Close stops every service, waits for them and closes the L2 chain; it
// returns the first service error (none for a clean stop). Later calls
// return the same.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Stack) close() error {
	s.cancel()
	err := s.g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	if s.L2 != nil {
		if cerr := s.L2.Chain.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	if s.BTC != nil {
		if cerr := s.BTC.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	if s.ownDir {
		if rerr := os.RemoveAll(s.dir); rerr != nil && err == nil {
			err = rerr
		}
	}
	return err
}

// onEvent records a PoP miner event (the miner's goroutine calls it).
func (s *Stack) onEvent(e popm.Event) {
	s.mineMu.Lock()
	_, height := s.BTC.Tip()
	switch e.Kind {
	case popm.NotePublished, popm.NoteBumped, popm.NoteRepublished:
		s.pending[e.KeystoneID] = e.Txid
	case popm.NoteRefused:
		if s.pending[e.KeystoneID] == e.Txid {
			delete(s.pending, e.KeystoneID)
		}
	}
	s.mineMu.Unlock()
	s.mu.Lock()
	s.events = append(s.events, PoPEvent{Event: e, Seq: len(s.events), BTCHeight: height})
	s.notifyLocked()
	s.mu.Unlock()
	if s.cfg.PoPM.OnEvent != nil {
		s.cfg.PoPM.OnEvent(e)
	}
}

// notifyLocked wakes the waiters; the caller holds mu.
func (s *Stack) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// MineBTC mines n ordinary regtest blocks (each takes what the mempool
// offers) and waits until the indexer has them. Before the first block it
// waits until every PoP transaction reported sent at the current tip is in
// the mempool, so a publication is always mined in the block after its
// broadcast.
func (s *Stack) MineBTC(ctx context.Context, n int) ([]chainhash.Hash, error) {
	return s.mineBTC(ctx, n, false)
}

// MineEmptyBTC is MineBTC with coinbase-only blocks (regtest.MineEmpty):
// a replacement branch without the transactions a reorg returned to the
// mempool. It does not wait for pending transactions.
func (s *Stack) MineEmptyBTC(ctx context.Context, n int) ([]chainhash.Hash, error) {
	return s.mineBTC(ctx, n, true)
}

func (s *Stack) mineBTC(ctx context.Context, n int, empty bool) ([]chainhash.Hash, error) {
	ctx, cancel := s.waitContext(ctx)
	defer cancel()
	var hs []chainhash.Hash
	for {
		s.mineMu.Lock()
		missing := s.missingLocked()
		if empty || len(missing) == 0 {
			var err error
			if empty {
				hs, err = s.BTC.MineEmpty(n, s.MinerAddr)
			} else {
				hs, err = s.BTC.Mine(n, s.MinerAddr)
			}
			s.mined += len(hs)
			if !empty {
				clear(s.pending) // all of them were in the mempool
			}
			s.mineMu.Unlock()
			if err != nil {
				return hs, fmt.Errorf("devnet: mine: %w", err)
			}
			break
		}
		s.mineMu.Unlock()
		if err := s.sleep(ctx, stackPoll); err != nil {
			return nil, fmt.Errorf("devnet: pop transactions %v reported sent are not in the regtest mempool: %w", missing, err)
		}
	}
	return hs, s.WaitIndexed(ctx)
}

// missingLocked lists the pending transactions not in the mempool; the
// caller holds mineMu.
func (s *Stack) missingLocked() []chainhash.Hash {
	if len(s.pending) == 0 {
		return nil
	}
	in := s.BTC.MempoolTxids()
	var out []chainhash.Hash
	for _, id := range s.pending {
		if !slices.Contains(in, id) {
			out = append(out, id)
		}
	}
	return out
}

// MinedBTC is how many blocks MineBTC and MineEmptyBTC have mined.
func (s *Stack) MinedBTC() int {
	s.mineMu.Lock()
	defer s.mineMu.Unlock()
	return s.mined
}

// WaitIndexed waits until the indexer's tip is the regtest node's.
func (s *Stack) WaitIndexed(ctx context.Context) error {
	return s.WaitFor(ctx, "the indexer to reach the regtest tip", func() bool {
		want, _ := s.BTC.Tip()
		got, _ := s.TBC.Index().BlockTip()
		return got == want
	})
}

// WaitMempool waits until the regtest mempool holds txid.
func (s *Stack) WaitMempool(ctx context.Context, txid chainhash.Hash) error {
	return s.WaitFor(ctx, "transaction "+txid.String()+" in the regtest mempool", func() bool {
		return slices.Contains(s.BTC.MempoolTxids(), txid)
	})
}

// WaitL2 waits until the L2 has canonical block number and returns its
// header.
func (s *Stack) WaitL2(ctx context.Context, number uint64) (*types.Header, error) {
	ctx, cancel := s.waitContext(ctx)
	defer cancel()
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if s.L2.Chain.Head().Number.Uint64() >= number {
			return s.L2.Chain.HeaderByNumber(number)
		}
		if err := s.wake(ctx, ch); err != nil {
			return nil, fmt.Errorf("devnet: wait for L2 block %d (head %d): %w", number, s.L2.Chain.Head().Number, err)
		}
	}
}

// SealedAt is when the stack's head subscription received canonical L2
// block number (its commit, right after the sequencer sealed it), and the
// block's hash.
func (s *Stack) SealedAt(number uint64) (time.Time, common.Hash, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.sealed[number]
	return x.at, x.hash, ok
}

// Events returns the recorded PoP miner events from sequence number from
// on.
func (s *Stack) Events(from int) []PoPEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	if from >= len(s.events) {
		return nil
	}
	return slices.Clone(s.events[max(from, 0):])
}

// WaitEvents waits until there is at least one PoP miner event with
// sequence number from or later and returns them all.
func (s *Stack) WaitEvents(ctx context.Context, from int) ([]PoPEvent, error) {
	ctx, cancel := s.waitContext(ctx)
	defer cancel()
	for {
		s.mu.Lock()
		ch := s.changed
		if n := len(s.events); max(from, 0) < n {
			out := slices.Clone(s.events[max(from, 0):])
			s.mu.Unlock()
			return out, nil
		}
		s.mu.Unlock()
		if err := s.wake(ctx, ch); err != nil {
			return nil, fmt.Errorf("devnet: wait for PoP miner event %d: %w", from, err)
		}
	}
}

// WaitEvent waits for the first PoP miner event with sequence number at
// least from, of kind, for keystone number.
func (s *Stack) WaitEvent(ctx context.Context, from int, kind popm.NoteKind, number uint64) (PoPEvent, error) {
	ctx, cancel := s.waitContext(ctx)
	defer cancel()
	for {
		s.mu.Lock()
		ch := s.changed
		for _, e := range s.events[min(max(from, 0), len(s.events)):] {
			if e.Kind == kind && e.KeystoneNumber == number {
				s.mu.Unlock()
				return e, nil
			}
		}
		from = len(s.events)
		s.mu.Unlock()
		if err := s.wake(ctx, ch); err != nil {
			return PoPEvent{}, fmt.Errorf("devnet: wait for a %s event of keystone %d: %w", kind, number, err)
		}
	}
}

// Finality is the finality service's answer for canonical L2 block
// number.
func (s *Stack) Finality(number uint64) (*finality.BlockFinality, error) {
	return s.L2.Finality.Finality(number)
}

// WaitFinality waits until cond holds for block number's finality and
// returns it.
func (s *Stack) WaitFinality(ctx context.Context, number uint64, what string, cond func(*finality.BlockFinality) bool) (*finality.BlockFinality, error) {
	var last *finality.BlockFinality
	err := s.WaitFor(ctx, fmt.Sprintf("L2 block %d: %s", number, what), func() bool {
		f, err := s.L2.Finality.Finality(number)
		if err != nil {
			return false
		}
		last = f
		return cond(f)
	})
	if err != nil && last != nil {
		err = fmt.Errorf("%w (last: published %v, confirmations %d, superfinal %v)", err, last.Published, last.Confirmations, last.Superfinal)
	}
	return last, err
}

// WaitFor polls cond until it holds, the stack stops or ctx (by default
// DefaultStackWait) ends.
func (s *Stack) WaitFor(ctx context.Context, what string, cond func() bool) error {
	ctx, cancel := s.waitContext(ctx)
	defer cancel()
	for !cond() {
		if err := s.sleep(ctx, stackPoll); err != nil {
			return fmt.Errorf("devnet: wait for %s: %w", what, err)
		}
	}
	return nil
}

// waitContext bounds a wait by StackConfig.WaitTimeout unless ctx has a
// deadline.
func (s *Stack) waitContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || s.cfg.WaitTimeout < 0 {
		return context.WithCancel(ctx)
	}
	if s.cfg.WaitTimeout > 0 {
		return context.WithTimeout(ctx, s.cfg.WaitTimeout)
	}
	return context.WithTimeout(ctx, DefaultStackWait)
}

// Done is closed when the stack stops: one of its services failed, or
// Close was called, or StartStack's context ended. Close then says why.
func (s *Stack) Done() <-chan struct{} { return s.ctx.Done() }

func (s *Stack) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return s.stopped()
	}
}

func (s *Stack) wake(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return s.stopped()
	}
}

// stopped explains why the stack's context ended.
func (s *Stack) stopped() error {
	if err := context.Cause(s.ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("%w: %w", ErrStack, err)
	}
	return ErrStack
}
