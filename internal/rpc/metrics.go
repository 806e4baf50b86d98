package rpc

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	hemimetrics "github.com/hemi-go/hemi/internal/metrics"
)

// metrics are the server's Prometheus collectors (Config.Registerer).
type metrics struct {
	httpRequests  prometheus.Counter
	httpSeconds   prometheus.Histogram
	wsConns       prometheus.Gauge
	txAccepted    prometheus.Counter
	txRejected    prometheus.Counter
	filters       prometheus.Gauge
	subscriptions prometheus.Gauge
	evmTimeouts   prometheus.Counter
	// evmCancelled counts EVMs stopped because their request ended
	// (its deadline passed or its client left) before their own timeout.
	evmCancelled      prometheus.Counter
	traceLimits       prometheus.Counter
	responsesTooLarge prometheus.Counter
	limitRefusals     prometheus.Counter
}

func newMetrics(r prometheus.Registerer) *metrics {
	opts := func(name, help string) prometheus.CounterOpts {
		return prometheus.CounterOpts{Namespace: "hemi", Subsystem: "rpc", Name: name, Help: help}
	}
	gauge := func(name, help string) prometheus.GaugeOpts {
		return prometheus.GaugeOpts{Namespace: "hemi", Subsystem: "rpc", Name: name, Help: help}
	}
	m := &metrics{
		httpRequests: prometheus.NewCounter(opts("http_requests_total", "JSON-RPC HTTP requests (a batch is one).")),
		httpSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "hemi", Subsystem: "rpc", Name: "http_request_seconds",
			Help: "Time to answer a JSON-RPC HTTP request.", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}),
		wsConns:       prometheus.NewGauge(gauge("ws_connections", "Open WebSocket connections.")),
		txAccepted:    prometheus.NewCounter(opts("txs_accepted_total", "Transactions eth_sendRawTransaction handed to the pool.")),
		txRejected:    prometheus.NewCounter(opts("txs_rejected_total", "Transactions eth_sendRawTransaction refused.")),
		filters:       prometheus.NewGauge(gauge("filters", "Installed polling filters.")),
		subscriptions: prometheus.NewGauge(gauge("subscriptions", "Active eth_subscribe subscriptions.")),
		evmTimeouts:   prometheus.NewCounter(opts("evm_timeouts_total", "Calls and estimates stopped by the EVM timeout.")),
		evmCancelled: prometheus.NewCounter(opts("evm_cancelled_total",
			"Calls, estimates and traces whose EVM was stopped because the request ended (deadline or client gone).")),
		traceLimits:       prometheus.NewCounter(opts("trace_limits_total", "Traces stopped by the output limit (trace_max_bytes).")),
		responsesTooLarge: prometheus.NewCounter(opts("responses_too_large_total", "Answers replaced by \"response too large\".")),
		limitRefusals: prometheus.NewCounter(opts("limit_refusals_total",
			"Filters and subscriptions refused by their limits (in all, per client, per connection).")),
	}
	if r != nil {
		for _, c := range []*prometheus.Counter{&m.httpRequests, &m.txAccepted, &m.txRejected, &m.evmTimeouts,
			&m.evmCancelled, &m.traceLimits, &m.responsesTooLarge, &m.limitRefusals} {
			*c = hemimetrics.Register(r, *c)
		}
		for _, g := range []*prometheus.Gauge{&m.wsConns, &m.filters, &m.subscriptions} {
			*g = hemimetrics.Register(r, *g)
		}
		m.httpSeconds = hemimetrics.Register(r, m.httpSeconds)
	}
	return m
}

// instrument counts and times HTTP requests and open WebSocket
// connections.
func (m *metrics) instrument(httpH, wsH http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isWebsocket(r) {
			m.wsConns.Inc()
			defer m.wsConns.Dec()
			wsH.ServeHTTP(w, r)
			return
		}
		m.httpRequests.Inc()
		start := time.Now()
		httpH.ServeHTTP(w, r)
		m.httpSeconds.Observe(time.Since(start).Seconds())
	})
}
