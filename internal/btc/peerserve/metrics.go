package peerserve

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of transactions peers relay, the "outcome" label of txs_total.
const (
	outcomeAccepted = "accepted"
	outcomeRejected = "rejected"
)

// metrics are the server's Prometheus collectors.
type metrics struct {
	peers         prometheus.Gauge
	dropped       prometheus.Counter
	bytesSent     prometheus.Counter
	headersServed prometheus.Counter
	blocksServed  prometheus.Counter
	notFound      prometheus.Counter
	txs           *prometheus.CounterVec

	handshakes    prometheus.Gauge
	refused       *prometheus.CounterVec
	budgetHeld    prometheus.Gauge
	budgetPeak    prometheus.Gauge
	budgetWaiting prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "hemi", "btc_peerserve"
	m := &metrics{
		peers: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "peers", Help: "Connected peers that finished the version handshake."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "malformed_drops_total", Help: "Peers dropped for sending a malformed message."}),
		bytesSent: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "sent_bytes_total", Help: "Bytes written to peers."}),
		headersServed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "headers_served_total", Help: "Block headers sent in answer to getheaders."}),
		blocksServed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "blocks_served_total", Help: "Blocks sent in answer to getdata."}),
		notFound: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "notfound_total", Help: "Requested items answered with notfound."}),
		txs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "relayed_txs_total", Help: "Transactions peers relayed, by outcome."}, []string{"outcome"}),
		handshakes: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "handshakes", Help: "Connections that have not finished the version handshake (not counted in peers)."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "refused_total", Help: "Connections refused or dropped by a resource limit, by reason."}, []string{"reason"}),
		budgetHeld: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "message_budget_bytes", Help: "Bytes of large messages peers are sending or the server is handling (at most the message budget)."}),
		budgetPeak: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "message_budget_peak_bytes", Help: "Highest message_budget_bytes since the server started."}),
		budgetWaiting: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "message_budget_waiting", Help: "Peers whose next message waits for message budget."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.peers, m.dropped, m.bytesSent, m.headersServed,
		m.blocksServed, m.notFound, m.txs, m.handshakes, m.refused, m.budgetHeld, m.budgetPeak, m.budgetWaiting} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("%w: metrics already registered (one Server per registerer): %w", ErrConfig, err)
			}
			return nil, fmt.Errorf("register peerserve metrics: %w", err)
		}
	}
	return m, nil
}
