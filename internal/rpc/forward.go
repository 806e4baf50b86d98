package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/txpool"
	"github.com/ethereum/go-ethereum/core/txpool/legacypool"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"github.com/prometheus/client_golang/prometheus"

	hemimetrics "github.com/hemi-go/hemi/internal/metrics"
)

// DefaultForwardTimeout bounds one attempt to hand a transaction to one
// sequencer URL (connect, send, answer).
const DefaultForwardTimeout = 5 * time.Second

// ErrSequencerUnreachable is answered when no sequencer URL answered a
// forwarded transaction (every one refused the connection, timed out or
// gave an HTTP error).
var ErrSequencerUnreachable = errors.New("sequencer unreachable")

// ForwarderConfig configures a Forwarder.
type ForwarderConfig struct {
	// URLs are the sequencer group's public JSON-RPC URLs (http or
	// https), tried in order from the last one that answered: with a
	// raft group the leader changes, and any member answers.
	URLs []string
	// Timeout bounds one attempt on one URL (DefaultForwardTimeout).
	Timeout time.Duration
	// Registerer takes hemi_rpc_forward_total{result} (optional).
	Registerer prometheus.Registerer
	// Logger defaults to slog.Default() with subsystem=rpc.
	Logger *slog.Logger
}

// Forwarder hands eth_sendRawTransaction to the sequencer's JSON-RPC, as
// op-geth's --rollup.sequencerhttp does: a follower does not build
// blocks, so a transaction kept only in its pool would never be mined.
// It is safe for concurrent use.
type Forwarder struct {
	cfg     ForwarderConfig
	clients []*gethrpc.Client
	// last is the index of the URL that last answered; attempts start
	// there.
	last  atomic.Int32
	log   *slog.Logger
	total *prometheus.CounterVec
	once  sync.Once
}

// NewForwarder checks the URLs and builds their clients (no connection
// is made before the first transaction).
func NewForwarder(cfg ForwarderConfig) (*Forwarder, error) {
	if len(cfg.URLs) == 0 {
		return nil, fmt.Errorf("%w: no sequencer URL to forward transactions to", ErrConfig)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultForwardTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default().With("subsystem", "rpc")
	}
	f := &Forwarder{cfg: cfg, log: cfg.Logger}
	hc := &http.Client{Timeout: cfg.Timeout}
	for _, raw := range cfg.URLs {
		if err := CheckSequencerURL(raw); err != nil {
			return nil, err
		}
		c, err := gethrpc.DialOptions(context.Background(), raw, gethrpc.WithHTTPClient(hc))
		if err != nil {
			return nil, fmt.Errorf("%w: sequencer URL %q: %v", ErrConfig, raw, err)
		}
		f.clients = append(f.clients, c)
	}
	f.total = hemimetrics.Register(cfg.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "hemi", Subsystem: "rpc", Name: "forward_total",
		Help: "Transactions forwarded to the sequencer, by result: accepted, refused (the sequencer's error), " +
			"unreachable (no URL answered); and attempts on one URL that failed (attempt_failed).",
	}, []string{"result"}))
	return f, nil
}

// CheckSequencerURL accepts an http or https URL with a host: the
// forwarder speaks JSON-RPC over HTTP, one request per transaction.
func CheckSequencerURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: sequencer URL %q: want http://host:port or https://host:port (the sequencer's JSON-RPC)", ErrConfig, raw)
	}
	return nil
}

// Close closes the clients.
func (f *Forwarder) Close() {
	f.once.Do(func() {
		for _, c := range f.clients {
			c.Close()
		}
	})
}

// Forward sends raw (tx's encoding) to the sequencer: URLs are tried in
// order from the last that answered, each within Timeout. An answer of
// the sequencer, success or JSON-RPC error, ends the attempts and is
// returned as it is (its error keeps its code, message and data); a
// transport or HTTP failure is logged and the next URL tried. When none
// answers the error wraps ErrSequencerUnreachable with the last cause.
func (f *Forwarder) Forward(ctx context.Context, raw []byte, hash common.Hash) error {
	n := len(f.clients)
	start := int(f.last.Load())
	var lastErr error
	for k := range n {
		i := (start + k) % n
		actx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
		var got common.Hash
		err := f.clients[i].CallContext(actx, &got, "eth_sendRawTransaction", hexutil.Bytes(raw))
		cancel()
		var rerr gethrpc.Error
		if err == nil || (errors.As(err, &rerr) && !isHTTPError(err)) {
			f.last.Store(int32(i))
			if err != nil {
				f.total.WithLabelValues("refused").Inc()
				return passThrough(err)
			}
			if got != hash {
				f.log.Warn("sequencer answered another transaction hash", "url", f.cfg.URLs[i], "want", hash, "got", got)
			}
			f.total.WithLabelValues("accepted").Inc()
			return nil
		}
		f.total.WithLabelValues("attempt_failed").Inc()
		f.log.Warn("sequencer did not take a forwarded transaction; trying the next URL",
			"url", f.cfg.URLs[i], "hash", hash, "err", err)
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	f.total.WithLabelValues("unreachable").Inc()
	return &rpcError{code: codeServer,
		msg: fmt.Sprintf("%v: tried %d URL(s) of rpc.sequencer_urls, last: %v", ErrSequencerUnreachable, n, lastErr),
		err: fmt.Errorf("%w: %w", ErrSequencerUnreachable, lastErr)}
}

// isHTTPError reports whether err is an HTTP status answer (a proxy's
// 502, a server shutting down), which go-ethereum's client also gives
// as a gethrpc.Error: a transport failure, not the sequencer's answer.
func isHTTPError(err error) bool {
	var he gethrpc.HTTPError
	return errors.As(err, &he)
}

// passThrough turns the sequencer's JSON-RPC error into ours with the
// same code, message and data.
func passThrough(err error) error {
	var rerr gethrpc.Error
	if !errors.As(err, &rerr) {
		return err
	}
	out := &rpcError{code: rerr.ErrorCode(), msg: rerr.Error(), err: err}
	var derr gethrpc.DataError
	if errors.As(err, &derr) {
		out.data = derr.ErrorData()
	}
	return out
}

// poolStateErrors are the pool's refusals that say something about this
// node's pool rather than the transaction: a follower forwards the
// transaction anyway (the sequencer's pool decides), so resending a
// transaction, replacing one sent through another node or a full local
// pool never stop it. Every other pool error (signature, chain,
// intrinsic gas, nonce below the state's, funds for the max cost, size,
// gas limit, fee fields) is the follower's own answer, without a round
// trip.
var poolStateErrors = []error{
	txpool.ErrAlreadyKnown,
	txpool.ErrReplaceUnderpriced,
	txpool.ErrUnderpriced,
	txpool.ErrTxGasPriceTooLow,
	txpool.ErrAccountLimitExceeded,
	txpool.ErrInflightTxLimitReached,
	txpool.ErrAlreadyReserved,
	txpool.ErrOutOfCapacity,
	legacypool.ErrTxPoolOverflow,
	legacypool.ErrFutureReplacePending,
	legacypool.ErrAuthorityReserved,
	legacypool.ErrOutOfOrderTxFromDelegated,
}

// forwardable reports whether a transaction the local pool refused with
// err must still go to the sequencer.
func forwardable(err error) bool {
	for _, e := range poolStateErrors {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// sendForwarded is eth_sendRawTransaction on a node that forwards: the
// local pool checks tx first (and keeps it, so eth_getTransactionByHash,
// txpool_* and the pending nonce see it before it is mined); a refusal
// about the transaction itself is answered here, then the sequencer's
// answer is the caller's.
func (s *Server) sendForwarded(ctx context.Context, raw []byte, tx *types.Transaction) error {
	if s.pool != nil {
		if err := s.pool.Add([]*types.Transaction{tx})[0]; err != nil && !forwardable(err) {
			s.metrics.txRejected.Inc()
			s.log.Debug("transaction refused before forwarding", "hash", tx.Hash(), "err", err)
			return txError(err)
		}
	}
	if err := s.cfg.Forward.Forward(ctx, raw, tx.Hash()); err != nil {
		s.metrics.txRejected.Inc()
		return err
	}
	s.metrics.txAccepted.Inc()
	s.log.Debug("transaction forwarded", "hash", tx.Hash(), "nonce", tx.Nonce())
	return nil
}
