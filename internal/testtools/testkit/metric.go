package testkit

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric reads the counter or gauge name from g, as a test checks what a
// service counted: the sum of its series whose labels include every
// name, value pair of labels ("reason", "oldest"); with no labels, of
// every series. found says at least one series matched (a metric not
// registered, or no series with those labels, is 0 and not found). An
// odd number of labels fails t.
func Metric(t testing.TB, g prometheus.Gatherer, name string, labels ...string) (v float64, found bool) {
	t.Helper()
	if len(labels)%2 != 0 {
		t.Fatalf("testkit.Metric(%s): labels %q are not name, value pairs", name, labels)
	}
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("testkit.Metric(%s): gather: %v", name, err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for i := 0; i < len(labels); i += 2 {
				has := false
				for _, lp := range m.GetLabel() {
					has = has || lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
				}
				if !has {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				v += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				v += m.GetGauge().GetValue()
			case m.GetUntyped() != nil:
				v += m.GetUntyped().GetValue()
			default:
				t.Fatalf("testkit.Metric(%s): a %s, not a counter or gauge", name, mf.GetType())
			}
			found = true
		}
	}
	return v, found
}

// MetricValue is Metric's value alone.
func MetricValue(t testing.TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	v, _ := Metric(t, g, name, labels...)
	return v
}
