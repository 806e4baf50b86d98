package peerserve

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestMetrics(t *testing.T) {
	src := newMemSource(t)
	src.mine(t, 0, 3, 0)
	reg := prometheus.NewRegistry()
	cfg := Config{Params: &chaincfg.RegressionNetParams, Source: src, Logger: slog.New(slog.DiscardHandler), Registerer: reg}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()

	if _, err := New(cfg); !errors.Is(err, ErrConfig) {
		t.Fatalf("second server on one registerer: %v, want ErrConfig", err)
	}

	c := dial(t, srv.Addr(), false)
	tip, _ := src.Tip()
	genesis, _ := src.HashAt(0)
	gh := wire.NewMsgGetHeaders()
	_ = gh.AddBlockLocatorHash(&genesis)
	c.QueueMessage(gh, nil)
	expect[*wire.MsgHeaders](t, c)
	gd := wire.NewMsgGetData()
	_ = gd.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &tip))
	_ = gd.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &chainhash.Hash{3}))
	c.QueueMessage(gd, nil)
	expect[*wire.MsgBlock](t, c)
	expect[*wire.MsgNotFound](t, c)

	deadline := time.Now().Add(waitTimeout)
	for value(t, srv.m.bytesSent) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	checks := []struct {
		name string
		c    prometheus.Metric
		want float64
	}{
		{name: "peers", c: srv.m.peers, want: 1},
		{name: "headers served", c: srv.m.headersServed, want: 3},
		{name: "blocks served", c: srv.m.blocksServed, want: 1},
		{name: "notfound", c: srv.m.notFound, want: 1},
	}
	for _, tc := range checks {
		t.Run(tc.name, func(t *testing.T) {
			if got := value(t, tc.c); got != tc.want {
				t.Fatalf("%s = %v, want %v", tc.name, got, tc.want)
			}
		})
	}
	if value(t, srv.m.bytesSent) == 0 {
		t.Fatal("no bytes counted")
	}
}

// value reads a gauge's or counter's current value.
func value(t testing.TB, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	switch {
	case d.Gauge != nil:
		return d.Gauge.GetValue()
	case d.Counter != nil:
		return d.Counter.GetValue()
	}
	t.Fatal("metric is neither gauge nor counter")
	return 0
}
