package explorer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/ethereum/go-ethereum/common"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/devnet/devnettest"
	"github.com/hemi-go/hemi/internal/explorer"
	"github.com/hemi-go/hemi/internal/tunnel"
	"github.com/hemi-go/hemi/verify"
)

// The devnet of the chain-of-trust test: keystones every 4 blocks,
// superfinal at 3 Bitcoin confirmations, so a deposit is anchored within
// seconds.
const (
	trustInterval = 4
	trustDepth    = 3
)

// realDeposit runs a devnet stack with its explorer, deposits 1.5 BTC to
// the vault from the dev miner's second coinbase, mines until it is
// minted and the mint's block superfinal, and returns the stack, the
// deposit's outpoint and its bundle as the node's hemi_getProvenance
// answers it.
func realDeposit(t *testing.T, ctx context.Context) (*devnettest.Stack, wire.OutPoint, []byte) {
	t.Helper()
	s, err := devnettest.StartStack(ctx, devnettest.StackConfig{DataDir: t.TempDir(), L2BlockTime: time.Second,
		KeystoneInterval: trustInterval, SuperfinalDepth: trustDepth, RPC: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("stack: %v", err)
		}
	})
	tc := s.L2.File.Config.Tunnel
	dep, err := s.DepositFromCoinbase(2, common.HexToAddress("0x90F79bf6EB2c4f870365E785982E1f101E93b906"), 150_000_000)
	if err != nil {
		t.Fatal(err)
	}
	op := wire.OutPoint{Hash: dep.TxHash(), Index: 0}
	if _, err := s.MineBTC(ctx, int(tc.DepositConfirmations)+int(s.L2.Spec.Config.ViewLag)); err != nil {
		t.Fatal(err)
	}
	var m tunnel.Minted
	if err := s.WaitFor(ctx, "the deposit minted", func() bool {
		st, err := s.L2.Chain.StateAt(s.L2.Chain.Head().Root)
		if err != nil {
			return false
		}
		var ok bool
		m, ok = tunnel.ReadMinted(st, tc.TunnelAddress, tunnel.DepositKey(op))
		return ok
	}); err != nil {
		t.Fatal(err)
	}
	// Mine until the mint's block is superfinal (the PoP miner publishes
	// each keystone; MineBTC waits for its transactions in the mempool).
	if _, err := s.MineUntilSuperfinal(ctx, m.L2Block, 200); err != nil {
		t.Fatal(err)
	}
	rc, err := gethrpc.DialContext(ctx, s.RPCURL)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var raw json.RawMessage
	what := fmt.Sprintf("%s:%d", op.Hash, op.Index)
	if err := s.WaitFor(ctx, "the deposit's bundle", func() bool {
		return rc.CallContext(ctx, &raw, "hemi_getProvenance", what) == nil
	}); err != nil {
		t.Fatalf("%v: %v", err, rc.CallContext(ctx, &raw, "hemi_getProvenance", what))
	}
	return s, op, raw
}

// nativeResult is `hemi verify --genesis` on bundle with the stack's
// genesis file.
func nativeResult(t *testing.T, s *devnettest.Stack, bundle []byte) *verify.Result {
	t.Helper()
	gen, err := s.L2.File.Encode()
	if err != nil {
		t.Fatal(err)
	}
	o, err := (&verify.Input{Genesis: string(gen)}).Options()
	if err != nil {
		t.Fatal(err)
	}
	o.Now = time.Now()
	return verify.VerifyJSON(bundle, o)
}

// waitTrust waits until the chain-of-trust page has a result and returns
// its state.
func waitTrust(t *testing.T, ctx context.Context) string {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if _, err := chromedp.Run(sctx, chromedp.Poll[chromedp.Void](`["verified","failed","error"].includes(document.getElementById("trust").dataset.state)`,
		chromedp.WithPollingTimeout(3*time.Minute))); err != nil {
		status, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#trust-status")))
		t.Fatalf("the page gave no result: %v (status %q)", err, status)
	}
	return do(t, ctx, chromedp.Evaluate[string](`document.getElementById("trust").dataset.state`))
}

// do runs one action under a minute's timeout.
func do[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func attr(t *testing.T, ctx context.Context, sel, name string) string {
	t.Helper()
	return do(t, ctx, chromedp.AttributeValue(chromedp.CSS(sel), name)).Value
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return strings.TrimSpace(do(t, ctx, chromedp.Text(chromedp.CSS(sel))))
}

// TestBrowserChainOfTrust: in a real headless Chromium against a devnet
// stack, a real deposit's chain-of-trust page (linked from its page and
// its mint's) fetches the bundle from the node, checks it with the
// verifier in WebAssembly and says verified, every link checked, with the
// native verifier's statement; so does the mint's own transaction page; a tampered copy of the bundle, given as a
// file to the page's form, names the link that fails (the native
// verifier's); with JavaScript off the page says what it would check and
// its download is the bundle, which verifies offline.
func TestBrowserChainOfTrust(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a whole devnet and Chromium")
	}
	ctx := explorer.Browser(t)
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, op, bundle := realDeposit(t, sctx)
	want := nativeResult(t, s, bundle)
	if !want.OK {
		t.Fatalf("the native verifier refuses the devnet's deposit bundle: %s: %s", want.FailedLink, want.Error)
	}
	depPath := explorer.ProvenanceDepositPath(op.Hash, op.Index)

	// The mint's transaction page links the deposit's chain of trust.
	var mintHash string
	for _, p := range want.Proved {
		if p.Link != verify.LinkTx {
			continue
		}
		for _, f := range strings.Fields(p.What) {
			if strings.HasPrefix(f, "0x") && len(f) == 66 {
				mintHash = f
				break
			}
		}
	}
	do(t, ctx, chromedp.Navigate(s.RPCURL+"/tx/"+mintHash))
	if href := attr(t, ctx, "#deposit-trust-link", "href"); !strings.HasSuffix(href, depPath) {
		t.Fatalf("the mint %s's page links %q, want %s", mintHash, href, depPath)
	}
	// So does the deposit's own page, where its state shows.
	do(t, ctx, chromedp.Navigate(s.RPCURL+fmt.Sprintf("/deposit/%s:%d", op.Hash, op.Index)))
	if href := attr(t, ctx, "#trust-link", "href"); !strings.HasSuffix(href, depPath) {
		t.Fatalf("the deposit's page links %q, want %s", href, depPath)
	}

	// The page checks the node's bundle in the browser: verified.
	do(t, ctx, chromedp.Navigate(s.RPCURL+depPath))
	if state := waitTrust(t, ctx); state != "verified" {
		t.Fatalf("the real deposit's page says %s: %s", state, text(t, ctx, "#trust-status"))
	}
	if statement := text(t, ctx, "#trust-statement"); statement != want.Statement {
		t.Errorf("the page's statement:\n%s\nthe native verifier's:\n%s", statement, want.Statement)
	}
	states := do(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#links li")].map(li => li.dataset.link + "=" + li.dataset.state)`))
	for _, st := range states {
		if !strings.HasSuffix(st, "=ok") {
			t.Errorf("link %s on a verified deposit", st)
		}
	}
	if len(states) < 14 {
		t.Errorf("the deposit page shows %d links: %v", len(states), states)
	}

	// The mint as an L2 transaction: its own chain of trust (block,
	// receipt, keystone) verifies too.
	do(t, ctx, chromedp.Navigate(s.RPCURL+"/tx/"+mintHash))
	txTrust := attr(t, ctx, "#trust-link", "href")
	do(t, ctx, chromedp.Navigate(s.RPCURL+txTrust))
	if state := waitTrust(t, ctx); state != "verified" {
		t.Fatalf("the mint transaction's page %s says %s: %s", txTrust, state, text(t, ctx, "#trust-status"))
	}
	if got := do(t, ctx, chromedp.Evaluate[string](`document.querySelector('#links li[data-link="receipt"]').dataset.state`)); got != "ok" {
		t.Fatalf("the mint transaction's receipt link: %s", got)
	}
	do(t, ctx, chromedp.Navigate(s.RPCURL+depPath))
	if state := waitTrust(t, ctx); state != "verified" {
		t.Fatalf("the deposit's page again: %s", state)
	}

	// A tampered bundle: the deposit transaction's last byte (its lock
	// time) changed, so its txid and merkle branch no longer agree.
	var b map[string]any
	if err := json.Unmarshal(bundle, &b); err != nil {
		t.Fatal(err)
	}
	btx := b["deposit"].(map[string]any)["bitcoin"].(map[string]any)
	txHex := btx["tx"].(string)
	flip := "01"
	if txHex[len(txHex)-2:] == "01" {
		flip = "02"
	}
	btx["tx"] = txHex[:len(txHex)-2] + flip
	tampered, _ := json.Marshal(b)
	bad := nativeResult(t, s, tampered)
	if bad.OK || bad.FailedLink != verify.LinkDepositTx {
		t.Fatalf("the native verifier on the tampered bundle: ok=%v link %q", bad.OK, bad.FailedLink)
	}
	file := filepath.Join(t.TempDir(), "tampered.json")
	if err := os.WriteFile(file, tampered, 0o644); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, chromedp.SetUploadFiles(chromedp.CSS("#bundle-file"), []string{file}))
	do(t, ctx, chromedp.Click(chromedp.CSS("#trust-file button[type=submit]")))
	if state := waitTrust(t, ctx); state != "failed" {
		t.Fatalf("the tampered bundle's check says %s", state)
	}
	failedLink := do(t, ctx, chromedp.Evaluate[string](`document.getElementById("trust").dataset.failedLink`))
	liState := attr(t, ctx, `#links li[data-link="`+bad.FailedLink+`"]`, "data-state")
	status := text(t, ctx, "#trust-status")
	if failedLink != bad.FailedLink || liState != "failed" || !strings.Contains(status, bad.FailedLink) || !strings.Contains(status, bad.Error) {
		t.Fatalf("the page names link %q (%s): %q; the native verifier %q: %s", failedLink, liState, status, bad.FailedLink, bad.Error)
	}

	// JavaScript off: the page says what it would check and links the
	// bundle, which is the node's and verifies offline.
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, chromedp.Navigate(s.RPCURL+depPath))
	status = text(t, ctx, "#trust-status")
	href := attr(t, ctx, "#bundle-link", "href")
	if !strings.Contains(status, "With JavaScript off nothing is checked here") || href != depPath+"/bundle.json" {
		t.Fatalf("without JavaScript: status %q, bundle link %q", status, href)
	}
	resp, err := http.Get(s.RPCURL + href)
	if err != nil {
		t.Fatal(err)
	}
	dl, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("bundle download: %d %v %v", resp.StatusCode, resp.Header, err)
	}
	if r := nativeResult(t, s, dl); !r.OK || r.Statement != want.Statement {
		t.Fatalf("the downloaded bundle: ok=%v %s %s", r.OK, r.FailedLink, r.Error)
	}
}
