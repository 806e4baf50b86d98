package devnettest

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// lineBuffer collects log lines, safe for concurrent writers.
type lineBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lineBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Split(b.b.String(), "\n")
}

// has reports whether one line holds every part.
func (b *lineBuffer) has(parts ...string) bool {
	for _, l := range b.lines() {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// testLog is a logger into a buffer whose last tail lines the test
// prints if it fails (to tell a stalled node from a wrong answer).
func testLog(t *testing.T, tail int) (*lineBuffer, *slog.Logger) {
	t.Helper()
	logs := &lineBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			lines := logs.lines()
			t.Logf("last log lines:\n%s", strings.Join(lines[max(0, len(lines)-tail):], "\n"))
		}
	})
	return logs, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// counterSum reads counter name in reg: with reason "" its sum over
// every series, else the series of that reason label (0 if none).
func counterSum(t *testing.T, reg *prometheus.Registry, name, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if reason == "" {
				sum += m.GetCounter().GetValue()
			}
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "reason" && lp.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

// waitFor polls cond every 200 ms until it holds or ctx ends.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// freeAddr is a loopback address whose port was free a moment ago (its
// listener is closed).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
