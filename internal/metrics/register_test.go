package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func counter(help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "hemi", Subsystem: "test", Name: "things_total", Help: help})
}

func TestRegister(t *testing.T) {
	tests := []struct {
		name string
		// before is registered first (nil: nothing).
		before prometheus.Collector
		nilReg bool
		// want: Register returns the collector it was given ("given"),
		// the one registered before ("before").
		want string
		// gathered is how many metric families the registry then holds.
		gathered int
	}{
		{name: "nil registerer", nilReg: true, want: "given"},
		{name: "fresh", want: "given", gathered: 1},
		{name: "already registered: the existing one", before: counter("Things."), want: "before", gathered: 1},
		{name: "same name, other help: unregistered, still usable", before: counter("Other things."), want: "given", gathered: 1},
		{name: "same description, other type: the given one", before: prometheus.NewCounterFunc(
			prometheus.CounterOpts{Namespace: "hemi", Subsystem: "test", Name: "things_total", Help: "Things."},
			func() float64 { return 7 }), want: "given", gathered: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			if tc.before != nil {
				reg.MustRegister(tc.before)
			}
			var r prometheus.Registerer = reg
			if tc.nilReg {
				r = nil
			}
			given := counter("Things.")
			got := Register(r, given)
			want := prometheus.Collector(given)
			if tc.want == "before" {
				want = tc.before
			}
			if prometheus.Collector(got) != want {
				t.Fatalf("Register returned %v, want the %s collector", got, tc.want)
			}
			got.Inc()
			var m dto.Metric
			if err := got.Write(&m); err != nil || m.GetCounter().GetValue() != 1 {
				t.Fatalf("returned counter reads %v after one Inc (%v)", m.GetCounter().GetValue(), err)
			}
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			if len(mfs) != tc.gathered {
				t.Fatalf("registry holds %d families, want %d", len(mfs), tc.gathered)
			}
		})
	}
}

// TestCounterGauge: the names are hemi_<subsystem>_<name>, and a second
// call on the same registry returns the registered collector.
func TestCounterGauge(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := Counter(reg, "sub", "events_total", "Events.")
	g := Gauge(reg, "sub", "level", "Level.")
	if again := Counter(reg, "sub", "events_total", "Events."); again != c {
		t.Fatal("a second Counter on the registry is not the registered one")
	}
	if again := Gauge(reg, "sub", "level", "Level."); again != g {
		t.Fatal("a second Gauge on the registry is not the registered one")
	}
	c.Add(2)
	g.Set(5)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		got[mf.GetName()] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	want := map[string]float64{"hemi_sub_events_total": 2, "hemi_sub_level": 5}
	if len(got) != len(want) || got["hemi_sub_events_total"] != 2 || got["hemi_sub_level"] != 5 {
		t.Fatalf("gathered %v, want %v", got, want)
	}
}
