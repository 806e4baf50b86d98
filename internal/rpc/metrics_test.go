package rpc

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestMetrics: requests, submitted transactions and filters are counted.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, Config{Registerer: reg})
	if err := e.ec.SendTransaction(context.Background(), e.transfer(0, 0, e.addr(1), 1)); err != nil {
		t.Fatal(err)
	}
	if err := e.ec.SendTransaction(context.Background(), e.transfer(0, 0, e.addr(1), 1)); err == nil {
		t.Fatal("duplicate accepted")
	}
	var id string
	if err := e.rc.Call(&id, "eth_newBlockFilter"); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				got[mf.GetName()] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				got[mf.GetName()] = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				got[mf.GetName()] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	for name, want := range map[string]float64{
		"hemi_rpc_txs_accepted_total": 1, "hemi_rpc_txs_rejected_total": 1, "hemi_rpc_filters": 1,
		"hemi_rpc_http_requests_total": 3,
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
	// The histogram observes after the answer is written, so its count
	// may lag the client; it is registered.
	if _, ok := got["hemi_rpc_http_request_seconds"]; !ok {
		t.Error("no request histogram")
	}
}
