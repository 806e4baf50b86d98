package explorer_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/devnet"
	"github.com/hemi-go/hemi/internal/devnet/devnettest"
	"github.com/hemi-go/hemi/internal/explorer"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// tunnelStack is a whole devnet (devnettest.Stack: regtest Bitcoin, the
// indexer, the L2 node serving JSON-RPC and the explorer, the three dev
// signers) and clients of its JSON-RPC.
type tunnelStack struct {
	t   *testing.T
	ctx context.Context
	s   *devnettest.Stack
	rc  *gethrpc.Client
	ec  *ethclient.Client
}

// get fetches an explorer page (following redirects) and unescapes it.
func (ts *tunnelStack) get(path string) (int, string) {
	ts.t.Helper()
	resp, err := http.Get(ts.s.RPCURL + path)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	if len(b) > 150<<10 {
		ts.t.Errorf("GET %s: %d bytes, over the 150 KB a page may weigh", path, len(b))
	}
	return resp.StatusCode, html.UnescapeString(string(b))
}

// consistent fetches the RPC answer, the page, and the RPC answer again
// until the two answers agree (the chain moves between calls), then
// fails unless the page holds every string want(answer) gives.
func consistent[T any](ts *tunnelStack, path, method string, arg any, want func(T) []string) T {
	ts.t.Helper()
	for try := 0; ; try++ {
		var a, b T
		if err := ts.rc.CallContext(ts.ctx, &a, method, arg); err != nil {
			ts.t.Fatalf("%s: %v", method, err)
		}
		code, body := ts.get(path)
		if err := ts.rc.CallContext(ts.ctx, &b, method, arg); err != nil {
			ts.t.Fatalf("%s: %v", method, err)
		}
		if !reflect.DeepEqual(a, b) {
			if try == 50 {
				ts.t.Fatalf("%s(%v) never held still", method, arg)
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if code != http.StatusOK {
			ts.t.Fatalf("GET %s: %d\n%s", path, code, body)
		}
		for _, w := range want(a) {
			if !strings.Contains(body, w) {
				ts.t.Errorf("GET %s: no %q in the page (%s says %+v)", path, w, method, a)
			}
		}
		return a
	}
}

// rpcDeposit and rpcWithdrawal are hemi_getDeposit's and
// hemi_getWithdrawal's JSON, decoded here independently of the pages.
type rpcDeposit = tunnel.DepositJSON

type rpcWithdrawal = tunnel.WithdrawalJSON

func depositWant(d *rpcDeposit) []string {
	if d == nil {
		return nil
	}
	w := []string{`id="outpoint">` + d.Outpoint, `data-state="` + d.State + `"`, fmt.Sprintf("(%d sat)", d.AmountSat),
		`href="/btc/tx/` + strings.Split(d.Outpoint, ":")[0] + `"`}
	if d.Recipient != nil {
		w = append(w, `href="/address/`+d.Recipient.Hex()+`"`)
	}
	if d.BlockNumber != nil {
		w = append(w, fmt.Sprintf(`id="l2block" href="/block/%d"`, *d.BlockNumber), `href="/tx/`+d.TxHash.Hex()+`"`)
	} else {
		w = append(w, fmt.Sprintf("%d of %d", d.Confirmations, d.Required))
	}
	if d.RefundID != nil {
		w = append(w, fmt.Sprintf(`href="/withdrawal/%d"`, *d.RefundID))
	}
	if d.Reason != nil {
		w = append(w, `id="reason">`+*d.Reason)
	}
	return w
}

func withdrawalWant(w *rpcWithdrawal) []string {
	if w == nil {
		return nil
	}
	out := []string{fmt.Sprintf(`id="id">%d<`, w.ID), `id="kind">` + w.Kind, `data-status="` + w.Status + `"`,
		fmt.Sprintf("(%d sat)", w.AmountSat), fmt.Sprintf(`href="/block/%d"`, w.L2Block), w.Address,
		fmt.Sprintf(`id="confirmations">%d`, w.Confirmations)}
	if w.Burned {
		out = append(out, "hBTC burned")
	}
	if w.From != nil {
		out = append(out, `href="/address/`+w.From.Hex()+`"`)
	}
	if w.DepositTxid != "" {
		out = append(out, `href="/deposit/`+w.DepositTxid+`:`)
	}
	if w.Batch != nil {
		out = append(out, fmt.Sprintf(`id="signatures">%d of %d`, w.Batch.Signatures, w.Batch.K), fmt.Sprintf("batch %d,", w.Batch.Number))
	}
	if w.PayoutTxid != "" {
		out = append(out, `href="/btc/tx/`+w.PayoutTxid+`"`)
	}
	if w.Paid {
		out = append(out, "marked paid by the chain")
	}
	return out
}

// TestDevnetTunnelPages: on a real devnet, a Bitcoin transaction paying
// the vault twice (1.5 BTC to an L2 account, and 5,000 sat, under the
// minimum: refunded) and a withdrawal of part of the minted hBTC; at
// each stage the deposit, withdrawal and list pages show what
// hemi_getDeposit and hemi_getWithdrawal answer, the Bitcoin pages show
// the deposits with their states and the refund's payout, the L2 pages
// decode and link the system transactions, and the hBTC token and
// address pages show supply, holders and balances as eth_call gives
// them.
func TestDevnetTunnelPages(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a regtest node, an indexer, an L2 and three signers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := devnettest.StartStack(ctx, devnettest.StackConfig{L2BlockTime: time.Second, KeystoneInterval: 2, RPC: true,
		PoPM: devnet.PoPMConfig{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rc, err := gethrpc.DialContext(ctx, s.RPCURL)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	ts := &tunnelStack{t: t, ctx: ctx, s: s, rc: rc, ec: ethclient.NewClient(rc)}
	tc := s.L2.File.Config.Tunnel
	lag := int(s.L2.Spec.Config.ViewLag)
	holder := s.L2.Accounts[1]

	// The deposit transaction: two vault outputs, one recipient.
	dep, err := s.DepositFromCoinbase(2, holder.Address, 150_000_000, 5_000)
	if err != nil {
		t.Fatal(err)
	}
	txid := dep.TxHash().String()
	mint, refund := txid+":0", txid+":1"
	if _, err := s.MineBTC(ctx, 1+lag); err != nil {
		t.Fatal(err)
	}
	getDeposit := func(op string) *rpcDeposit {
		var d *rpcDeposit
		if err := rc.CallContext(ctx, &d, "hemi_getDeposit", op); err != nil {
			t.Fatal(err)
		}
		return d
	}
	if err := s.WaitFor(ctx, "the deposit in the L2's view", func() bool { return getDeposit(mint) != nil }); err != nil {
		t.Fatal(err)
	}

	// Confirming: its page, the list's pending part, the Bitcoin pages.
	d := consistent(ts, "/deposit/"+mint, "hemi_getDeposit", mint, depositWant)
	if d.State != "confirming" {
		t.Fatalf("deposit %s %s, want confirming", mint, d.State)
	}
	consistent(ts, "/deposits", "hemi_getDeposit", mint, func(d *rpcDeposit) []string {
		return []string{`href="/deposit/` + mint + `"`, `data-state="` + d.State + `"`, "Confirming"}
	})
	consistent(ts, "/btc/tx/"+txid, "hemi_getDeposit", refund, func(d *rpcDeposit) []string {
		return []string{"Tunnel deposits", `href="/deposit/` + refund + `"`, `href="/deposit/` + mint + `"`, "tunnel vault", "1.5", "0.00005"}
	})

	// Minted and refunded.
	if _, err := s.MineBTC(ctx, int(tc.DepositConfirmations)); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitFor(ctx, "the mint and the refund", func() bool {
		return getDeposit(mint).State == "minted" && getDeposit(refund).RefundID != nil
	}); err != nil {
		t.Fatal(err)
	}
	d = consistent(ts, "/deposit/"+mint, "hemi_getDeposit", mint, depositWant)
	consistent(ts, "/deposit/"+refund, "hemi_getDeposit", refund, depositWant)
	// The mint's L2 transaction and block name it and link back.
	_, body := ts.get("/tx/" + d.TxHash.Hex())
	for _, w := range []string{`id="kind">deposit (mint)`, `href="/deposit/` + mint + `"`, "1.5 BTC to " + holder.Address.Hex()} {
		if !strings.Contains(body, w) {
			t.Errorf("mint tx page: no %q", w)
		}
	}
	_, body = ts.get(fmt.Sprintf("/block/%d", *d.BlockNumber))
	for _, w := range []string{"deposit (mint)", "deposit refund", `href="/deposit/` + mint + `"`, `href="/deposit/` + refund + `"`} {
		if !strings.Contains(body, w) {
			t.Errorf("mint block page: no %q", w)
		}
	}
	consistent(ts, "/deposits", "hemi_getDeposit", mint, func(d *rpcDeposit) []string {
		return []string{`href="/deposit/` + mint + `"`, `href="/deposit/` + refund + `"`, `data-state="minted"`}
	})

	// A withdrawal of 0.5 of the 1.5 hBTC, to the dev miner's key.
	key, _, err := devnet.MinerKey()
	if err != nil {
		t.Fatal(err)
	}
	change, _ := key.PkScript(txgen.P2WPKH)
	chainID, err := ts.ec.ChainID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	data, err := tunnel.WithdrawCalldata(change, 50_000_000, 20_000)
	if err != nil {
		t.Fatal(err)
	}
	wtx, err := types.SignNewTx(holder.Key, types.LatestSignerForChainID(chainID), &types.DynamicFeeTx{ChainID: chainID,
		GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(10 * params.GWei), Gas: 500_000, To: &tc.TunnelAddress, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.ec.SendTransaction(ctx, wtx); err != nil {
		t.Fatal(err)
	}
	var wid uint64
	if err := s.WaitFor(ctx, "the withdrawal", func() bool {
		r, err := ts.ec.TransactionReceipt(ctx, wtx.Hash())
		if err != nil {
			return false
		}
		if r.Status != types.ReceiptStatusSuccessful {
			t.Fatalf("withdraw reverted")
		}
		for _, l := range r.Logs {
			if id, ok := tunnel.WithdrawalQueuedID(l.Topics); ok {
				wid = id
				return true
			}
		}
		t.Fatal("no WithdrawalQueued log")
		return false
	}); err != nil {
		t.Fatal(err)
	}
	w := consistent(ts, fmt.Sprintf("/withdrawal/%d", wid), "hemi_getWithdrawal", hexutil.Uint64(wid), withdrawalWant)
	if !w.Burned || w.Kind != "withdrawal" {
		t.Fatalf("withdrawal %+v", w)
	}
	if _, body := ts.get(fmt.Sprintf("/withdrawal/%d", wid)); !strings.Contains(body, `href="/tx/`+wtx.Hash().Hex()+`"`) {
		t.Error("the withdrawal page does not link its L2 transaction")
	}

	// hBTC: supply and the holder's balance as eth_call gives them.
	var supply, bal hexutil.Bytes
	if err := rc.CallContext(ctx, &supply, "eth_call", map[string]any{"to": tc.HBTCAddress, "data": hexutil.Bytes(common.FromHex("0x18160ddd"))}, "latest"); err != nil {
		t.Fatal(err)
	}
	if err := rc.CallContext(ctx, &bal, "eth_call", map[string]any{"to": tc.HBTCAddress,
		"data": hexutil.Bytes(append(common.FromHex("0x70a08231"), common.LeftPadBytes(holder.Address[:], 32)...))}, "latest"); err != nil {
		t.Fatal(err)
	}
	sup, hb := new(big.Int).SetBytes(supply), new(big.Int).SetBytes(bal)
	if sup.Int64() != 100_000_000 || hb.Int64() != 100_000_000 {
		t.Fatalf("supply %v, holder %v: want 1 BTC each after the withdrawal", sup, hb)
	}
	_, body = ts.get("/token/hbtc")
	for _, w := range []string{`id="supply">1<`, `id="holders"`, holder.Address.Hex()[:10], "100.00%"} {
		if !strings.Contains(body, w) {
			t.Errorf("hBTC page: no %q", w)
		}
	}
	if _, body := ts.get("/address/" + holder.Address.Hex()); !strings.Contains(body, "<dd>1 hBTC</dd>") {
		t.Error("the holder's address page does not show 1 hBTC")
	}

	// The refund: batched, signed by k signers, broadcast; then paid.
	rid := uint64(*getDeposit(refund).RefundID)
	getW := func(id uint64) *rpcWithdrawal {
		var w *rpcWithdrawal
		if err := rc.CallContext(ctx, &w, "hemi_getWithdrawal", hexutil.Uint64(id)); err != nil {
			t.Fatal(err)
		}
		return w
	}
	if err := s.WaitFor(ctx, "the refund's payout signed and broadcast", func() bool {
		w := getW(rid)
		if w.Batch == nil || w.Batch.Signatures < w.Batch.K || w.PayoutTxid == "" {
			return false
		}
		_, err := s.BTC.MempoolTx(mustHash(t, w.PayoutTxid))
		return err == nil
	}); err != nil {
		t.Fatal(err)
	}
	w = consistent(ts, fmt.Sprintf("/withdrawal/%d", rid), "hemi_getWithdrawal", hexutil.Uint64(rid), withdrawalWant)
	if w.Kind != "refund" || w.Status != "in batch" {
		t.Fatalf("refund %+v", w)
	}
	batchNo := uint64(w.Batch.Number)
	consistent(ts, "/withdrawals", "hemi_getWithdrawal", hexutil.Uint64(rid), func(w *rpcWithdrawal) []string {
		return []string{fmt.Sprintf(`href="/withdrawal/%d"`, rid), fmt.Sprintf(`href="/withdrawal/%d"`, wid), ">" + w.Status + "<", ">refund<", ">withdrawal<"}
	})
	if _, err := s.MineBTC(ctx, int(tc.WithdrawalConfirmations)+lag+1); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitFor(ctx, "the refund marked paid", func() bool { return getW(rid).Paid }); err != nil {
		t.Fatal(err)
	}
	w = consistent(ts, fmt.Sprintf("/withdrawal/%d", rid), "hemi_getWithdrawal", hexutil.Uint64(rid), withdrawalWant)
	if d := consistent(ts, "/deposit/"+refund, "hemi_getDeposit", refund, depositWant); d.State != "refunded" {
		t.Errorf("refund deposit %s", d.State)
	}
	// The payout's Bitcoin page: the vault input, the refund's output.
	_, body = ts.get("/btc/tx/" + w.PayoutTxid)
	for _, want := range []string{w.Address, `href="/btc/tx/` + txid + `"`, fmt.Sprintf(`id="confirmations">%d<`, w.Confirmations),
		fmt.Sprintf("the payout of batch %d", batchNo), "(change)", "payout marker"} {
		if !strings.Contains(body, want) {
			t.Errorf("payout page: no %q", want)
		}
	}
	// The search box: the deposit by outpoint, the Bitcoin transaction.
	for q, want := range map[string]string{mint: `id="outpoint">` + mint, txid: `id="txid">` + txid} {
		if _, body := ts.get("/search?q=" + q); !strings.Contains(body, want) {
			t.Errorf("search %s: no %q", q, want)
		}
	}
	if dir := os.Getenv("HEMI_SCREENSHOTS"); dir != "" {
		shots(t, s.RPCURL, dir, map[string]string{"deposits": "/deposits", "deposit": "/deposit/" + mint,
			"withdrawal": fmt.Sprintf("/withdrawal/%d", rid), "withdrawals": "/withdrawals", "hbtc": "/token/hbtc",
			"btc-payout": "/btc/tx/" + w.PayoutTxid})
	}
	browse(t, s.RPCURL, []string{"/deposits", "/withdrawals", "/deposit/" + mint, "/deposit/" + refund,
		fmt.Sprintf("/withdrawal/%d", wid), fmt.Sprintf("/withdrawal/%d", rid), "/btc/tx/" + txid, "/btc/tx/" + w.PayoutTxid, "/token/hbtc"},
		map[string]string{"/deposit/" + mint: "minted", "/deposit/" + refund: "refunded", fmt.Sprintf("/withdrawal/%d", rid): "paid"})
}

func mustHash(t *testing.T, s string) chainhash.Hash {
	t.Helper()
	h, err := chainhash.NewHashFromStr(s)
	if err != nil {
		t.Fatal(err)
	}
	return *h
}

// browse visits pages in headless Chromium (explorer.Browser) with
// JavaScript on, at a phone's width (no page scrolls sideways), and with
// JavaScript off, where each page of states shows its state's word in
// #state or #status.
func browse(t *testing.T, base string, pages []string, states map[string]string) {
	t.Helper()
	ctx := explorer.Browser(t)
	step(t, ctx, chromedp.EmulateViewport(375, 740, chromedp.EmulateMobile))
	for _, p := range pages {
		step(t, ctx, chromedp.Navigate(base+p))
		if !step(t, ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`)) {
			t.Errorf("%s scrolls sideways at 375 px", p)
		}
	}
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	for _, p := range pages {
		step(t, ctx, chromedp.Navigate(base+p))
		if title := step(t, ctx, chromedp.Text(chromedp.CSS("h1"))); title == "" || strings.Contains(title, "Not found") {
			t.Errorf("%s without JavaScript: title %q", p, title)
		}
		if want, ok := states[p]; ok {
			if got := step(t, ctx, chromedp.Text(chromedp.CSS("#state, #status"))); !strings.Contains(got, want) {
				t.Errorf("%s without JavaScript: state %q, want %q", p, got, want)
			}
		}
	}
}

// step runs one browser action under a timeout.
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

// shots saves screenshots of the tunnel pages under dir (`make
// screenshots`).
func shots(t *testing.T, base, dir string, pages map[string]string) {
	t.Helper()
	ctx := explorer.Browser(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, path := range pages {
		step(t, ctx, chromedp.EmulateViewport(1280, 900))
		step(t, ctx, chromedp.Navigate(base+path))
		png := step(t, ctx, chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(dir, "explorer-"+name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
