package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/params"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// Server is the JSON-RPC server: the eth, net, web3, txpool, debug and
// hemi namespaces over HTTP and WebSocket on one port.
type Server struct {
	cfg     Config
	chain   Chain
	pool    Pool
	config  *params.ChainConfig
	log     *slog.Logger
	rpc     *gethrpc.Server
	filters *filterSystem
	tips    tipCache
	cache   blockCache
	metrics *metrics
	handler http.Handler
	// routes serves the paths mounted beside JSON-RPC (Mount).
	routes *http.ServeMux
	// rpcHandler is JSON-RPC over HTTP and WebSocket alone.
	rpcHandler http.Handler
	// subs counts each WebSocket connection's subscriptions.
	subs *slots
	// fastBatches counts the batches sendBatch served itself.
	fastBatches atomic.Uint64
}

// New builds a server over chain and pool (pool may be nil). It does not
// listen until Run.
func New(cfg Config, chain Chain, pool Pool) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if chain == nil {
		return nil, fmt.Errorf("%w: nil chain", ErrConfig)
	}
	if isNilPointer(pool) {
		pool = nil // a typed nil is no pool, not a pool to call
	}
	s := &Server{
		cfg:    cfg,
		chain:  chain,
		pool:   pool,
		config: chain.Processor().ChainConfig(),
		log:    cfg.Logger,
		rpc:    gethrpc.NewServer(),
		cache:  newBlockCache(),
		subs:   newSlots(cfg.SubscriptionsPerConn),
	}
	s.metrics = newMetrics(cfg.Registerer)
	s.filters = newFilterSystem(s)
	s.rpc.SetBatchLimits(cfg.BatchItemLimit, cfg.BatchResponseMaxSize)
	s.rpc.SetHTTPBodyLimit(cfg.MaxRequestSize)
	s.rpc.SetWebsocketReadLimit(int64(cfg.MaxRequestSize))
	apis := map[string]any{
		"eth":      &ethAPI{s},
		"net":      &netAPI{s},
		"web3":     &web3API{s},
		"txpool":   &txpoolAPI{s},
		"debug":    &debugAPI{s},
		"hemi":     &hemiAPI{s},
		"ots":      &otsAPI{s},
		"erigon":   &erigonAPI{s},
		"optimism": &optimismAPI{s},
	}
	for _, name := range cfg.APIs {
		if err := s.rpc.RegisterName(name, apis[name]); err != nil {
			return nil, fmt.Errorf("rpc: register %s: %w", name, err)
		}
	}
	requests := s.limitRequests(markForwarded(s.sendBatch(s.rpc)))
	httpH := httpStack(requests, cfg.CORSOrigins, cfg.VHosts)
	wsH := s.websocketHandler(cfg.WSOrigins, cfg.VHosts, requests)
	rpcH := s.metrics.instrument(httpH, wsH)
	s.rpcHandler = rpcH
	s.routes = http.NewServeMux()
	s.routes.Handle("/", rpcH)
	s.handler = s.routes
	return s, nil
}

// Mount serves h at pattern (an http.ServeMux pattern such as
// "GET /status") on the JSON-RPC port, beside JSON-RPC, which keeps
// every other path: the node's status and health pages, later the
// explorer. Mount before Serve; a pattern that clashes panics, as
// http.ServeMux does (a programming error of the assembly).
func (s *Server) Mount(pattern string, h http.Handler) { s.routes.Handle(pattern, h) }

// RPCHandler serves JSON-RPC over HTTP and WebSocket, without the
// mounted paths: a page mounted at "/" (the explorer's home) hands it
// the requests that are not for a page (a WebSocket upgrade).
func (s *Server) RPCHandler() http.Handler { return s.rpcHandler }

// Handler serves HTTP and WebSocket (a request asking to upgrade).
func (s *Server) Handler() http.Handler { return s.handler }

// RPC returns the underlying go-ethereum server (in-process clients:
// gethrpc.DialInProc).
func (s *Server) RPC() *gethrpc.Server { return s.rpc }

// Run listens on Config.ListenAddr and serves until ctx is done. It
// runs the filter janitor and the pending-transaction feed.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("rpc: listen %s: %w", s.cfg.ListenAddr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on a listener the caller opened (tests use port 0).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.filters.run(ctx)
	}()
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.log.Info("json-rpc listening", "addr", ln.Addr().String())
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	shutdownCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	_ = hs.Shutdown(shutdownCtx)
	s.rpc.Stop()
	cancel()
	<-done
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("rpc: serve: %w", serveErr)
	}
	return nil
}

// isWebsocket reports whether r asks for a WebSocket upgrade.
func isWebsocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade")
}

// isNilPointer reports whether pool is a typed nil pointer (a nil
// *txpool.Pool passed as a Pool), which New treats as no pool.
func isNilPointer(pool Pool) bool {
	if pool == nil {
		return false
	}
	v := reflect.ValueOf(pool)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
