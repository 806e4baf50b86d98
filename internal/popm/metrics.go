package popm

import (
	"github.com/prometheus/client_golang/prometheus"

	metricsreg "github.com/hemi-go/hemi/internal/metrics"
)

type metrics struct {
	seen, published, confirmed, bumps, republished, refused prometheus.Counter
	feesPaid                                                prometheus.Counter
	balance, feeRate, waiting                               prometheus.Gauge
}

func newMetrics(r prometheus.Registerer) *metrics {
	c := func(name, help string) prometheus.Counter {
		return metricsreg.Counter(r, "popm", name, help)
	}
	g := func(name, help string) prometheus.Gauge {
		return metricsreg.Gauge(r, "popm", name, help)
	}
	return &metrics{
		seen:        c("keystones_seen_total", "Keystones delivered by the L2 node."),
		published:   c("keystones_published_total", "PoP transactions built for a new keystone and sent."),
		confirmed:   c("keystones_confirmed_total", "PoP transactions mined in Bitcoin."),
		bumps:       c("bumps_total", "RBF replacements sent."),
		republished: c("republished_total", "PoP transactions sent again after a Bitcoin reorg removed them."),
		refused:     c("refused_total", "PoP transactions the network refused."),
		feesPaid:    c("fees_paid_sat_total", "Fees of mined PoP transactions, in satoshis."),
		balance:     g("wallet_balance_sat", "Confirmed unspent wallet balance, in satoshis."),
		feeRate:     g("fee_rate_sat_vb", "Current fee-rate estimate for the confirmation target."),
		waiting:     g("waiting", "1 while a keystone waits (fee above the cap or no funds)."),
	}
}
