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
