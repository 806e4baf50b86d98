package rangesync

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"golang.org/x/time/rate"

	"github.com/hemi-go/hemi/internal/chain"
)

// ProtocolID is the range sync protocol of the chain whose genesis block
// is genesis: peers of another chain never open it.
func ProtocolID(genesis common.Hash) protocol.ID {
	return protocol.ID("/hemi/" + genesis.Hex()[2:] + "/blocks/1")
}

// Defaults of ServerConfig.
const (
	DefaultServeBlocks    = 512
	DefaultServeBytes     = 16 << 20
	DefaultRequestRate    = 20   // requests per second and peer
	DefaultRequestBurst   = 40   // requests
	DefaultBlockRate      = 4000 // blocks per second and peer
	DefaultStreamsPerPeer = 4
	DefaultServeTimeout   = 30 * time.Second
	// maxLimiterWait is the longest a request waits for its peer's block
	// budget before it is answered StatusRateLimited.
	maxLimiterWait = 2 * time.Second
)

// ServerConfig configures a Server. It is not modified after NewServer.
type ServerConfig struct {
	Host  host.Host
	Chain Source
	// Protocol is ProtocolID of the chain's genesis block hash.
	Protocol protocol.ID
	// MaxBlocks and MaxBytes cap one answer (defaults DefaultServeBlocks,
	// DefaultServeBytes; at least one block is always sent): a longer
	// range is answered in part and the client asks again.
	MaxBlocks int
	MaxBytes  int
	// RequestRate and RequestBurst limit each peer's requests; BlockRate
	// (burst MaxRequestBlocks) its blocks served per second.
	RequestRate  rate.Limit
	RequestBurst int
	BlockRate    rate.Limit
	// StreamsPerPeer is how many requests of one peer are served at once
	// (more are answered StatusRateLimited).
	StreamsPerPeer int
	// Timeout bounds one exchange, from the request to the last block.
	Timeout time.Duration
	// Penalizer hears of peers sending bad requests (optional).
	Penalizer Penalizer
	Logger    *slog.Logger
}

// Server answers range requests from the local chain.
type Server struct {
	cfg ServerConfig
	log *slog.Logger

	mu    sync.Mutex
	peers map[peer.ID]*peerLimits
}

// peerLimits is one peer's budgets.
type peerLimits struct {
	requests *rate.Limiter
	blocks   *rate.Limiter
	streams  int
	seen     time.Time
}

// NewServer checks cfg and fills its defaults.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Host == nil || cfg.Chain == nil || cfg.Protocol == "" {
		return nil, errors.New("rangesync: ServerConfig needs Host, Chain and Protocol")
	}
	if cfg.MaxBlocks <= 0 {
		cfg.MaxBlocks = DefaultServeBlocks
	}
	cfg.MaxBlocks = min(cfg.MaxBlocks, MaxRequestBlocks)
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultServeBytes
	}
	if cfg.RequestRate <= 0 {
		cfg.RequestRate = DefaultRequestRate
	}
	if cfg.RequestBurst <= 0 {
		cfg.RequestBurst = DefaultRequestBurst
	}
	if cfg.BlockRate <= 0 {
		cfg.BlockRate = DefaultBlockRate
	}
	if cfg.StreamsPerPeer <= 0 {
		cfg.StreamsPerPeer = DefaultStreamsPerPeer
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultServeTimeout
	}
	if cfg.Penalizer == nil {
		cfg.Penalizer = nopPenalizer{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default().With("subsystem", "rangesync")
	}
	return &Server{cfg: cfg, log: cfg.Logger, peers: map[peer.ID]*peerLimits{}}, nil
}

// Run serves the protocol on the host until ctx is done.
func (s *Server) Run(ctx context.Context) error {
	s.cfg.Host.SetStreamHandler(s.cfg.Protocol, s.handle)
	defer s.cfg.Host.RemoveStreamHandler(s.cfg.Protocol)
	<-ctx.Done()
	return nil
}

// admit takes one stream slot and one request of p's budget; release
// gives the slot back. A refusal says why.
func (s *Server) admit(p peer.ID, now time.Time) (*peerLimits, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.peers[p]
	if l == nil {
		if len(s.peers) >= 1024 {
			s.prune(now)
		}
		l = &peerLimits{
			requests: rate.NewLimiter(s.cfg.RequestRate, s.cfg.RequestBurst),
			blocks:   rate.NewLimiter(s.cfg.BlockRate, MaxRequestBlocks),
		}
		s.peers[p] = l
	}
	l.seen = now
	if l.streams >= s.cfg.StreamsPerPeer {
		return nil, fmt.Sprintf("more than %d requests at once", s.cfg.StreamsPerPeer)
	}
	if !l.requests.AllowN(now, 1) {
		return nil, fmt.Sprintf("more than %v requests per second", s.cfg.RequestRate)
	}
	l.streams++
	return l, ""
}

func (s *Server) release(l *peerLimits) {
	s.mu.Lock()
	l.streams--
	s.mu.Unlock()
}

// prune forgets peers idle for ten minutes. s.mu is held.
func (s *Server) prune(now time.Time) {
	for p, l := range s.peers {
		if l.streams == 0 && now.Sub(l.seen) > 10*time.Minute {
			delete(s.peers, p)
		}
	}
}

// handle serves one stream: one request, one answer.
func (s *Server) handle(st network.Stream) {
	defer st.Close()
	p := st.Conn().RemotePeer()
	_ = st.SetDeadline(time.Now().Add(s.cfg.Timeout))
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	if err := s.serve(ctx, p, st); err != nil {
		s.log.Debug("range request failed", "peer", p, "err", err)
		_ = st.Reset()
	}
}

// serve reads one request from rw and answers it.
func (s *Server) serve(ctx context.Context, p peer.ID, rw io.ReadWriter) error {
	raw, err := io.ReadAll(io.LimitReader(rw, maxRequestBytes+1))
	if err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	req, err := DecodeRequest(raw)
	if err != nil {
		s.cfg.Penalizer.Penalize(p, fmt.Errorf("%w: %w", ErrBadRequest, err))
		return writeStatus(rw, StatusBadRequest, err.Error())
	}
	l, why := s.admit(p, time.Now())
	if l == nil {
		return writeStatus(rw, StatusRateLimited, why)
	}
	defer s.release(l)
	count := min(int(req.Count), s.cfg.MaxBlocks)
	r := l.blocks.ReserveN(time.Now(), count)
	if !r.OK() || r.Delay() > maxLimiterWait {
		r.Cancel()
		return writeStatus(rw, StatusRateLimited, fmt.Sprintf("more than %v blocks per second", s.cfg.BlockRate))
	}
	if d := r.Delay(); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	bw := bufio.NewWriterSize(rw, 256<<10)
	var sent int
	switch req.Kind {
	case ByNumber:
		sent, err = s.serveNumbers(bw, req.From, count)
	case ByHash:
		sent, err = s.serveHash(bw, req.Hash, count)
	}
	if err != nil {
		return err
	}
	if unused := count - sent; unused > 0 {
		r.CancelAt(time.Now()) // a short answer spends only what it sent
		if sent > 0 {
			l.blocks.AllowN(time.Now(), sent)
		}
	}
	return bw.Flush()
}

// serveNumbers answers a by-number request: canonical blocks from from
// on, stopping at the head, at count blocks, at MaxBytes, or where the
// canonical chain changed under it (a block not on its predecessor).
func (s *Server) serveNumbers(w *bufio.Writer, from uint64, count int) (int, error) {
	var prev common.Hash
	bytes, sent := 0, 0
	for i := range count {
		b, err := s.cfg.Chain.BlockByNumber(from + uint64(i))
		if errors.Is(err, chain.ErrNotFound) {
			break
		}
		if err != nil {
			if sent == 0 {
				return 0, writeStatus(w, StatusServerError, "reading blocks failed")
			}
			return sent, err
		}
		if i > 0 && b.Header.ParentHash != prev {
			break // a reorg while serving: stop at the old branch's end
		}
		enc, err := EncodeBlock(b)
		if err != nil {
			return sent, err
		}
		if sent > 0 && bytes+len(enc) > s.cfg.MaxBytes {
			break
		}
		if sent == 0 {
			if err := writeStatus(w, StatusOK, ""); err != nil {
				return 0, err
			}
		}
		if err := writeFrame(w, enc); err != nil {
			return sent, err
		}
		prev, bytes, sent = b.Hash(), bytes+len(enc), sent+1
	}
	if sent == 0 {
		return 0, writeStatus(w, StatusOK, "")
	}
	return sent, nil
}

// serveHash answers a by-hash request: block hash and up to count-1 of
// its ancestors (never the genesis), oldest first, within MaxBytes.
func (s *Server) serveHash(w *bufio.Writer, hash common.Hash, count int) (int, error) {
	var encs [][]byte
	bytes := 0
	for len(encs) < count {
		b, err := s.cfg.Chain.BlockByHash(hash)
		if errors.Is(err, chain.ErrNotFound) && len(encs) == 0 {
			return 0, writeStatus(w, StatusNotFound, "unknown block "+hash.Hex())
		}
		if err != nil {
			if len(encs) == 0 {
				return 0, writeStatus(w, StatusServerError, "reading blocks failed")
			}
			break
		}
		if b.NumberU64() == 0 {
			break
		}
		enc, err := EncodeBlock(b)
		if err != nil {
			return 0, err
		}
		if len(encs) > 0 && bytes+len(enc) > s.cfg.MaxBytes {
			break
		}
		encs, bytes, hash = append(encs, enc), bytes+len(enc), b.Header.ParentHash
	}
	if err := writeStatus(w, StatusOK, ""); err != nil {
		return 0, err
	}
	slices.Reverse(encs)
	for _, enc := range encs {
		if err := writeFrame(w, enc); err != nil {
			return 0, err
		}
	}
	return len(encs), nil
}
