package explorer

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestScreenshots saves screenshots of the main pages under
// $HEMI_SCREENSHOTS (`make screenshots` sets it to docs/screenshots; not
// part of `make test`, which leaves it unset).
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("HEMI_SCREENSHOTS")
	if dir == "" {
		t.Skip("HEMI_SCREENSHOTS unset: `make screenshots` takes them")
	}
	e := newEnv(t)
	ctx := browser(t)
	a1 := e.addr(1)
	contract := e.addr(9)
	tx := e.send(0, 0, &a1, 25e16, nil, 21_000)
	b := e.mine(tx, e.send(2, 0, &contract, 1e15, nil, 21_000))
	for n := uint64(1); n < 30; n++ {
		e.mine(e.send(0, n, &a1, int64(n)*1e14, nil, 21_000))
	}
	e.fin.safe, e.fin.final = 25, 0
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{
		"home":      "/",
		"block":     fmt.Sprintf("/block/%d", b.NumberU64()),
		"tx":        "/tx/" + tx.Hash().Hex(),
		"address":   "/address/" + a1.Hex(),
		"keystones": "/keystones",
		"btc-block": "/btc/block/" + e.bf.blocks[3].BlockHash().String(),
		"btc-tx":    "/btc/tx/" + e.bf.deposit.TxHash().String(),
	} {
		step(t, ctx, chromedp.EmulateViewport(1280, 900))
		step(t, ctx, chromedp.Navigate(e.url+path))
		png := step(t, ctx, chromedp.FullScreenshot(100)) // quality 100: PNG (below it, JPEG)
		if err := os.WriteFile(filepath.Join(dir, "explorer-"+name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
