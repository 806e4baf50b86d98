package netp2p

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hemi-go/hemi/internal/chain"
	hmetrics "github.com/hemi-go/hemi/internal/metrics"
)

const subsystem = "netp2p"

// metrics are the service's Prometheus collectors (hemi_netp2p_*).
type metrics struct {
	peers        prometheus.Gauge
	ready        prometheus.Gauge
	peerScore    *prometheus.GaugeVec
	peerHead     *prometheus.GaugeVec
	bans         prometheus.Counter
	handshakes   *prometheus.CounterVec
	gossip       *prometheus.CounterVec
	imported     prometheus.Counter
	importFails  *prometheus.CounterVec
	published    prometheus.Counter
	notPublished prometheus.Counter
	equivocation prometheus.Counter
	syncRequests prometheus.Counter

	txBatches          *prometheus.CounterVec
	txBatchesPublished prometheus.Counter
	txFeedRecovered    prometheus.Counter
	txFeedBad          prometheus.Counter
	txFeedDropped      prometheus.Counter
}

// registerSenderCache exports the sender cache's lookups by blocks'
// sender recoveries (chain.SenderCache.Stats): how many of a block's
// transactions the feed announced in time.
func registerSenderCache(r prometheus.Registerer, sc *chain.SenderCache) {
	hmetrics.Register(r, prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: hmetrics.Namespace, Subsystem: subsystem,
		Name: "sender_cache_hits_total", Help: "Block transactions whose sender was found in the sender cache (announced by the feed and recovered before the block)."},
		func() float64 { h, _ := sc.Stats(); return float64(h) }))
	hmetrics.Register(r, prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: hmetrics.Namespace, Subsystem: subsystem,
		Name: "sender_cache_misses_total", Help: "Block transactions whose sender was not in the sender cache and was recovered with the block."},
		func() float64 { _, m := sc.Stats(); return float64(m) }))
}

func newMetrics(r prometheus.Registerer) *metrics {
	return &metrics{
		peers: hmetrics.Gauge(r, subsystem, "peers", "Peers with an open connection."),
		ready: hmetrics.Gauge(r, subsystem, "peers_ready", "Connected peers that passed the handshake (same genesis and chain id)."),
		peerScore: hmetrics.Register(r, prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: hmetrics.Namespace, Subsystem: subsystem,
			Name: "peer_score", Help: "Score of each connected peer (0 clean; a peer at -100 is banned)."}, []string{"peer"})),
		peerHead: hmetrics.Register(r, prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: hmetrics.Namespace, Subsystem: subsystem,
			Name: "peer_head", Help: "Newest head number each connected peer announced or relayed."}, []string{"peer"})),
		bans: hmetrics.Counter(r, subsystem, "bans_total", "Peers banned (score at the ban threshold, or another genesis)."),
		handshakes: hmetrics.Register(r, prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: hmetrics.Namespace, Subsystem: subsystem,
			Name: "handshakes_total", Help: "Handshakes by result (ok, or the refusal's reason)."}, []string{"result"})),
		gossip: hmetrics.Register(r, prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: hmetrics.Namespace, Subsystem: subsystem,
			Name: "gossip_messages_total", Help: "Block messages validated, by result (accept, ignore, reject) and reason."}, []string{"result", "reason"})),
		imported:     hmetrics.Counter(r, subsystem, "blocks_imported_total", "Gossiped blocks inserted into the chain."),
		importFails:  hmetrics.Register(r, prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: hmetrics.Namespace, Subsystem: subsystem, Name: "import_failures_total", Help: "Gossiped blocks not inserted, by reason (invalid, unknown_parent, view_not_ready, view_expired, error)."}, []string{"reason"})),
		published:    hmetrics.Counter(r, subsystem, "blocks_published_total", "Blocks this node published."),
		notPublished: hmetrics.Counter(r, subsystem, "heads_not_published_total", "New heads this sequencer did not publish: sealed by another member of its group."),
		equivocation: hmetrics.Counter(r, subsystem, "equivocations_total", "Second blocks at one height sealed by the same sequencer (kept as evidence)."),
		syncRequests: hmetrics.Counter(r, subsystem, "sync_requests_total", "Catch-up syncs started for blocks whose parent is unknown or which are far ahead."),
		txBatches: hmetrics.Register(r, prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: hmetrics.Namespace, Subsystem: subsystem,
			Name: "tx_batches_total", Help: "Pending-transaction batches validated, by result (accept, ignore, reject) and reason."}, []string{"result", "reason"})),
		txBatchesPublished: hmetrics.Counter(r, subsystem, "tx_batches_published_total", "Pending-transaction batches this sequencer announced."),
		txFeedRecovered:    hmetrics.Counter(r, subsystem, "tx_feed_senders_recovered_total", "Senders of announced transactions recovered into the sender cache."),
		txFeedBad:          hmetrics.Counter(r, subsystem, "tx_feed_bad_signatures_total", "Announced transactions whose signature does not recover (left to their block)."),
		txFeedDropped:      hmetrics.Counter(r, subsystem, "tx_feed_dropped_total", "Accepted batches dropped because the recovery worker's queue was full."),
	}
}
