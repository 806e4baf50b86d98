package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c on r and returns the collector to use: c, or the
// one of the same type r already holds under c's description (a service
// rebuilt on the same registry, such as an index reopened in one process,
// keeps counting on the registered collectors). A nil r registers nothing.
// Any other registration error leaves c working but unregistered: metrics
// never stop a service.
func Register[C prometheus.Collector](r prometheus.Registerer, c C) C {
	if r == nil {
		return c
	}
	err := r.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	return c
}

// Namespace is the first part of every metric's name: hemi_<subsystem>_<name>.
const Namespace = "hemi"

// Counter is the counter hemi_<subsystem>_<name>, registered on r with
// Register.
func Counter(r prometheus.Registerer, subsystem, name, help string) prometheus.Counter {
	return Register(r, prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: subsystem, Name: name, Help: help}))
}

// Gauge is the gauge hemi_<subsystem>_<name>, registered on r with
// Register.
func Gauge(r prometheus.Registerer, subsystem, name, help string) prometheus.Gauge {
	return Register(r, prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: subsystem, Name: name, Help: help}))
}
