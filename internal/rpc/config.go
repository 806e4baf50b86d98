package rpc

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of Config.
const (
	DefaultListenAddr           = "127.0.0.1:8545"
	DefaultMaxRequestSize       = 5 * 1024 * 1024 // go-ethereum's HTTP body limit
	DefaultBatchItemLimit       = 1000            // go-ethereum's --rpc.batch-request-limit
	DefaultBatchResponseMaxSize = 25 * 1000 * 1000
	DefaultGasCap               = 50_000_000 // go-ethereum's --rpc.gascap
	DefaultEVMTimeout           = 5 * time.Second
	DefaultTraceTimeout         = 5 * time.Second
	DefaultLogsBlockRange       = 10_000
	DefaultLogsMaxResults       = 10_000
	DefaultFilterTimeout        = 5 * time.Minute
	DefaultFeeHistoryMaxBlocks  = 1024
	DefaultClientVersion        = "hemi-go/v0.1.0"

	// DefaultRequestTimeout is go-ethereum's effective HTTP request
	// timeout (its 30 s WriteTimeout).
	DefaultRequestTimeout = 30 * time.Second
	// DefaultResponseMaxSize equals the batch limit: one answer may not
	// be larger than a whole batch's.
	DefaultResponseMaxSize = DefaultBatchResponseMaxSize
	// DefaultTraceMaxBytes keeps a trace inside one response.
	DefaultTraceMaxBytes = DefaultResponseMaxSize
	// DefaultFiltersMax, DefaultFiltersPerClient and
	// DefaultFilterMaxHashes bound what polling filters hold together:
	// at most 1,000 x 4,096 x 32 bytes = 131 MB of buffered hashes, plus
	// each log filter's criteria (at most 1,000 addresses and 4 x 1,000
	// topics, 148 KB).
	DefaultFiltersMax       = 1000
	DefaultFiltersPerClient = 100
	DefaultFilterMaxHashes  = 4096
	// DefaultSubscriptionsPerConn bounds one WebSocket's subscriptions
	// (each holds a goroutine or two and a feed subscription).
	DefaultSubscriptionsPerConn = 128
)

// DefaultAPIs are the namespaces served when Config.APIs is empty: all
// but debug, whose re-executions are the costliest requests (go-ethereum
// serves eth, net and web3 by default; anvil serves everything).
var DefaultAPIs = []string{"eth", "net", "web3", "txpool", "hemi", "ots", "erigon", "optimism"}

// KnownAPIs are the namespaces Config.APIs may list.
var KnownAPIs = []string{"eth", "net", "web3", "txpool", "debug", "hemi", "ots", "erigon", "optimism"}

// ErrConfig: a Config field is invalid.
var ErrConfig = errors.New("rpc: invalid config")

// Config configures the JSON-RPC server. It is not modified after New.
// Zero fields take the defaults above.
type Config struct {
	// ListenAddr is host:port for HTTP and WebSocket (the same port: a
	// request asking to upgrade is served as WebSocket).
	ListenAddr string
	// CORSOrigins are the browser origins allowed over HTTP ("*" for
	// any); empty disables CORS headers.
	CORSOrigins []string
	// VHosts are the Host header values accepted over HTTP ("*" for
	// any); default "localhost". Protects against DNS rebinding.
	VHosts []string
	// WSOrigins are the origins allowed to open a WebSocket; default
	// CORSOrigins. Requests without an Origin header (non-browser
	// clients) are always allowed.
	WSOrigins []string
	// MaxRequestSize bounds an HTTP request body and a WebSocket
	// message, in bytes.
	MaxRequestSize int
	// BatchItemLimit bounds the calls in one batch; BatchResponseMaxSize
	// bounds a batch's response in bytes (go-ethereum SetBatchLimits).
	BatchItemLimit       int
	BatchResponseMaxSize int
	// GasCap bounds the gas of eth_call, eth_estimateGas,
	// eth_createAccessList and debug_traceCall.
	GasCap uint64
	// APIs are the namespaces served (KnownAPIs; empty: DefaultAPIs),
	// as go-ethereum's --http.api. A namespace not listed answers
	// "method not found".
	APIs []string
	// RequestTimeout bounds every request and batch, over HTTP and
	// WebSocket: when it passes, the answer is go-ethereum's "request
	// timed out" (-32002) for every call not answered yet, the running
	// call's context is cancelled (an EVM stops) and no further call of
	// the batch starts. Subscriptions are not requests: they live as
	// long as their connection.
	RequestTimeout time.Duration
	// ResponseMaxSize bounds one answer in bytes, a single call's as a
	// batch's (go-ethereum bounds only batches); a larger answer is
	// replaced by "response too large" (-32003).
	ResponseMaxSize int
	// EVMTimeout bounds one eth_call or one estimation step.
	EVMTimeout time.Duration
	// TraceTimeout is the timeout of one traced transaction and the
	// most a caller's "timeout" may ask for (it may ask for less).
	TraceTimeout time.Duration
	// TraceMaxBytes bounds what one debug_trace* request's tracers may
	// produce (every tracer kind; a block trace shares it among its
	// transactions): past it the EVM is stopped and the request fails
	// with "trace too large" (-32003).
	TraceMaxBytes int
	// LogsBlockRange bounds the block range of eth_getLogs and
	// eth_getFilterLogs; LogsMaxResults bounds the logs returned.
	LogsBlockRange uint64
	LogsMaxResults int
	// FilterTimeout uninstalls a filter not polled for this long.
	FilterTimeout time.Duration
	// FiltersMax bounds the polling filters installed in all,
	// FiltersPerClient those of one client (a WebSocket connection, or
	// an HTTP client's IP address: a filter outlives its HTTP
	// connection). FilterMaxHashes bounds the transaction hashes a
	// pending-transaction filter buffers between polls; past it the
	// oldest are dropped.
	FiltersMax       int
	FiltersPerClient int
	FilterMaxHashes  int
	// SubscriptionsPerConn bounds the eth_subscribe and hemi_subscribe
	// subscriptions of one WebSocket connection.
	SubscriptionsPerConn int
	// FeeHistoryMaxBlocks bounds eth_feeHistory's block count.
	FeeHistoryMaxBlocks uint64
	// ClientVersion is web3_clientVersion's answer.
	ClientVersion string
	// Bitcoin answers hemi_btcTip (optional).
	Bitcoin Bitcoin
	// Finality gives the safe and finalized tags their meaning and
	// answers hemi_getFinality and hemi_subscribe("newKeystones")
	// (optional: without it both tags are the genesis).
	Finality Finality
	// Provenance answers hemi_getProvenance (optional: without it the
	// method says the node builds no bundles).
	Provenance Provenance
	// Sync answers eth_syncing while the node catches up (optional).
	Sync Sync
	// Forward, when set, sends every eth_sendRawTransaction on to the
	// sequencer after the local checks (a follower: see
	// sendForwarded); nil keeps transactions in the pool (a sequencer).
	Forward TxForwarder
	// Relay, on a member of a raft sequencer group, takes
	// eth_sendRawTransaction to the group's leader while another member
	// leads (sendRelayed); while this member leads, transactions go to
	// its pool as on a lone sequencer. Not with Forward.
	Relay GroupRelay
	// AddressIndex answers ots_searchTransactionsBefore/After
	// (optional: the explorer's address index).
	AddressIndex AddressIndex
	// Withdrawals answers hemi_getWithdrawal (optional: a chain without a
	// tunnel answers ErrNoTunnel).
	Withdrawals *Withdrawals
	// Deposits answers hemi_getDeposit and hemi_getDeposits (optional:
	// a network without a tunnel has none).
	Deposits Deposits
	// Registerer takes the server's Prometheus collectors (hemi_rpc_*;
	// nil: none registered).
	Registerer prometheus.Registerer
	// Logger defaults to slog.Default() with subsystem=rpc.
	Logger *slog.Logger
}

// withDefaults returns cfg with zero fields defaulted, or an error.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Forward != nil && cfg.Relay != nil {
		return cfg, fmt.Errorf("%w: Forward (a follower's) and Relay (a group member's) exclude each other", ErrConfig)
	}
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = DefaultListenAddr
	}
	if _, _, err := net.SplitHostPort(cfg.ListenAddr); err != nil {
		return cfg, fmt.Errorf("%w: listen address %q: %w", ErrConfig, cfg.ListenAddr, err)
	}
	if len(cfg.VHosts) == 0 {
		cfg.VHosts = []string{"localhost"}
	}
	if len(cfg.WSOrigins) == 0 {
		cfg.WSOrigins = cfg.CORSOrigins
	}
	for _, p := range []struct {
		name string
		v    *int
		def  int
	}{
		{"max request size", &cfg.MaxRequestSize, DefaultMaxRequestSize},
		{"batch item limit", &cfg.BatchItemLimit, DefaultBatchItemLimit},
		{"batch response max size", &cfg.BatchResponseMaxSize, DefaultBatchResponseMaxSize},
		{"logs max results", &cfg.LogsMaxResults, DefaultLogsMaxResults},
		{"response max size", &cfg.ResponseMaxSize, DefaultResponseMaxSize},
		{"trace max bytes", &cfg.TraceMaxBytes, DefaultTraceMaxBytes},
		{"filters max", &cfg.FiltersMax, DefaultFiltersMax},
		{"filters per client", &cfg.FiltersPerClient, DefaultFiltersPerClient},
		{"filter max hashes", &cfg.FilterMaxHashes, DefaultFilterMaxHashes},
		{"subscriptions per connection", &cfg.SubscriptionsPerConn, DefaultSubscriptionsPerConn},
	} {
		if *p.v < 0 {
			return cfg, fmt.Errorf("%w: %s %d is negative", ErrConfig, p.name, *p.v)
		}
		if *p.v == 0 {
			*p.v = p.def
		}
	}
	if cfg.GasCap == 0 {
		cfg.GasCap = DefaultGasCap
	}
	if cfg.EVMTimeout <= 0 {
		cfg.EVMTimeout = DefaultEVMTimeout
	}
	if cfg.TraceTimeout <= 0 {
		cfg.TraceTimeout = DefaultTraceTimeout
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if len(cfg.APIs) == 0 {
		cfg.APIs = DefaultAPIs
	}
	for _, a := range cfg.APIs {
		if !slices.Contains(KnownAPIs, a) {
			return cfg, fmt.Errorf("%w: unknown api %q (known: %s)", ErrConfig, a, strings.Join(KnownAPIs, ", "))
		}
	}
	if cfg.LogsBlockRange == 0 {
		cfg.LogsBlockRange = DefaultLogsBlockRange
	}
	if cfg.FilterTimeout <= 0 {
		cfg.FilterTimeout = DefaultFilterTimeout
	}
	if cfg.FeeHistoryMaxBlocks == 0 {
		cfg.FeeHistoryMaxBlocks = DefaultFeeHistoryMaxBlocks
	}
	if cfg.ClientVersion == "" {
		cfg.ClientVersion = DefaultClientVersion
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default().With("subsystem", "rpc")
	}
	return cfg, nil
}
