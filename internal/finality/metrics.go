package finality

import (
	"github.com/prometheus/client_golang/prometheus"

	metricsreg "github.com/hemi-go/hemi/internal/metrics"
)

type metrics struct {
	safe, finalized, keystones, btcHeight prometheus.Gauge
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
	}
}
