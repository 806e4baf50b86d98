package netp2p

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	"golang.org/x/sync/errgroup"

	"github.com/hemi-go/hemi/internal/chain"
)

// Service is the node's L2 networking: the libp2p host, the handshake,
// static peers, and block gossip (validate, import, publish). New builds
// and starts the host (so other protocols, such as range sync, can
// register on Host before Run); Run runs gossip and the dialers until ctx
// ends, then closes the host.
type Service struct {
	cfg    Config
	log    *slog.Logger
	m      *metrics
	host   host.Host
	peers  *peerTable
	gate   *Gate
	static []peer.AddrInfo

	// life is the context of the goroutines the host's callbacks start
	// (handshakes); Close cancels it.
	life   context.Context
	stop   context.CancelFunc
	wg     sync.WaitGroup
	lifeMu sync.Mutex // orders goLife's wg.Add before Close's wg.Wait
	closed bool       // guarded by lifeMu

	// syncing is set while a catch-up runs (one at a time).
	syncing atomic.Bool
	// syncer is Config.Syncer or the one SetSyncer installed.
	syncer atomic.Pointer[Syncer]
	// committed queues the blocks PublishCommitted hands the publisher.
	committed chan *chain.Block
	// validating holds the ids of the messages being validated.
	validating sync.Map // message id -> struct{}
	// feed is the pending-transaction feed's state.
	feed *txFeed
}

// SetSyncer installs the catch-up syncer after New, for a syncer that
// needs the service's Host first (range sync registers its protocol on
// it). Call it before Run; it replaces Config.Syncer.
func (s *Service) SetSyncer(sy Syncer) {
	if sy == nil {
		s.syncer.Store(nil)
		return
	}
	s.syncer.Store(&sy)
}

// getSyncer returns the installed syncer, or nil.
func (s *Service) getSyncer() Syncer {
	if p := s.syncer.Load(); p != nil {
		return *p
	}
	return nil
}

// New builds the service and starts its libp2p host: TCP, Noise, yamux,
// no relay, no NAT port mapping, no mDNS or DHT (the node finds peers
// only in its configuration).
func New(cfg Config) (*Service, error) {
	cfg, static, listen, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	key := cfg.Identity
	if key == nil {
		if key, _, err = crypto.GenerateEd25519Key(rand.Reader); err != nil {
			return nil, fmt.Errorf("netp2p: identity: %w", err)
		}
	}
	m := newMetrics(cfg.Registerer)
	if cfg.TxFeed.Senders != nil {
		registerSenderCache(cfg.Registerer, cfg.TxFeed.Senders)
	}
	ids := make([]peer.ID, len(static))
	for i, ai := range static {
		ids[i] = ai.ID
	}
	pt := newPeerTable(ids, cfg.MaxPeers, cfg.BanDuration, m)
	opts := []libp2p.Option{
		libp2p.Identity(key),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.DisableRelay(),
		libp2p.ConnectionGater(pt),
		// libp2p's own metrics would register on the process-wide default
		// registry (and clash between two hosts in one test process).
		libp2p.DisableMetrics(),
		libp2p.UserAgent("hemi"),
	}
	if len(listen) == 0 {
		opts = append(opts, libp2p.NoListenAddrs)
	} else {
		opts = append(opts, libp2p.ListenAddrs(listen...))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("netp2p: start libp2p host on %v: %w", cfg.ListenAddrs, err)
	}
	life, stop := context.WithCancel(context.Background())
	s := &Service{cfg: cfg, log: cfg.Logger, m: m, host: h, peers: pt, gate: NewGate(cfg.Sequencers), static: static,
		life: life, stop: stop, committed: make(chan *chain.Block, 16),
		feed: &txFeed{gate: NewTxGate(cfg.GenesisHash, cfg.Sequencers), queue: make(chan *TxBatch, txFeedQueue)}}
	if cfg.Syncer != nil {
		s.SetSyncer(cfg.Syncer)
	}
	for _, ai := range static {
		h.Peerstore().AddAddrs(ai.ID, ai.Addrs, time.Hour*24*365)
	}
	h.SetStreamHandler(ProtocolHandshake, s.handleHandshake)
	h.Network().Notify(&network.NotifyBundle{ConnectedF: s.onConnected, DisconnectedF: s.onDisconnected})
	s.log.Info("L2 p2p host started", "peer_id", h.ID(), "listen", s.Addrs(), "static_peers", len(static),
		"genesis", cfg.GenesisHash, "topic", Topic(cfg.GenesisHash))
	return s, nil
}

// Host is the libp2p host, for protocols of other parts (range sync
// registers its request/response protocol on it).
func (s *Service) Host() host.Host { return s.host }

// ID is the node's peer id.
func (s *Service) ID() peer.ID { return s.host.ID() }

// Addrs are the node's listen addresses with its /p2p/ id, as other
// nodes list it in their static peers.
func (s *Service) Addrs() []string {
	p2p, err := ma.NewMultiaddr("/p2p/" + s.host.ID().String())
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range s.host.Addrs() {
		out = append(out, a.Encapsulate(p2p).String())
	}
	return out
}

// Peers returns every known peer and its state: connected peers, static
// peers (also when disconnected) and banned ones.
func (s *Service) Peers() []PeerInfo { return s.peers.All() }

// Evidence returns the equivocations seen (kept in memory, newest
// MaxEvidence), oldest first.
func (s *Service) Evidence() []Evidence { return s.gate.Evidence() }

// Status is what this node announces in the handshake now.
func (s *Service) Status() Status {
	head := s.cfg.Chain.Head()
	return Status{Version: HandshakeVersion, ChainID: s.cfg.ChainID, GenesisHash: s.cfg.GenesisHash,
		HeadNumber: head.Number.Uint64(), HeadHash: head.Hash()}
}

// Run runs the dialers of the static peers and block gossip until ctx
// ends or gossip fails to start; it then closes the host.
func (s *Service) Run(ctx context.Context) error {
	defer s.Close()
	g, ctx := errgroup.WithContext(ctx)
	for _, ai := range s.static {
		if ai.ID == s.host.ID() {
			continue
		}
		g.Go(func() error { s.dial(ctx, ai); return nil })
	}
	g.Go(func() error { return s.runGossip(ctx) })
	return g.Wait()
}

// Close stops the host and waits for the goroutines its callbacks
// started. Run calls it; call it yourself only when Run never ran.
func (s *Service) Close() error {
	s.lifeMu.Lock()
	if s.closed {
		s.lifeMu.Unlock()
		return nil
	}
	s.closed = true
	s.lifeMu.Unlock()
	s.stop()
	err := s.host.Close()
	s.wg.Wait()
	return err
}

// goLife runs f on a goroutine owned by the service's lifetime.
func (s *Service) goLife(f func(ctx context.Context)) {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.closed {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f(s.life)
	}()
}

// dial keeps the static peer ai connected: it dials while it is not,
// waiting between failures from redialMin, doubling up to redialMax.
func (s *Service) dial(ctx context.Context, ai peer.AddrInfo) {
	wait := redialMin
	failures := 0
	for {
		if s.host.Network().Connectedness(ai.ID) != network.Connected {
			dctx, cancel := context.WithTimeout(ctx, s.cfg.HandshakeTimeout)
			err := s.host.Connect(dctx, ai)
			cancel()
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				failures++
				if failures == 1 || failures%10 == 0 {
					s.log.Info("static peer unreachable, redialing", "peer", ai.ID, "addrs", ai.Addrs, "failures", failures, "retry_in", wait, "err", err)
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
				wait = min(2*wait, redialMax)
				continue
			}
			failures, wait = 0, redialMin
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(redialMin):
		}
	}
}

// onConnected records a connection and starts the handshake: the dialer
// opens the handshake stream; the listener waits for it and disconnects
// a peer that has not shaken hands within HandshakeTimeout.
func (s *Service) onConnected(_ network.Network, c network.Conn) {
	p := c.RemotePeer()
	inbound := c.Stat().Direction == network.DirInbound
	s.peers.Connected(p, c.RemoteMultiaddr(), inbound)
	if inbound {
		s.goLife(func(ctx context.Context) {
			select {
			case <-ctx.Done():
			case <-time.After(s.cfg.HandshakeTimeout):
				if !s.peers.Ready(p) && s.host.Network().Connectedness(p) == network.Connected {
					s.refuse(p, "handshake_timeout", fmt.Errorf("no handshake within %s", s.cfg.HandshakeTimeout), false)
				}
			}
		})
		return
	}
	s.goLife(func(ctx context.Context) { s.handshake(ctx, p) })
}

func (s *Service) onDisconnected(_ network.Network, c network.Conn) {
	p := c.RemotePeer()
	info, _ := s.peers.Info(p)
	if s.peers.Disconnected(p) && info.Ready {
		s.log.Info("L2 peer disconnected", "peer", p, "score", info.Score)
	}
}

// handshake is the dialer's side: write our Status, read the peer's.
func (s *Service) handshake(ctx context.Context, p peer.ID) {
	if s.peers.Ready(p) {
		return // a second connection to a peer already checked
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.HandshakeTimeout)
	defer cancel()
	st, err := s.host.NewStream(ctx, p, ProtocolHandshake)
	if err != nil {
		if ctx.Err() == nil && s.host.Network().Connectedness(p) == network.Connected {
			s.refuse(p, "no_handshake", fmt.Errorf("open handshake stream: %w", err), false)
		}
		return
	}
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	if err := WriteStatus(st, s.Status()); err != nil {
		s.refuse(p, "io", fmt.Errorf("write handshake: %w", err), false)
		return
	}
	theirs, err := ReadStatus(st)
	if err != nil {
		s.refuse(p, "bad_status", err, false)
		return
	}
	s.checkStatus(p, theirs)
}

// handleHandshake is the listener's side: read the peer's Status, write
// ours, then judge.
func (s *Service) handleHandshake(st network.Stream) {
	defer st.Close()
	p := st.Conn().RemotePeer()
	_ = st.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	theirs, err := ReadStatus(st)
	if err != nil {
		s.refuse(p, "bad_status", err, false)
		return
	}
	if err := WriteStatus(st, s.Status()); err != nil {
		s.refuse(p, "io", fmt.Errorf("write handshake: %w", err), false)
		return
	}
	s.checkStatus(p, theirs)
}

func (s *Service) checkStatus(p peer.ID, theirs Status) {
	if err := Compatible(s.Status(), theirs); err != nil {
		reason := "chain_id"
		if theirs.GenesisHash != s.cfg.GenesisHash {
			reason = "genesis"
		}
		s.refuse(p, reason, err, true)
		return
	}
	s.peers.SetReady(p, theirs.HeadNumber, theirs.HeadHash)
	s.m.handshakes.WithLabelValues("ok").Inc()
	info, _ := s.peers.Info(p)
	s.log.Info("L2 peer connected", "peer", p, "addr", info.Addr, "inbound", info.Inbound, "static", info.Static,
		"head", theirs.HeadNumber, "head_hash", theirs.HeadHash)
}

// refuse disconnects p with a logged reason; ban also refuses its
// connections for BanDuration (a peer on another network).
func (s *Service) refuse(p peer.ID, reason string, err error, ban bool) {
	s.m.handshakes.WithLabelValues(reason).Inc()
	if ban {
		s.peers.Ban(p)
	}
	s.log.Warn("L2 peer refused", "peer", p, "reason", reason, "banned", ban, "err", err)
	_ = s.host.Network().ClosePeer(p)
}
