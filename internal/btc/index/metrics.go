package index

import (
	"github.com/prometheus/client_golang/prometheus"

	metricsreg "github.com/hemi-go/hemi/internal/metrics"
)

type metrics struct {
	headerHeight       prometheus.Gauge
	blockHeight        prometheus.Gauge
	blocksStored       prometheus.Counter
	blocksConnected    prometheus.Counter
	blocksDisconnected prometheus.Counter
	reorgs             prometheus.Counter
	txsIndexed         prometheus.Counter
	utxoMisses         prometheus.Counter
	utxoEvicted        prometheus.Counter
	utxoCacheBytes     prometheus.Gauge
}

// newMetrics creates the index's metrics and registers them with r when r
// is not nil. When the registry already holds them (an index reopened in
// the same process), the registered collectors are reused.
func newMetrics(r prometheus.Registerer) *metrics {
	const ns, sub = "hemi", "btc_index"
	m := &metrics{
		headerHeight: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "header_height", Help: "Height of the best header chain."}),
		blockHeight: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "block_height", Help: "Height of the connected (indexed) block chain."}),
		blocksStored: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "blocks_stored_total", Help: "Blocks verified against their header and stored."}),
		blocksConnected: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "blocks_connected_total", Help: "Blocks connected to the indexed chain."}),
		blocksDisconnected: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "blocks_disconnected_total", Help: "Blocks disconnected by reorgs."}),
		reorgs: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "reorgs_total", Help: "Reorganizations of the indexed chain."}),
		txsIndexed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "txs_indexed_total", Help: "Transactions indexed."}),
		utxoMisses: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "utxo_cache_misses_total", Help: "Spent outputs the unspent set's cache did not hold (each read the database)."}),
		utxoEvicted: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "utxo_cache_evicted_total", Help: "Stored unspent outputs dropped from the cache over its budget."}),
		utxoCacheBytes: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "utxo_cache_bytes", Help: "Estimated memory of the unspent set's cache (Config.UTXOCacheBytes bounds it)."}),
	}
	for _, g := range []*prometheus.Gauge{&m.headerHeight, &m.blockHeight, &m.utxoCacheBytes} {
		*g = metricsreg.Register(r, *g)
	}
	for _, c := range []*prometheus.Counter{&m.blocksStored, &m.blocksConnected, &m.blocksDisconnected,
		&m.reorgs, &m.txsIndexed, &m.utxoMisses, &m.utxoEvicted} {
		*c = metricsreg.Register(r, *c)
	}
	return m
}
