package p2p

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Ban reasons, used as the "reason" label of the bans metric and in logs.
const (
	reasonInvalidHeaders     = "invalid_headers"
	reasonUnconnectedHeaders = "unconnected_headers"
	reasonInvalidBlock       = "invalid_block"
	reasonMalformedMessage   = "malformed_message"
	reasonUnrequestedBlocks  = "unrequested_blocks"
)

// metrics are the client's Prometheus collectors.
type metrics struct {
	peers           prometheus.Gauge
	bans            *prometheus.CounterVec
	bytesReceived   prometheus.Counter
	bytesSent       prometheus.Counter
	headersReceived prometheus.Counter
	blocksReceived  prometheus.Counter
	blocksAccepted  prometheus.Counter
	txsAccepted     prometheus.Counter
	blocksInFlight  prometheus.Gauge
	blockRetries    prometheus.Counter
	broadcasts      *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "hemi", "btc_p2p"
	m := &metrics{
		peers: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "peers", Help: "Connected Bitcoin peers that completed the handshake."}),
		bans: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "bans_total", Help: "Peers banned for sending invalid data, by reason."}, []string{"reason"}),
		bytesReceived: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "received_bytes_total", Help: "Bytes read from Bitcoin peers."}),
		bytesSent: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "sent_bytes_total", Help: "Bytes written to Bitcoin peers."}),
		headersReceived: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "headers_received_total", Help: "Block headers received from peers."}),
		blocksReceived: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "blocks_received_total", Help: "Requested blocks received from peers."}),
		blocksAccepted: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "blocks_accepted_total", Help: "Blocks the chain accepted."}),
		txsAccepted: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "block_txs_accepted_total", Help: "Transactions in blocks the chain accepted."}),
		blocksInFlight: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "blocks_in_flight", Help: "Blocks requested and not yet received."}),
		blockRetries: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "block_requests_released_total", Help: "Block requests released for another peer after a stall, notfound or disconnect."}),
		broadcasts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "broadcasts_total", Help: "Transaction broadcasts by outcome."}, []string{"outcome"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.peers, m.bans, m.bytesReceived, m.bytesSent,
		m.headersReceived, m.blocksReceived, m.blocksAccepted, m.txsAccepted, m.blocksInFlight,
		m.blockRetries, m.broadcasts} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("%w: metrics already registered (one Client per registerer): %w", ErrConfig, err)
			}
			return nil, fmt.Errorf("register p2p metrics: %w", err)
		}
	}
	return m, nil
}
