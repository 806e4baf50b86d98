package sequencer

import (
	"github.com/prometheus/client_golang/prometheus"

	hemimetrics "github.com/hemi-go/hemi/internal/metrics"
)

type metrics struct {
	blocks      prometheus.Counter
	txs         prometheus.Counter
	skipped     prometheus.Counter
	notReady    prometheus.Counter
	failures    prometheus.Counter
	buildTime   prometheus.Histogram
	viewHeight  prometheus.Gauge
	headNumber  prometheus.Gauge
	poolPending prometheus.Gauge
	poolQueued  prometheus.Gauge
}

func newMetrics(r prometheus.Registerer) *metrics {
	m := &metrics{
		blocks:      prometheus.NewCounter(prometheus.CounterOpts{Namespace: "hemi", Subsystem: "sequencer", Name: "blocks_built_total", Help: "L2 blocks built, sealed and committed."}),
		txs:         prometheus.NewCounter(prometheus.CounterOpts{Namespace: "hemi", Subsystem: "sequencer", Name: "txs_included_total", Help: "User transactions included in built blocks."}),
		skipped:     prometheus.NewCounter(prometheus.CounterOpts{Namespace: "hemi", Subsystem: "sequencer", Name: "txs_skipped_total", Help: "Pending transactions left out of a block (invalid now or not fitting)."}),
		notReady:    prometheus.NewCounter(prometheus.CounterOpts{Namespace: "hemi", Subsystem: "sequencer", Name: "view_not_ready_total", Help: "Build attempts that waited for the Bitcoin index."}),
		failures:    prometheus.NewCounter(prometheus.CounterOpts{Namespace: "hemi", Subsystem: "sequencer", Name: "build_failures_total", Help: "Build attempts that failed for another reason."}),
		buildTime:   prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "hemi", Subsystem: "sequencer", Name: "build_seconds", Help: "Time from the tick to the block committed: choose the view, execute what the block built ahead has not, seal, commit.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		viewHeight:  prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "hemi", Subsystem: "sequencer", Name: "bitcoin_view_height", Help: "Bitcoin view height of the last built block."}),
		headNumber:  prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "hemi", Subsystem: "sequencer", Name: "head_number", Help: "Number of the last built block."}),
		poolPending: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "hemi", Subsystem: "txpool", Name: "pending", Help: "Executable transactions in the pool."}),
		poolQueued:  prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "hemi", Subsystem: "txpool", Name: "queued", Help: "Transactions in the pool waiting for a nonce gap."}),
	}
	if r != nil {
		for _, c := range []*prometheus.Counter{&m.blocks, &m.txs, &m.skipped, &m.notReady, &m.failures} {
			*c = hemimetrics.Register(r, *c)
		}
		for _, g := range []*prometheus.Gauge{&m.viewHeight, &m.headNumber, &m.poolPending, &m.poolQueued} {
			*g = hemimetrics.Register(r, *g)
		}
		m.buildTime = hemimetrics.Register(r, m.buildTime)
	}
	return m
}
