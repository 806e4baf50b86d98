package explorer

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// chromiumPath is the headless browser of the browser tests:
// $HEMI_CHROMIUM, else chromium on the PATH (Debian's package, which
// scripts/install-tools.sh installs).
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("HEMI_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium: run scripts/install-tools.sh (apt-get install chromium) or set HEMI_CHROMIUM")
	return ""
}

// browser starts a headless Chromium (as root: no sandbox) and returns
// its tab's context (chromedp: no timeout on the context that starts the
// browser; each step takes its own, see step).
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)), chromedp.Flag("headless", true), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// step runs one action under a timeout.
func step[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func text(ctx context.Context, t *testing.T, url, sel string) string {
	t.Helper()
	step(t, ctx, chromedp.Navigate(url))
	return strings.TrimSpace(step(t, ctx, chromedp.Text(chromedp.CSS(sel))))
}

// TestBrowser: in a real headless Chromium, the pages show the values
// the RPC gives, the home page's head advances without a reload (the
// same-origin WebSocket), a phone-sized viewport has no horizontal
// scroll, and the pages read with JavaScript off.
func TestBrowser(t *testing.T) {
	e := newEnv(t)
	ctx := browser(t)
	a1 := e.addr(1)
	tx := e.send(0, 0, &a1, 1e15, nil, 21_000)
	b := e.mine(tx)
	for range 3 {
		e.mine()
	}

	// Values as the RPC gives them.
	var blk map[string]any
	if err := e.rc.Call(&blk, "eth_getBlockByNumber", hexutil.EncodeUint64(b.NumberU64()), false); err != nil {
		t.Fatal(err)
	}
	if got := text(ctx, t, fmt.Sprintf("%s/block/%d", e.url, b.NumberU64()), "#hash"); !strings.HasPrefix(got, blk["hash"].(string)) {
		t.Errorf("block page hash %q, RPC %s", got, blk["hash"])
	}
	var rtx map[string]any
	if err := e.rc.Call(&rtx, "eth_getTransactionByHash", tx.Hash()); err != nil {
		t.Fatal(err)
	}
	if got := text(ctx, t, e.url+"/tx/"+tx.Hash().Hex(), "#from"); got != common.HexToAddress(rtx["from"].(string)).Hex() {
		t.Errorf("tx page from %q, RPC %s", got, rtx["from"])
	}
	var bal hexutil.Big
	if err := e.rc.Call(&bal, "eth_getBalance", a1, "latest"); err != nil {
		t.Fatal(err)
	}
	if got := text(ctx, t, e.url+"/address/"+a1.Hex(), "#balance"); got != formatEther(bal.ToInt())+" ETH" {
		t.Errorf("address page balance %q, RPC %s wei", got, bal.ToInt())
	}

	// The head advances without a reload: the page's script subscribes
	// on the node's WebSocket; its socket being open shows in the DOM
	// (data-live), so the block mined next is the page's to show.
	start := text(ctx, t, e.url+"/", "#head")
	step(t, ctx, chromedp.Poll[chromedp.Void](`document.body.dataset.live === "1"`, chromedp.WithPollingTimeout(15*time.Second)))
	next := e.mine()
	want := fmt.Sprint(next.NumberU64())
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.getElementById("head").textContent === %q`, want),
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("head stayed at %s, want %s without a reload: %v", start, want, err)
	}

	// A phone: no page scrolls sideways.
	btcBlock, btcTx := "/btc/block/"+e.bf.blocks[3].BlockHash().String(), "/btc/tx/"+e.bf.pay.TxHash().String()
	pages := []string{"/", fmt.Sprintf("/block/%d", b.NumberU64()), "/tx/" + tx.Hash().Hex(), "/address/" + a1.Hex(), "/keystones", "/token/hbtc", "/block/zz",
		btcBlock, btcTx, "/deposits", "/withdrawals"}
	step(t, ctx, chromedp.EmulateViewport(375, 740, chromedp.EmulateMobile))
	for _, p := range pages {
		step(t, ctx, chromedp.Navigate(e.url+p))
		if !step(t, ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`)) {
			t.Errorf("%s scrolls sideways at 375 px", p)
		}
	}

	// JavaScript off: the content is in the HTML.
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	if got := text(ctx, t, e.url+"/", "#head"); got != want {
		t.Errorf("home without JavaScript: head %q, want %s", got, want)
	}
	if got := text(ctx, t, e.url+"/search?q="+tx.Hash().Hex(), "#hash"); !strings.HasPrefix(got, tx.Hash().Hex()) {
		t.Errorf("search without JavaScript led to %q", got)
	}
	// The Bitcoin pages: the fee txgen paid, the block's transactions.
	if got, want := text(ctx, t, e.url+btcTx, "#fee"), fmt.Sprintf("%s BTC (%d sat)", btcAmount(e.bf.payFee), e.bf.payFee); got != want {
		t.Errorf("Bitcoin tx without JavaScript: fee %q, want %q", got, want)
	}
	if got, want := text(ctx, t, e.url+btcBlock, "#txCount"), fmt.Sprint(len(e.bf.blocks[3].Transactions)); got != want {
		t.Errorf("Bitcoin block without JavaScript: %q transactions, want %s", got, want)
	}
	if got := text(ctx, t, e.url+"/search?q="+e.bf.pay.TxHash().String(), "#txid"); !strings.HasPrefix(got, e.bf.pay.TxHash().String()) {
		t.Errorf("Bitcoin search without JavaScript led to %q", got)
	}
	if got := text(ctx, t, e.url+"/deposits", "#notunnel"); !strings.Contains(got, "no tunnel") {
		t.Errorf("deposits without a tunnel: %q", got)
	}
}
