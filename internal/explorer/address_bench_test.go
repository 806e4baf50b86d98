package explorer

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ethereum/go-ethereum/core/types"
)

// BenchmarkAddressPage times the address page's server-side render (the
// handler, no connection) for a busy sender: its first page and an
// older one (?before=), 25 rows each, the history in the address index.
// `hemi bench explorer` times the same pages on a 10,000-block chain;
// this one runs in seconds and profiles cleanly (-cpuprofile).
func BenchmarkAddressPage(b *testing.B) {
	e := newEnv(b)
	const blocks, perBlock = 40, 10
	sender := e.addr(0)
	nonce := uint64(0)
	for range blocks {
		txs := make([]*types.Transaction, 0, perBlock)
		for i := range perBlock {
			to := e.addr(1 + i%(len(e.accts)-1))
			txs = append(txs, e.send(0, nonce, &to, 1e15+int64(nonce), nil, 21_000))
			nonce++
		}
		e.mine(txs...)
	}
	for _, c := range []struct{ name, path string }{
		{"first", "/address/" + sender.Hex()},
		{"older", fmt.Sprintf("/address/%s?before=%d", sender.Hex(), blocks/2)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				e.pages.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path, nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("GET %s: %d\n%s", c.path, rec.Code, rec.Body)
				}
			}
		})
	}
}
