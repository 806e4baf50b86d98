package ha

import (
	"github.com/prometheus/client_golang/prometheus"

	hemimetrics "github.com/hemi-go/hemi/internal/metrics"
)

type metrics struct {
	leader     prometheus.Gauge
	producing  prometheus.Gauge
	applied    prometheus.Gauge
	commits    prometheus.Counter
	failed     prometheus.Counter
	rejected   prometheus.Counter
	transfers  prometheus.Counter
	commitTime prometheus.Histogram
}

func newMetrics(r prometheus.Registerer) *metrics {
	m := &metrics{
		leader:     hemimetrics.Gauge(r, "ha", "leader", "1 while this member leads the sequencer group."),
		producing:  hemimetrics.Gauge(r, "ha", "producing", "1 while this member's block producer runs (it leads and is caught up)."),
		applied:    hemimetrics.Gauge(r, "ha", "applied_number", "Number of the last block the group committed and this member applied."),
		commits:    hemimetrics.Counter(r, "ha", "commits_total", "Blocks this member committed to the group as leader."),
		failed:     hemimetrics.Counter(r, "ha", "commit_failures_total", "Sealed blocks the group did not commit (dropped)."),
		rejected:   hemimetrics.Counter(r, "ha", "rejected_entries_total", "Committed log entries the FSM refused (not the child of the last applied block, or malformed)."),
		transfers:  hemimetrics.Counter(r, "ha", "leadership_transfers_total", "Leadership hand-overs this member started (stale, stalled or shutting down)."),
		commitTime: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "hemi", Subsystem: "ha", Name: "commit_seconds", Help: "Time from Commit to the block committed by the group and stored.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
	}
	if r != nil {
		m.commitTime = hemimetrics.Register(r, m.commitTime)
	}
	return m
}

// keptMetrics are the relay's kept transactions (relaykeep.go): what it
// holds for the next leader, and what it dropped unmined, by reason
// (oldest: the count or byte bound pushed it out; expired: kept for
// KeepFor). keptSet sets them under its lock, so they never lag it.
type keptMetrics struct {
	txs, bytes      prometheus.Gauge
	oldest, expired prometheus.Counter
}

func newKeptMetrics(r prometheus.Registerer) *keptMetrics {
	dropped := hemimetrics.Register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: hemimetrics.Namespace, Subsystem: "ha", Name: "relay_kept_dropped_total",
		Help: "Relayed transactions dropped unmined from those kept for the next leader, by reason: oldest (the count or byte bound was reached), expired (kept for ha relay KeepFor).",
	}, []string{"reason"}))
	return &keptMetrics{
		txs:     hemimetrics.Gauge(r, "ha", "relay_kept_txs", "Relayed transactions kept until this member's chain shows them mined (resent to each new leader)."),
		bytes:   hemimetrics.Gauge(r, "ha", "relay_kept_bytes", "Encoded bytes of the relayed transactions kept (hemi_ha_relay_kept_txs)."),
		oldest:  dropped.WithLabelValues("oldest"),
		expired: dropped.WithLabelValues("expired"),
	}
}
