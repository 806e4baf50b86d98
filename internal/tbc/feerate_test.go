package tbc

import (
	"context"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/mempool"
)

func TestAPIFeeRate(t *testing.T) {
	f := newAPIFixture(t)
	ctx := context.Background()
	// The window holds the fixture's one spend and 11 empty blocks.
	cb := f.blocks[0].Transactions[0].TxOut[0].Value
	var out int64
	for _, o := range f.spend.TxOut {
		out += o.Value
	}
	vsize := mempool.GetTxVirtualSize(btcutil.NewTx(f.spend))
	wantTop := int64(math.Round(float64(cb-out) / float64(vsize)))
	tests := []struct {
		name   string
		target int
		want   int64
	}{
		{"next block", 1, wantTop},
		{"six blocks: empty blocks give the floor", 6, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fr, err := f.client.FeeRate(ctx, tc.target)
			if err != nil {
				t.Fatal(err)
			}
			if fr.SatPerVB != tc.want || fr.Target != tc.target || fr.Window != 12 || fr.AsOf != f.blocks[len(f.blocks)-1].BlockHash().String() {
				t.Fatalf("fee rate %+v, want %d", fr, tc.want)
			}
		})
	}
	for _, q := range []string{"target=0", "target=x", "target=2000"} {
		resp, err := http.Get(f.client.base + "/v1/feerate?" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("%s: status %d", q, resp.StatusCode)
		}
	}
	if _, err := f.client.FeeRate(ctx, 0); err == nil || !strings.Contains(err.Error(), "target") {
		t.Fatalf("err %v", err)
	}
}
