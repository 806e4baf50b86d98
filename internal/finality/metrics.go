package finality

import (
	"github.com/prometheus/client_golang/prometheus"

	metricsreg "github.com/hemi-go/hemi/internal/metrics"
)

type metrics struct {
	safe, finalized, keystones, btcHeight prometheus.Gauge
	lostBlocks                            prometheus.Gauge
	lostEvents                            prometheus.Counter
}

func newMetrics(r prometheus.Registerer) *metrics {
	g := func(name, help string) prometheus.Gauge {
		return metricsreg.Gauge(r, "finality", name, help)
	}
	return &metrics{
		safe:      g("safe_block", "Newest canonical L2 block with at least one Bitcoin confirmation."),
		finalized: g("finalized_block", "Newest superfinal canonical L2 block."),
		keystones: g("keystones", "Keystones tracked (any branch)."),
		btcHeight: g("bitcoin_height", "Bitcoin tip height the finality tracker has applied."),
		lostBlocks: g("finalized_not_superfinal_blocks",
			"Blocks at or below the finalized tag that are not superfinal now (a Bitcoin reorg deeper than the superfinal depth); 0 normally."),
		lostEvents: metricsreg.Counter(r, "finality", "superfinality_lost_total",
			"Times finalized blocks stopped being superfinal (a Bitcoin reorg deeper than the superfinal depth)."),
	}
}
