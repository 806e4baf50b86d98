package testkit

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestFreeAddr(t *testing.T) {
	addr := FreeAddr(t)
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("FreeAddr = %q (%v), want 127.0.0.1 and a port", addr, err)
	}
	ln, err := net.Listen("tcp", addr) // the port was free a moment ago
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	ln.Close()
}

func TestLogBuffer(t *testing.T) {
	tests := []struct {
		name   string
		keep   int
		writes []string
		want   string // String
		lines  int    // len(Lines)
	}{
		{name: "empty", want: "", lines: 0},
		{name: "everything, exactly", writes: []string{"a=1\n", "b=2\n", "c"}, want: "a=1\nb=2\nc", lines: 3},
		{name: "a line split over writes", writes: []string{"msg=", "x k=v\n"}, want: "msg=x k=v", lines: 1},
		{name: "keep under the bound", keep: 3, writes: []string{"1\n", "2\n", "3\n", "4\n"}, want: "2\n3\n4", lines: 3},
		{name: "keep past twice the bound", keep: 2, writes: []string{"1\n2\n3\n", "4\n5\n", "6"}, want: "5\n6", lines: 2},
		{name: "keep with one write of many lines", keep: 1, writes: []string{"1\n2\n3\n4\n5\n"}, want: "5", lines: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &LogBuffer{Keep: tc.keep}
			for _, w := range tc.writes {
				if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if got := b.String(); got != tc.want {
				t.Errorf("String = %q, want %q", got, tc.want)
			}
			if got := len(b.Lines()); got != tc.lines {
				t.Errorf("%d lines, want %d", got, tc.lines)
			}
		})
	}
}

// TestLogBufferBounded shows Keep bounding what is held over a long run.
func TestLogBufferBounded(t *testing.T) {
	b := &LogBuffer{Keep: 10}
	for i := range 10_000 {
		fmt.Fprintf(b, "line %d\n", i)
	}
	b.mu.Lock()
	held := b.b.Len()
	b.mu.Unlock()
	if held > 2*10*len("line 9999\n") {
		t.Errorf("holds %d bytes for Keep 10", held)
	}
	if got, want := b.Tail(2), "line 9998\nline 9999"; got != want {
		t.Errorf("Tail(2) = %q, want %q", got, want)
	}
}

func TestLogBufferHasLine(t *testing.T) {
	b := &LogBuffer{}
	log := b.Logger(slog.LevelInfo)
	log.Info("refusing to sign payout", "reason", "fee", "id", 7)
	log.Debug("hidden", "id", 8)
	tests := []struct {
		parts []string
		want  bool
	}{
		{[]string{`msg="refusing to sign payout"`, "reason=fee", "id=7"}, true},
		{[]string{"id=7", "reason=fee"}, true},
		{[]string{"reason=fee", "id=8"}, false}, // each part there, not on one line
		{[]string{"hidden"}, false},             // below the level
	}
	for _, tc := range tests {
		if got := b.HasLine(tc.parts...); got != tc.want {
			t.Errorf("HasLine(%q) = %v, want %v\n%s", tc.parts, got, tc.want, b)
		}
	}
}

// TestLogBufferConcurrent has many loggers write at once (run with
// -race): every line arrives whole.
func TestLogBufferConcurrent(t *testing.T) {
	b := &LogBuffer{}
	log := b.Logger(slog.LevelInfo)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				log.Info("tick", "g", g, "i", i)
			}
		})
	}
	wg.Wait()
	lines := b.Lines()
	if len(lines) != 800 {
		t.Fatalf("%d lines, want 800", len(lines))
	}
	for _, l := range lines {
		if !strings.Contains(l, "msg=tick g=") {
			t.Fatalf("torn line %q", l)
		}
	}
}

// fakeTB is a test whose failure and cleanups TestTestLog controls.
type fakeTB struct {
	testing.TB
	failed   bool
	cleanups []func()
	logged   []string
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Failed() bool      { return f.failed }
func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Logf(format string, args ...any) {
	f.logged = append(f.logged, fmt.Sprintf(format, args...))
}

func TestTestLog(t *testing.T) {
	for _, failed := range []bool{false, true} {
		f := &fakeTB{TB: t, failed: failed}
		_, log := TestLog(f, "the stack", slog.LevelInfo, 2)
		for i := range 5 {
			log.Info("step", "i", i)
		}
		for _, fn := range f.cleanups {
			fn()
		}
		switch {
		case !failed && len(f.logged) != 0:
			t.Errorf("a passing test printed %q", f.logged)
		case failed && (len(f.logged) != 1 || !strings.Contains(f.logged[0], "of the stack") ||
			!strings.Contains(f.logged[0], "i=3\n") || !strings.HasSuffix(f.logged[0], "i=4") || strings.Contains(f.logged[0], "i=2")):
			t.Errorf("a failed test printed %q, want the last 2 lines", f.logged)
		}
	}
}

func TestMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "drops_total", Help: "h"}, []string{"reason", "peer"})
	reg.MustRegister(vec)
	vec.WithLabelValues("oldest", "a").Add(2)
	vec.WithLabelValues("oldest", "b").Add(3)
	vec.WithLabelValues("expired", "a").Add(5)
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "kept", Help: "h"})
	reg.MustRegister(g)
	g.Set(7)
	tests := []struct {
		name   string
		metric string
		labels []string
		want   float64
		found  bool
	}{
		{name: "gauge", metric: "kept", want: 7, found: true},
		{name: "every series", metric: "drops_total", want: 10, found: true},
		{name: "one label, two series", metric: "drops_total", labels: []string{"reason", "oldest"}, want: 5, found: true},
		{name: "both labels", metric: "drops_total", labels: []string{"reason", "oldest", "peer", "b"}, want: 3, found: true},
		{name: "no such series", metric: "drops_total", labels: []string{"reason", "mined"}},
		{name: "not registered", metric: "nothing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, found := Metric(t, reg, tc.metric, tc.labels...)
			if got != tc.want || found != tc.found {
				t.Fatalf("Metric = %v, %v; want %v, %v", got, found, tc.want, tc.found)
			}
		})
	}
}
