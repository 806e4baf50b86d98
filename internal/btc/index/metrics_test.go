package index

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	g := newGen(regtest)
	bs := g.chain(t, *regtest.GenesisHash, 4, script(1))
	ix := openTest(t, t.TempDir(), regtest)
	defer ix.Close()
	ix.m = newMetrics(reg)
	// A second set registered with the same registry shares the first's
	// collectors (an index reopened in one process).
	if m2 := newMetrics(reg); m2.blockHeight != ix.m.blockHeight {
		t.Fatal("re-registration did not reuse the collectors")
	}
	feed(t, ix, bs)
	mustTip(t, ix, bs[3].BlockHash(), 4)
	for name, want := range map[string]float64{
		"hemi_btc_index_header_height":          4,
		"hemi_btc_index_block_height":           4,
		"hemi_btc_index_blocks_connected_total": 4,
		"hemi_btc_index_txs_indexed_total":      4,
		"hemi_btc_index_blocks_stored_total":    4,
	} {
		var got float64
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, mf := range mfs {
			if mf.GetName() == name {
				found = true
				m := mf.GetMetric()[0]
				if m.GetGauge() != nil {
					got = m.GetGauge().GetValue()
				} else {
					got = m.GetCounter().GetValue()
				}
			}
		}
		if !found || got != want {
			t.Errorf("%s = %v (found %v), want %v", name, got, found, want)
		}
	}
}
