package peerserve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/peer"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// Sentinel errors of New and Run.
var (
	ErrConfig = errors.New("invalid peerserve config")
	ErrListen = errors.New("peerserve cannot listen")
)

// Defaults of Config.
const (
	DefaultListenAddr      = "127.0.0.1:0"
	DefaultMaxPeers        = 125
	DefaultUserAgent       = "hemi-peerserve"
	DefaultTrickleInterval = 50 * time.Millisecond
	// maxPendingTxAnnouncements bounds the announcement queue; beyond it
	// transaction announcements are dropped (peers still get them with a
	// mempool request).
	maxPendingTxAnnouncements = 100_000
)

// Config configures a Server. It is not changed after New.
type Config struct {
	// ListenAddr is the TCP address to listen on; empty means
	// DefaultListenAddr (loopback, any free port).
	ListenAddr string
	// Params are the chain parameters (network magic) of the served chain.
	Params *chaincfg.Params
	// Source is the chain to serve.
	Source Source
	// Logger receives the server's logs; nil means slog.Default().
	Logger *slog.Logger
	// MaxPeers bounds concurrent peers; 0 means DefaultMaxPeers.
	MaxPeers int
	// UserAgent is advertised in the version message; empty means
	// DefaultUserAgent.
	UserAgent string
	// TrickleInterval is how often queued inventory is sent to a peer; 0
	// means DefaultTrickleInterval.
	TrickleInterval time.Duration
	// Registerer registers the server's Prometheus metrics; nil means they
	// are kept but not registered.
	Registerer prometheus.Registerer
	// Limits bound unfinished handshakes, connections per address and the
	// bytes of partly received messages.
	Limits Limits
}

// MempoolLister is an optional Source extension: a Source that implements
// it answers the mempool message with an inv of its transactions.
type MempoolLister interface {
	MempoolTxids() []chainhash.Hash
}

// BlockAcceptor is an optional Source extension: a Source that implements
// it is offered blocks that peers announce and send, and the server asks a
// peer for its blocks when it connects with a higher start height or sends
// a block whose parent is unknown (getblocks from the Source's best chain).
type BlockAcceptor interface {
	// HaveBlock reports whether the block is known (best chain or not).
	HaveBlock(hash chainhash.Hash) bool
	// AcceptBlock offers a block a peer sent. An error wrapping
	// ErrOrphanBlock means the block was kept but its parent is unknown;
	// any other error is sent back in a reject message.
	AcceptBlock(b *wire.MsgBlock) error
}

// ErrOrphanBlock is wrapped by BlockAcceptor.AcceptBlock for a block whose
// parent is unknown.
var ErrOrphanBlock = errors.New("orphan block")

// RejectCoder is implemented by Source errors that know the reject code
// to send; other errors are sent as wire.RejectInvalid.
type RejectCoder interface {
	RejectCode() wire.RejectCode
}

// Server serves a Source to Bitcoin peers.
type Server struct {
	cfg Config
	log *slog.Logger
	ln  net.Listener
	m   *metrics

	lim    Limits
	budget *msgBudget

	mu          sync.Mutex
	peers       map[*serverPeer]struct{} // handshaking and established
	pending     int                      // peers still in the handshake
	established int
	addrs       map[string]*addrCount
	seq         uint64 // accept order, to evict the oldest handshake
	closing     bool

	annMu    sync.Mutex
	annTip   *chainhash.Hash
	annTxs   []chainhash.Hash
	annReady chan struct{}

	ran       atomic.Bool
	closeOnce sync.Once
	closed    chan struct{}
}

// New checks cfg and starts listening, so Addr is known before Run.
func New(cfg Config) (*Server, error) {
	if cfg.Params == nil {
		return nil, fmt.Errorf("%w: Params is nil", ErrConfig)
	}
	if cfg.Source == nil {
		return nil, fmt.Errorf("%w: Source is nil", ErrConfig)
	}
	if cfg.MaxPeers < 0 {
		return nil, fmt.Errorf("%w: MaxPeers %d is negative", ErrConfig, cfg.MaxPeers)
	}
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = DefaultListenAddr
	}
	if cfg.MaxPeers == 0 {
		cfg.MaxPeers = DefaultMaxPeers
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.TrickleInterval <= 0 {
		cfg.TrickleInterval = DefaultTrickleInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	lim, err := cfg.Limits.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg.Limits = lim
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("%w on %s: %w", ErrListen, cfg.ListenAddr, err)
	}
	return &Server{
		cfg:      cfg,
		log:      cfg.Logger.With("subsystem", "peerserve"),
		ln:       ln,
		m:        m,
		lim:      lim,
		budget:   newMsgBudget(lim.MessageBudget, m),
		peers:    make(map[*serverPeer]struct{}),
		addrs:    make(map[string]*addrCount),
		annReady: make(chan struct{}, 1),
		closed:   make(chan struct{}),
	}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// PeerCount is the number of connected peers that finished the version
// handshake.
func (s *Server) PeerCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.established
}

// Close stops the server: it stops listening, and a running Run
// disconnects its peers and returns. It is for owners that may never call
// Run; it is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		_ = s.ln.Close()
	})
}

// Run accepts and serves peers until ctx is done or Close is called, then
// disconnects them all and returns nil. It may be called once.
func (s *Server) Run(ctx context.Context) error {
	if !s.ran.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: Run called twice", ErrConfig)
	}
	s.log.Info("peerserve listening", "addr", s.Addr(), "net", s.cfg.Params.Name)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var wg sync.WaitGroup
	s.cfg.Source.Subscribe(ctx, s.enqueue)
	wg.Go(func() { s.announceLoop(ctx) })
	wg.Go(func() {
		select {
		case <-ctx.Done():
		case <-s.closed:
			cancel()
		}
		_ = s.ln.Close()
	})

	var peerWG sync.WaitGroup
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				break
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.log.Warn("peerserve accept failed", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		s.serve(ctx, conn, &peerWG)
	}

	s.mu.Lock()
	s.closing = true
	for sp := range s.peers {
		sp.Disconnect()
	}
	s.mu.Unlock()
	peerWG.Wait()
	wg.Wait()
	s.log.Info("peerserve stopped", "addr", s.Addr())
	return nil
}

// serve admits an accepted connection under the limits and starts the
// protocol on it.
func (s *Server) serve(ctx context.Context, conn net.Conn, wg *sync.WaitGroup) {
	remote := conn.RemoteAddr().String()
	ip, loopback := remoteIP(conn)
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		_ = conn.Close()
		return
	}
	if s.established >= s.cfg.MaxPeers {
		s.mu.Unlock()
		s.m.refused.WithLabelValues(reasonMaxPeers).Inc()
		s.log.Debug("peerserve refused connection: peer slots full", "remote", remote, "max_peers", s.cfg.MaxPeers)
		_ = conn.Close()
		return
	}
	ac := s.addrs[ip]
	if ac == nil {
		ac = &addrCount{}
		s.addrs[ip] = ac
	}
	if limit := s.lim.limitFor(loopback); ac.conns >= limit {
		warn := !ac.warned
		ac.warned = true
		s.mu.Unlock()
		s.m.refused.WithLabelValues(reasonPerAddress).Inc()
		level := slog.LevelDebug
		if warn {
			level = slog.LevelWarn
		}
		s.log.Log(ctx, level, "peerserve refused connection: per-address limit reached",
			"remote", remote, "ip", ip, "connections", ac.conns, "limit", limit, "loopback", loopback)
		_ = conn.Close()
		return
	}
	var evicted *serverPeer
	if s.pending >= s.lim.MaxPending {
		evicted = s.oldestPendingLocked()
		if evicted != nil {
			s.releaseLocked(evicted)
		}
	}
	sp := newServerPeer(ctx, s)
	s.seq++
	sp.seq, sp.remote, sp.ip, sp.loopback = s.seq, remote, ip, loopback
	s.peers[sp] = struct{}{}
	s.pending++
	ac.conns++
	s.m.handshakes.Set(float64(s.pending))
	sp.hsTimer = time.AfterFunc(s.lim.HandshakeTimeout, func() { s.handshakeExpired(sp) })
	s.mu.Unlock()

	if evicted != nil {
		s.m.refused.WithLabelValues(reasonEvicted).Inc()
		s.log.Debug("peerserve dropped unfinished handshake for a new connection", "remote", evicted.remote,
			"max_pending", s.lim.MaxPending)
		evicted.Disconnect()
	}
	bc := newBudgetConn(ctx, conn, s.budget, s.lim.MessageTimeout, sp.estab.Load, func(reason string, err error) {
		s.m.refused.WithLabelValues(reason).Inc()
		s.log.Warn("peerserve dropping peer: message limit", "remote", remote, "reason", reason, "err", err)
	})
	sp.AssociateConnection(bc)
	s.log.Debug("peerserve connection accepted", "remote", remote)
	wg.Go(func() {
		select {
		case <-sp.Done():
		case <-ctx.Done():
			sp.Disconnect()
		}
		sp.WaitForDisconnect()
		s.mu.Lock()
		delete(s.peers, sp)
		s.releaseLocked(sp)
		s.mu.Unlock()
		s.log.Debug("peerserve peer disconnected", "remote", remote)
	})
}

// oldestPendingLocked picks the handshake to evict for a new connection:
// the oldest of the address with the most unfinished handshakes, so a
// flood from one address evicts its own connections before another
// address's handshake in progress. Nil if none.
func (s *Server) oldestPendingLocked() *serverPeer {
	count := make(map[string]int)
	oldest := make(map[string]*serverPeer)
	for sp := range s.peers {
		if sp.established || sp.released {
			continue
		}
		count[sp.ip]++
		if o := oldest[sp.ip]; o == nil || sp.seq < o.seq {
			oldest[sp.ip] = sp
		}
	}
	var pick *serverPeer
	for ip, sp := range oldest {
		if pick == nil || count[ip] > count[pick.ip] || (count[ip] == count[pick.ip] && sp.seq < pick.seq) {
			pick = sp
		}
	}
	return pick
}

// releaseLocked takes a connection out of the counts, once: when it is
// evicted, times out, is refused at the handshake, or disconnects.
func (s *Server) releaseLocked(sp *serverPeer) {
	if sp.released {
		return
	}
	sp.released = true
	sp.hsTimer.Stop()
	if sp.established {
		s.established--
	} else {
		s.pending--
	}
	if ac := s.addrs[sp.ip]; ac != nil {
		ac.conns--
		if ac.conns < s.lim.limitFor(sp.loopback) {
			ac.warned = false
		}
		if ac.conns <= 0 {
			delete(s.addrs, sp.ip)
		}
	}
	s.m.handshakes.Set(float64(s.pending))
	s.m.peers.Set(float64(s.established))
}

// handshakeExpired drops a connection that did not finish the handshake
// in time.
func (s *Server) handshakeExpired(sp *serverPeer) {
	s.mu.Lock()
	if sp.released || sp.established {
		s.mu.Unlock()
		return
	}
	s.releaseLocked(sp)
	s.mu.Unlock()
	s.m.refused.WithLabelValues(reasonHandshakeTimeout).Inc()
	s.log.Debug("peerserve dropped connection: no handshake in time", "remote", sp.remote, "timeout", s.lim.HandshakeTimeout)
	sp.Disconnect()
}

// promote counts a peer that finished the handshake as established, or
// drops it when the peer slots filled meanwhile. It reports whether the
// peer stays.
func (s *Server) promote(sp *serverPeer) bool {
	s.mu.Lock()
	switch {
	case sp.released:
		s.mu.Unlock()
		return false
	case sp.established:
		s.mu.Unlock()
		return true
	case s.established >= s.cfg.MaxPeers:
		s.releaseLocked(sp)
		s.mu.Unlock()
		s.m.refused.WithLabelValues(reasonMaxPeers).Inc()
		s.log.Debug("peerserve dropped peer after handshake: peer slots full", "remote", sp.remote, "max_peers", s.cfg.MaxPeers)
		sp.Disconnect()
		return false
	}
	sp.hsTimer.Stop()
	sp.established = true
	sp.estab.Store(true)
	s.pending--
	s.established++
	s.m.handshakes.Set(float64(s.pending))
	s.m.peers.Set(float64(s.established))
	s.mu.Unlock()
	s.log.Debug("peerserve peer connected", "remote", sp.remote)
	return true
}

// snapshot returns the connected peers.
func (s *Server) snapshot() []*serverPeer {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*serverPeer, 0, len(s.peers))
	for sp := range s.peers {
		out = append(out, sp)
	}
	return out
}

// enqueue records an announcement without blocking (Source.Subscribe's
// contract); announceLoop sends it.
func (s *Server) enqueue(a Announcement) {
	s.annMu.Lock()
	if a.Block != nil {
		h := *a.Block
		s.annTip = &h
	}
	if a.Tx != nil {
		if len(s.annTxs) < maxPendingTxAnnouncements {
			s.annTxs = append(s.annTxs, *a.Tx)
		}
	}
	s.annMu.Unlock()
	select {
	case s.annReady <- struct{}{}:
	default:
	}
}

func (s *Server) announceLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.annReady:
		}
		s.annMu.Lock()
		tip, txs := s.annTip, s.annTxs
		s.annTip, s.annTxs = nil, nil
		s.annMu.Unlock()
		peers := s.snapshot()
		if tip != nil {
			for _, sp := range peers {
				sp.announceBlock(*tip)
			}
		}
		for i := range txs {
			iv := wire.NewInvVect(wire.InvTypeTx, &txs[i])
			for _, sp := range peers {
				if sp.relayTx.Load() {
					sp.QueueInventory(iv)
				}
			}
		}
	}
}

// peerConfig is the btcd peer configuration for one inbound peer.
func (s *Server) peerConfig(l peer.MessageListeners) *peer.Config {
	// btcd's peer tolerates malformed messages from localhost on regtest
	// (for its own regression tests); we drop such a peer on every network.
	l.OnRead = func(p *peer.Peer, _ int, _ wire.Message, err error) {
		var me *wire.MessageError
		if err != nil && errors.As(err, &me) {
			s.log.Debug("peerserve dropping peer after malformed message", "remote", p.Addr(), "err", err)
			s.m.dropped.Inc()
			p.Disconnect()
		}
	}
	l.OnWrite = func(_ *peer.Peer, n int, _ wire.Message, _ error) {
		s.m.bytesSent.Add(float64(n))
	}
	return &peer.Config{
		NewestBlock: func() (*chainhash.Hash, int32, error) {
			h, height := s.cfg.Source.Tip()
			return &h, height, nil
		},
		UserAgentName:    s.cfg.UserAgent,
		UserAgentVersion: "0.1.0",
		ChainParams:      s.cfg.Params,
		Services:         wire.SFNodeNetwork | wire.SFNodeWitness,
		TrickleInterval:  s.cfg.TrickleInterval,
		Listeners:        l,
		// We never request anything from peers but transactions, so a
		// slow answer is no reason to drop one.
		DisableStallHandler: true,
		// btcd's peer package detects self connections with a
		// process-wide nonce cache, which would refuse our own P2P client
		// running in the same process. The server never dials out, so it
		// cannot connect to itself.
		AllowSelfConns: true,
	}
}
