package finality

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	safe, finalized, keystones, btcHeight prometheus.Gauge
}

func newMetrics(r prometheus.Registerer) *metrics {
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "hemi", Subsystem: "finality", Name: name, Help: help})
	}
	m := &metrics{
		safe:      g("safe_block", "Newest canonical L2 block with at least one Bitcoin confirmation."),
		finalized: g("finalized_block", "Newest superfinal canonical L2 block."),
		keystones: g("keystones", "Keystones tracked (any branch)."),
		btcHeight: g("bitcoin_height", "Bitcoin tip height the finality tracker has applied."),
	}
	if r != nil {
		m.safe = register(r, m.safe)
		m.finalized = register(r, m.finalized)
		m.keystones = register(r, m.keystones)
		m.btcHeight = register(r, m.btcHeight)
	}
	return m
}

// register registers c on r, or returns the collector already there
// (a service rebuilt on the same registry).
func register[C prometheus.Collector](r prometheus.Registerer, c C) C {
	err := r.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	return c
}
