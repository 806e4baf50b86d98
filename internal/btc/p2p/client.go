package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/peer"
	"github.com/btcsuite/btcd/wire/v2"
	"golang.org/x/sync/errgroup"
)

// Errors returned by Client methods.
var (
	ErrRunning    = errors.New("p2p client: Run called more than once")
	ErrNotRunning = errors.New("p2p client is not running")
	ErrNoPeers    = errors.New("no connected bitcoin peers")
)

// errBanned is returned by a connection attempt to a banned host.
var errBanned = errors.New("host is banned")

// maxUnconnectedHeaders is how many headers messages in a row may fail to
// connect before the peer is banned (Bitcoin Core uses the same figure).
const maxUnconnectedHeaders = 10

// Client is the P2P client of the Bitcoin node: it keeps connections to the
// configured peers, syncs headers and blocks into a Chain and broadcasts
// transactions. Create it with New and start it with Run.
type Client struct {
	cfg      Config
	chain    Chain
	log      *slog.Logger
	m        *metrics
	powLimit *big.Int
	work     chan blockJob
	fatal    chan error // the first storage failure, ends Run

	// scheduleMu serializes schedule so that two callers never hand out
	// the same NeedBlocks answer twice.
	scheduleMu sync.Mutex

	mu         sync.Mutex
	runCtx     context.Context
	running    bool
	peers      map[*peerState]struct{}
	inflight   map[chainhash.Hash]*peerState
	processing map[chainhash.Hash]struct{}
	recentDone map[chainhash.Hash]struct{}
	hdrPeer    *peerState // peer with our one outstanding getheaders
	hdrAskedAt time.Time
	bans       map[string]time.Time
	pending    map[chainhash.Hash]*broadcast
	relayed    relayMemory // transactions whose broadcast ended lately
	samples    []rateSample

	nPending       atomic.Int32 // len(pending), read without mu on hot paths
	blocksAccepted atomic.Uint64
	txsAccepted    atomic.Uint64
	bytesReceived  atomic.Uint64
}

// peerState is what the client knows about one connection. Fields after p
// are guarded by Client.mu.
type peerState struct {
	p    *peer.Peer
	addr string // configured address
	host string // remote IP, the ban key

	ready        bool
	banned       bool
	reason       string // why we dropped it, for the log
	height       int32
	inflight     map[chainhash.Hash]struct{}
	notFound     map[chainhash.Hash]struct{}
	lastProgress time.Time
	needHeaders  bool
	lastAsked    time.Time // last getheaders sent to it
	unconnected  int       // getheaders rounds in a row that left headers unconnected
	unrequested  int
	// hdrNonce is the nonce of the ping sent right behind our getheaders
	// to this peer: peers answer messages in order, so its pong means
	// the peer has sent whatever it will send in reply.
	hdrNonce uint64
	// roundUnconnected: headers that do not connect arrived while our
	// getheaders to this peer was in flight.
	roundUnconnected bool
	// waitingRound: headers that do not connect arrived outside a round
	// and were counted; more are not counted until the peer is asked.
	waitingRound bool
}

// blockJob is a received block on its way to Chain.AcceptBlock.
type blockJob struct {
	ps    *peerState
	block *wire.MsgBlock
	hash  chainhash.Hash
}

// New validates cfg and returns a Client feeding chain. It does not connect;
// Run does.
func New(cfg Config, chain Chain) (*Client, error) {
	if chain == nil {
		return nil, fmt.Errorf("%w: chain is required", ErrConfig)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Client{
		cfg:        cfg,
		chain:      chain,
		log:        cfg.Logger,
		m:          m,
		powLimit:   cfg.Params.PowLimit,
		work:       make(chan blockJob, 2*cfg.Workers),
		fatal:      make(chan error, 1),
		peers:      make(map[*peerState]struct{}),
		inflight:   make(map[chainhash.Hash]*peerState),
		processing: make(map[chainhash.Hash]struct{}),
		recentDone: make(map[chainhash.Hash]struct{}),
		bans:       make(map[string]time.Time),
		pending:    make(map[chainhash.Hash]*broadcast),
	}, nil
}

// Run connects to the peers and syncs until ctx is done. It returns nil
// after ctx is cancelled, or the error of a Chain that failed to store
// headers or a block for a reason other than their invalidity: retrying
// cannot fix a failing store.
func (c *Client) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	c.mu.Lock()
	if c.running || c.runCtx != nil {
		c.mu.Unlock()
		return ErrRunning
	}
	c.running = true
	c.runCtx = ctx
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.running = false
		c.mu.Unlock()
	}()

	c.log.Info("bitcoin p2p client starting", "network", c.cfg.Params.Name, "peers", c.cfg.Peers,
		"max_peers", c.cfg.MaxPeers, "window", c.cfg.BlocksInFlightPerPeer)
	for range c.cfg.Workers {
		g.Go(func() error { return c.worker(ctx) })
	}
	g.Go(func() error { return c.tick(ctx) })
	g.Go(func() error {
		select {
		case err := <-c.fatal:
			return err
		case <-ctx.Done():
			return nil
		}
	})
	slots := make(chan struct{}, c.cfg.MaxPeers)
	for _, addr := range c.cfg.Peers {
		g.Go(func() error { return c.connLoop(ctx, addr, slots) })
	}
	err := g.Wait()
	c.log.Info("bitcoin p2p client stopped")
	return err
}

// connLoop keeps one configured peer connected, waiting out bans and
// backing off exponentially between failed attempts.
func (c *Client) connLoop(ctx context.Context, addr string, slots chan struct{}) error {
	backoff := c.cfg.ReconnectMin
	cfgHost, _, _ := net.SplitHostPort(addr)
	for {
		if until, ok := c.bannedUntil(cfgHost); ok {
			c.log.Info("peer banned, waiting", "peer", addr, "until", until.Format(time.RFC3339))
			if !sleepCtx(ctx, time.Until(until)) {
				return nil
			}
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		ready, err := c.connectOnce(ctx, addr)
		<-slots
		if ctx.Err() != nil {
			return nil
		}
		if ready {
			backoff = c.cfg.ReconnectMin
		}
		if err != nil && !errors.Is(err, errBanned) {
			c.log.Info("peer connection ended", "peer", addr, "err", err, "retry_in", backoff)
		}
		// Jitter spreads reconnects of many clients to one peer.
		d := backoff/2 + rand.N(backoff/2+1)
		if !sleepCtx(ctx, d) {
			return nil
		}
		backoff = min(2*backoff, c.cfg.ReconnectMax)
	}
}

// connectOnce dials addr, runs the handshake and serves the peer until it
// disconnects or ctx is done. ready reports whether the handshake finished.
func (c *Client) connectOnce(ctx context.Context, addr string) (ready bool, err error) {
	d := net.Dialer{Timeout: c.cfg.ConnectTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false, fmt.Errorf("dial: %w", err)
	}
	remote := conn.RemoteAddr().String()
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		_ = conn.Close()
		return false, fmt.Errorf("remote address %q: %w", remote, err)
	}
	if _, banned := c.bannedUntil(host); banned {
		_ = conn.Close()
		return false, errBanned
	}
	ps := &peerState{addr: addr, host: host,
		inflight: make(map[chainhash.Hash]struct{}), notFound: make(map[chainhash.Hash]struct{})}
	verack := make(chan struct{})
	p, err := peer.NewOutboundPeer(c.peerConfig(ps, verack), remote)
	if err != nil {
		_ = conn.Close()
		return false, fmt.Errorf("new peer: %w", err)
	}
	ps.p = p
	p.AssociateConnection(conn)

	timer := time.NewTimer(c.cfg.ConnectTimeout)
	defer timer.Stop()
	select {
	case <-verack:
	case <-p.Done():
		p.WaitForDisconnect()
		return false, fmt.Errorf("handshake failed: %s", c.dropReason(ps, "peer disconnected"))
	case <-timer.C:
		p.Disconnect()
		p.WaitForDisconnect()
		return false, errors.New("handshake timed out")
	case <-ctx.Done():
		p.Disconnect()
		p.WaitForDisconnect()
		return false, nil
	}

	c.addPeer(ps)
	select {
	case <-p.Done():
	case <-ctx.Done():
		p.Disconnect()
	}
	p.WaitForDisconnect()
	c.removePeer(ps)
	return true, fmt.Errorf("disconnected: %s", c.dropReason(ps, "peer closed the connection"))
}

// peerConfig returns btcd peer settings whose listeners feed ps's events
// to the client. Listeners run on the peer's input goroutine, one at a time.
func (c *Client) peerConfig(ps *peerState, verack chan struct{}) *peer.Config {
	return &peer.Config{
		NewestBlock: func() (*chainhash.Hash, int32, error) {
			h, height := c.chain.BlockTip()
			return &h, height, nil
		},
		UserAgentName:    c.cfg.UserAgentName,
		UserAgentVersion: c.cfg.UserAgentVersion,
		ChainParams:      c.cfg.Params,
		// We fetch witness blocks, so we must say we understand them.
		Services:        wire.SFNodeWitness,
		ProtocolVersion: peer.MaxProtocolVersion,
		// btcd keeps one process-wide set of version nonces; the
		// benchmark and devnet run the serving peer in this process, so
		// the self-connection check would drop every such connection. We
		// only dial configured addresses, so it guards nothing here.
		AllowSelfConns: true,
		Listeners: peer.MessageListeners{
			OnVersion: func(p *peer.Peer, msg *wire.MsgVersion) *wire.MsgReject {
				c.mu.Lock()
				ps.height = msg.LastBlock
				c.mu.Unlock()
				return nil
			},
			OnVerAck: func(p *peer.Peer, _ *wire.MsgVerAck) {
				// Ready before the input loop starts, so that nothing
				// the peer sends after verack goes unaccounted.
				c.mu.Lock()
				ps.ready = true
				c.mu.Unlock()
				close(verack)
			},
			OnRead: func(p *peer.Peer, n int, _ wire.Message, err error) {
				c.bytesReceived.Add(uint64(n))
				c.m.bytesReceived.Add(float64(n))
				if err != nil && isMalformed(err) {
					c.ban(ps, reasonMalformedMessage, err)
				}
			},
			OnWrite: func(p *peer.Peer, n int, _ wire.Message, _ error) {
				c.m.bytesSent.Add(float64(n))
			},
			OnHeaders:  func(p *peer.Peer, msg *wire.MsgHeaders) { c.onHeaders(ps, msg) },
			OnInv:      func(p *peer.Peer, msg *wire.MsgInv) { c.onInv(ps, msg) },
			OnBlock:    func(p *peer.Peer, msg *wire.MsgBlock, _ []byte) { c.onBlock(ps, msg) },
			OnNotFound: func(p *peer.Peer, msg *wire.MsgNotFound) { c.onNotFound(ps, msg) },
			OnGetData:  func(p *peer.Peer, msg *wire.MsgGetData) { c.onGetData(ps, msg) },
			OnTx:       func(p *peer.Peer, msg *wire.MsgTx) { c.onTx(ps, msg) },
			OnReject:   func(p *peer.Peer, msg *wire.MsgReject) { c.onReject(ps, msg) },
			OnPong:     func(p *peer.Peer, msg *wire.MsgPong) { c.onPong(ps, msg) },
		},
	}
}

// isMalformed reports whether a read error means the peer sent bytes that
// are not a valid message, as opposed to the connection ending.
func isMalformed(err error) bool {
	var me *wire.MessageError
	return errors.As(err, &me)
}

// addPeer registers a peer that finished the handshake and starts asking it
// for headers.
func (c *Client) addPeer(ps *peerState) {
	c.mu.Lock()
	ps.ready = true
	ps.needHeaders = true
	c.peers[ps] = struct{}{}
	n := len(c.peers)
	height := ps.height
	c.mu.Unlock()
	c.m.peers.Set(float64(n))
	c.log.Info("peer connected", "peer", ps.addr, "user_agent", ps.p.UserAgent(),
		"height", height, "witness", ps.p.IsWitnessEnabled(), "peers", n)
	if !ps.p.IsWitnessEnabled() {
		c.log.Warn("peer does not serve witness data, no blocks will be requested from it", "peer", ps.addr)
	}
	// BIP 130: announce new blocks to us with headers rather than inv.
	ps.p.QueueMessage(wire.NewMsgSendHeaders(), nil)
	c.kickHeaders()
	c.schedule()
}

// removePeer forgets a disconnected peer and releases its block requests
// and broadcast verdicts.
func (c *Client) removePeer(ps *peerState) {
	c.mu.Lock()
	delete(c.peers, ps)
	ps.ready = false
	released := len(ps.inflight)
	for h := range ps.inflight {
		delete(c.inflight, h)
	}
	clear(ps.inflight)
	if c.hdrPeer == ps {
		c.hdrPeer = nil
	}
	for _, b := range c.pending {
		b.setVerdict(ps, verdictDisconnected, 0, "")
	}
	n := len(c.peers)
	c.mu.Unlock()
	c.m.peers.Set(float64(n))
	c.m.blockRetries.Add(float64(released))
	c.log.Info("peer disconnected", "peer", ps.addr, "released_requests", released, "peers", n)
	c.kickHeaders()
	c.schedule()
}

// ban disconnects ps and refuses its host for BanDuration.
func (c *Client) ban(ps *peerState, reason string, err error) {
	until := time.Now().Add(c.cfg.BanDuration)
	c.mu.Lock()
	if ps.banned {
		c.mu.Unlock()
		return
	}
	ps.banned = true
	ps.reason = "banned: " + reason
	c.bans[ps.host] = until
	if cfgHost, _, e := net.SplitHostPort(ps.addr); e == nil {
		c.bans[cfgHost] = until
	}
	c.mu.Unlock()
	c.m.bans.WithLabelValues(reason).Inc()
	c.log.Warn("peer banned", "peer", ps.addr, "host", ps.host, "reason", reason, "err", err,
		"until", until.Format(time.RFC3339))
	ps.p.Disconnect()
}

// fail ends Run with err unless it is already ending.
func (c *Client) fail(err error) {
	c.log.Error("chain storage failed", "err", err)
	select {
	case c.fatal <- err:
	default:
	}
}

// drop disconnects ps without banning it, e.g. for stalling.
func (c *Client) drop(ps *peerState, reason string) {
	c.mu.Lock()
	if ps.reason == "" {
		ps.reason = reason
	}
	c.mu.Unlock()
	c.log.Info("dropping peer", "peer", ps.addr, "reason", reason)
	ps.p.Disconnect()
}

func (c *Client) dropReason(ps *peerState, def string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps.reason != "" {
		return ps.reason
	}
	return def
}

// bannedUntil reports whether host is banned and until when.
func (c *Client) bannedUntil(host string) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	until, ok := c.bans[host]
	if !ok {
		return time.Time{}, false
	}
	if time.Now().After(until) {
		delete(c.bans, host)
		return time.Time{}, false
	}
	return until, true
}

// Banned lists the hosts currently banned and when each ban ends.
func (c *Client) Banned() map[string]time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]time.Time, len(c.bans))
	now := time.Now()
	for h, t := range c.bans {
		if t.After(now) {
			out[h] = t
		}
	}
	return out
}

// tick drives time-based work: stalled peers, header timeouts, retrying
// downloads and the rate samples behind Progress.
func (c *Client) tick(ctx context.Context) error {
	every := min(time.Second, c.cfg.StallTimeout/4, c.cfg.HeadersTimeout/4)
	t := time.NewTicker(max(every, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			c.checkStalls(now)
			c.sample(now)
			c.refreshHeaderNeeds(now)
			c.kickHeaders()
			c.schedule()
		}
	}
}

// checkStalls drops peers that sit on block requests for too long
// (removePeer then hands their requests to others) and gives up on a
// getheaders that went unanswered.
func (c *Client) checkStalls(now time.Time) {
	type drop struct {
		ps     *peerState
		reason string
	}
	var drops []drop
	// While the workers are behind, peers wait on us, not we on them:
	// restart their clocks instead of calling them stalled.
	backlog := len(c.work) >= cap(c.work)/2
	c.mu.Lock()
	for ps := range c.peers {
		if backlog && len(ps.inflight) > 0 {
			ps.lastProgress = now
		}
		if len(ps.inflight) > 0 && now.Sub(ps.lastProgress) > c.cfg.StallTimeout {
			drops = append(drops, drop{ps, fmt.Sprintf("no block for %s with %d requested", c.cfg.StallTimeout, len(ps.inflight))})
		}
	}
	// A peer may ignore getheaders (btcd does while it is not current);
	// stop waiting for it and let other peers be asked. It is asked again
	// when it announces a block.
	var silent *peerState
	unconnected := 0
	if c.hdrPeer != nil && now.Sub(c.hdrAskedAt) > c.cfg.HeadersTimeout {
		silent = c.hdrPeer
		unconnected = c.endRoundLocked(silent, false)
	}
	c.mu.Unlock()
	if silent != nil {
		c.log.Info("peer did not answer getheaders", "peer", silent.addr, "waited", c.cfg.HeadersTimeout)
		c.banUnconnected(silent, unconnected)
	}
	for _, d := range drops {
		c.drop(d.ps, d.reason)
	}
}

// sleepCtx sleeps for d or until ctx is done; it reports whether it slept
// the whole time.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
