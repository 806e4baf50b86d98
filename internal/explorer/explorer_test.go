package explorer

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/chain"
)

// reverter reverts with Error("boom") when called with data, else stops.
var reverter = func() []byte {
	code := []byte{0x36, 0x60, 0x06, 0x57, 0x00, 0x00, 0x5b} // CALLDATASIZE PUSH1 6 JUMPI STOP STOP JUMPDEST(6)
	code = append(code, 0x7f, 0x08, 0xc3, 0x79, 0xa0)
	code = append(code, make([]byte, 28)...)
	code = append(code, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x04, 0x52, 0x60, 0x04, 0x60, 0x24, 0x52, 0x7f, 'b', 'o', 'o', 'm')
	code = append(code, make([]byte, 28)...)
	return append(code, 0x60, 0x44, 0x52, 0x60, 0x64, 0x60, 0x00, 0xfd)
}()

func initCode(runtime []byte) []byte {
	return append([]byte{0x60, byte(len(runtime)), 0x80, 0x60, 0x0b, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3}, runtime...)
}

// TestPagesShowRPCValues: each page shows the values the node's
// JSON-RPC gives for the same block, transaction and address.
func TestPagesShowRPCValues(t *testing.T) {
	e := newEnv(t)
	a0, a1 := e.addr(0), e.addr(1)
	contract := crypto.CreateAddress(a0, 0)
	e.mine(e.send(0, 0, nil, 0, initCode(reverter), 300_000))
	var sent []common.Hash
	for n := uint64(1); n < 4; n++ {
		tx := e.send(0, n, &a1, int64(n)*1e15, nil, 21_000)
		sent = append(sent, tx.Hash())
		e.mine(tx)
	}
	bad := e.send(0, 4, &contract, 0, []byte{1}, 100_000)
	b5 := e.mine(bad)
	for range 25 {
		e.mine()
	}
	e.fin.safe, e.fin.final = 25, 0

	// Home: the head, the latest blocks, their badges, the keystones.
	var head hexutil.Uint64
	if err := e.rc.Call(&head, "eth_blockNumber"); err != nil {
		t.Fatal(err)
	}
	e.page("/", fmt.Sprintf(`id="head" class="big" href="/block/%d">%d<`, head, head), `badge pending`, `href="/block/25"`)

	// Block: hash, parent, gas used, transaction count, Bitcoin view.
	var blk map[string]any
	if err := e.rc.Call(&blk, "eth_getBlockByNumber", hexutil.EncodeUint64(b5.NumberU64()), false); err != nil {
		t.Fatal(err)
	}
	gasUsed, _ := hexutil.DecodeUint64(blk["gasUsed"].(string))
	for _, path := range []string{fmt.Sprintf("/block/%d", b5.NumberU64()), "/block/" + blk["hash"].(string), fmt.Sprintf("/block/0x%x", b5.NumberU64())} {
		e.page(path, blk["hash"].(string), blk["parentHash"].(string), fmt.Sprintf(`id="gasUsed">%d of`, gasUsed),
			fmt.Sprintf(`id="txCount">%d<`, len(blk["transactions"].([]any))), "Bitcoin view update", "badge safe", "Confirmations")
	}

	// Transaction: parties, value, status, fee.
	var tx map[string]any
	if err := e.rc.Call(&tx, "eth_getTransactionByHash", sent[1]); err != nil {
		t.Fatal(err)
	}
	var rc map[string]any
	if err := e.rc.Call(&rc, "eth_getTransactionReceipt", sent[1]); err != nil {
		t.Fatal(err)
	}
	price, _ := hexutil.DecodeBig(rc["effectiveGasPrice"].(string))
	used, _ := hexutil.DecodeUint64(rc["gasUsed"].(string))
	value, _ := hexutil.DecodeBig(tx["value"].(string))
	e.page("/tx/"+sent[1].Hex(), common.HexToAddress(tx["from"].(string)).Hex(), common.HexToAddress(tx["to"].(string)).Hex(),
		`id="status" class="success"`, fmt.Sprintf(`id="value">%s ETH`, formatEther(value)),
		fmt.Sprintf(`id="fee">%s ETH`, formatEther(new(big.Int).Mul(price, new(big.Int).SetUint64(used)))))

	// A failed transaction: its page links the trace, which names the revert.
	e.page("/tx/"+bad.Hash().Hex(), `id="status" class="failed"`, "/trace")
	e.page("/tx/"+bad.Hash().Hex()+"/trace", `id="revert">boom<`, "CALL")

	// Address: balance and nonce as eth_ gives them, history as ots_ gives it.
	var bal hexutil.Big
	if err := e.rc.Call(&bal, "eth_getBalance", a1, "latest"); err != nil {
		t.Fatal(err)
	}
	var hist struct {
		Txs []struct {
			Hash common.Hash `json:"hash"`
		} `json:"txs"`
	}
	if err := e.rc.Call(&hist, "ots_searchTransactionsBefore", a1, 0, 25); err != nil {
		t.Fatal(err)
	}
	want := []string{fmt.Sprintf(`id="balance">%s ETH`, formatEther(bal.ToInt())), `id="kind">account`, "this network has no tunnel"}
	for _, h := range hist.Txs {
		want = append(want, "/tx/"+h.Hash.Hex())
	}
	if len(hist.Txs) != 3 {
		t.Fatalf("ots history of a1: %d txs, want 3", len(hist.Txs))
	}
	e.page("/address/"+a1.Hex(), want...)
	e.page("/address/"+contract.Hex(), `id="kind">contract`)

	// CSV: one row per indexed transaction, newest first.
	code, body, hdr := e.get("/address/" + a1.Hex() + "/csv")
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s", code, hdr.Get("Content-Type"))
	}
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+len(hist.Txs) || recs[0][0] != "block" || recs[1][2] != hist.Txs[0].Hash.Hex() {
		t.Errorf("csv %q", recs)
	}

	// Every CSV row of the sender (a creation, transfers, a failed call)
	// says what eth_ says of its transaction.
	_, body, _ = e.get("/address/" + a0.Hex() + "/csv")
	if recs, err = csv.NewReader(strings.NewReader(body)).ReadAll(); err != nil || len(recs) != 1+5 {
		t.Fatalf("csv of a0: %v %q", err, recs)
	}
	for _, rec := range recs[1:] {
		var tx, rc, blk map[string]any
		if err := e.rc.Call(&tx, "eth_getTransactionByHash", rec[2]); err != nil {
			t.Fatal(err)
		}
		if err := e.rc.Call(&rc, "eth_getTransactionReceipt", rec[2]); err != nil {
			t.Fatal(err)
		}
		if err := e.rc.Call(&blk, "eth_getBlockByHash", tx["blockHash"], false); err != nil {
			t.Fatal(err)
		}
		to := ""
		if tx["to"] != nil {
			to = common.HexToAddress(tx["to"].(string)).Hex()
		}
		num, _ := hexutil.DecodeUint64(tx["blockNumber"].(string))
		pos, _ := hexutil.DecodeUint64(tx["transactionIndex"].(string))
		tm, _ := hexutil.DecodeUint64(blk["timestamp"].(string))
		value, _ := hexutil.DecodeBig(tx["value"].(string))
		st := map[string]string{"0x1": "success", "0x0": "failed"}[rc["status"].(string)]
		want := []string{strconv.FormatUint(num, 10), time.Unix(int64(tm), 0).UTC().Format(time.RFC3339), rec[2], strconv.FormatUint(pos, 10),
			"user", common.HexToAddress(tx["from"].(string)).Hex(), to, value.String(), st, "out"}
		if strings.Join(rec, ",") != strings.Join(want, ",") {
			t.Errorf("csv row %q, eth_ says %q", rec, want)
		}
	}

	e.page("/keystones", `href="/block/25"`, ">12</a>", "badge safe")
	e.page("/token/hbtc", `id="notunnel"`)
	e.page("/deposits", "no tunnel")

	// chain.json: the chain id eth_chainId gives, in ethereum-lists' shape.
	var cid hexutil.Big
	if err := e.rc.Call(&cid, "eth_chainId"); err != nil {
		t.Fatal(err)
	}
	code, body, _ = e.get("/chain.json")
	var doc struct {
		ChainID   uint64   `json:"chainId"`
		NetworkID uint64   `json:"networkId"`
		RPC       []string `json:"rpc"`
		Explorers []struct {
			Standard string `json:"standard"`
		} `json:"explorers"`
		NativeCurrency struct {
			Decimals int `json:"decimals"`
		} `json:"nativeCurrency"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil || code != 200 {
		t.Fatalf("chain.json %d %v: %s", code, err, body)
	}
	if doc.ChainID != cid.ToInt().Uint64() || doc.NetworkID != doc.ChainID || len(doc.RPC) != 1 || doc.RPC[0] != e.url ||
		len(doc.Explorers) != 1 || doc.Explorers[0].Standard != "EIP3091" || doc.NativeCurrency.Decimals != 18 {
		t.Errorf("chain.json %s", body)
	}
}

// TestBadInput: malformed or unknown numbers, hashes and addresses give
// a clear "not found" page (404), never a 500.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	e.mine()
	unknown := common.Hash{0xab}.Hex()
	for _, path := range []string{
		"/block/abc", "/block/99999", "/block/0x99999", "/block/0xzz", "/block/-1", "/block/99999999999999999999999999",
		"/block/" + unknown, "/block/0x1234",
		"/tx/0x1234", "/tx/" + unknown, "/tx/zz", "/tx/" + unknown + "/trace", "/tx/0x12/trace",
		"/address/0x1234", "/address/zz", "/address/0x1234/csv",
		"/token/0x12", "/token/zz",
		"/btc/block/xyz", "/btc/tx/12", "/btc/tx/" + strings.Repeat("g", 64),
		"/btc/block/" + strings.Repeat("ab", 32), "/btc/tx/" + strings.Repeat("ab", 32), "/btc/block/" + strings.Repeat("ab", 32) + "?page=-1",
		"/deposit/zz", "/deposit/" + strings.Repeat("ab", 32) + ":x", "/deposit/" + strings.Repeat("ab", 32) + ":0",
		"/withdrawal/abc", "/withdrawal/-1", "/withdrawal/1",
		"/search?q=garbage", "/search?q=" + unknown, "/search?q=%00%ff",
		"/explorer/keystone/12", "/explorer/keystone/" + unknown,
	} {
		code, body, _ := e.get(path)
		if code != http.StatusNotFound || !strings.Contains(body, `id="notfound"`) {
			t.Errorf("GET %s: %d, want the not-found page\n%s", path, code, body)
		}
	}
}

// TestSearch: the box sends each kind of input to its page.
func TestSearch(t *testing.T) {
	e := newEnv(t)
	a1 := e.addr(1)
	tx := e.send(0, 0, &a1, 1, nil, 21_000)
	b1 := e.mine(tx)
	for range 25 {
		e.mine()
	}
	k, err := e.chain.KeystoneAt(25)
	if err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]string{
		"1":                           "/block/1",
		tx.Hash().Hex():               "/tx/" + tx.Hash().Hex(),
		b1.Hash().Hex():               "/block/" + b1.Hash().Hex(),
		a1.Hex():                      "/address/" + a1.Hex(),
		strings.ToLower(a1.Hex()[2:]): "/address/" + a1.Hex(),
		hexutil.Encode(k.ID[:]):       "/block/25",
		strings.Repeat("ab", 32):      "/btc/tx/" + strings.Repeat("ab", 32),
		"":                            "/",
	} {
		code, _, hdr := e.get("/search?q=" + q)
		if code != http.StatusFound || hdr.Get("Location") != want {
			t.Errorf("search %q: %d to %q, want %q", q, code, hdr.Get("Location"), want)
		}
	}
}

// TestHomeWebsocket: the home page's path still serves JSON-RPC over
// WebSocket, to the page's own origin (the live updates) and to
// clients without an Origin.
func TestHomeWebsocket(t *testing.T) {
	e := newEnv(t)
	e.mine()
	ws := "ws" + strings.TrimPrefix(e.url, "http") + "/"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, origin := range []string{"", e.url} {
		c, err := gethrpc.DialWebsocket(ctx, ws, origin)
		if err != nil {
			t.Fatalf("origin %q: %v", origin, err)
		}
		heads := make(chan map[string]any, 4)
		sub, err := c.EthSubscribe(ctx, heads, "newHeads")
		if err != nil {
			t.Fatalf("origin %q: subscribe: %v", origin, err)
		}
		b := e.mine()
		select {
		case h := <-heads:
			if h["hash"] != b.Hash().Hex() {
				t.Errorf("origin %q: head %v, want %s", origin, h["hash"], b.Hash())
			}
		case <-ctx.Done():
			t.Fatalf("origin %q: no head", origin)
		}
		sub.Unsubscribe()
		c.Close()
	}
	if _, err := gethrpc.DialWebsocket(ctx, ws, "http://evil.example"); err == nil {
		t.Error("a foreign origin opened a WebSocket")
	}
}

// TestNoScriptNeeded: the pages carry their content in the HTML (the
// script only decorates): the home's blocks and a page's times are
// there without running anything, and the script is small.
func TestNoScriptNeeded(t *testing.T) {
	e := newEnv(t)
	b := e.mine()
	body := e.page("/", fmt.Sprintf(`href="/block/%d"`, b.NumberU64()), "UTC</time>")
	if strings.Contains(body, "<noscript") {
		t.Error("a page relies on noscript")
	}
	code, js, _ := e.get("/static/explorer.js")
	if code != 200 || len(js) > 8<<10 {
		t.Errorf("script: %d, %d bytes", code, len(js))
	}
	if !strings.Contains(html.UnescapeString(body), "Add to wallet") {
		t.Error("no wallet button")
	}
}

// TestBlockRowsFromIndex: a block's rows read from the address index's
// records are those read from the block, its receipts and its senders
// (a creation, transfers, a failed call, the system transactions).
func TestBlockRowsFromIndex(t *testing.T) {
	e := newEnv(t)
	a1 := e.addr(1)
	contract := crypto.CreateAddress(e.addr(0), 0)
	blocks := []*chain.Block{
		e.mine(e.send(0, 0, nil, 0, initCode(reverter), 300_000)),
		e.mine(e.send(0, 1, &a1, 1e15, nil, 21_000), e.send(0, 2, &contract, 0, []byte{1}, 100_000), e.send(1, 0, &contract, 5, nil, 100_000)),
	}
	withIndex, err := New(Config{Chain: e.chain, Index: e.ix})
	if err != nil {
		t.Fatal(err)
	}
	without, err := New(Config{Chain: e.chain})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		got, err := withIndex.blockRows(b, 0, b.Body.Len())
		if err != nil {
			t.Fatal(err)
		}
		want, err := without.blockRows(b, 0, b.Body.Len())
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("block %d from the index:\n%v\nfrom the block:\n%v", b.NumberU64(), got, want)
		}
		if part, _ := withIndex.blockRows(b, 1, b.Body.Len()); fmt.Sprint(part) != fmt.Sprint(want[1:]) {
			t.Errorf("block %d from position 1: %v", b.NumberU64(), part)
		}
	}
	if rows, _ := withIndex.blockRows(blocks[1], 0, blocks[1].Body.Len()); rows[len(rows)-2].Status != "failed" || rows[len(rows)-1].Status != "success" {
		t.Errorf("statuses %v", rows)
	}
}

// TestMemosFollowTheHead: the home and keystones pages, whose lists are
// kept per head, show a new keystone and new blocks once the head moves,
// and an address page, whose account is kept per head, its new balance
// and nonce.
func TestMemosFollowTheHead(t *testing.T) {
	e := newEnv(t)
	for range 26 {
		e.mine()
	}
	for range 2 {
		e.page("/keystones", `href="/block/25"`)
		e.page("/", `href="/block/26"`, `href="/block/25"`)
	}
	fresh := common.HexToAddress("0x00000000000000000000000000000000000f2e54")
	for range 2 {
		e.page("/address/"+fresh.Hex(), `<dd id="balance">0 ETH</dd>`)
		e.page("/address/"+e.addr(2).Hex(), `<dd id="nonce">0</dd>`)
	}
	e.mine(e.send(2, 0, &fresh, 1e15, nil, 21_000))
	e.page("/address/"+fresh.Hex(), `<dd id="balance">0.001 ETH</dd>`)
	e.page("/address/"+e.addr(2).Hex(), `<dd id="nonce">1</dd>`)
	if body := e.page("/keystones"); strings.Contains(body, `href="/block/50"`) {
		t.Fatal("keystone 50 before its block")
	}
	for range 24 {
		e.mine()
	}
	e.page("/keystones", `href="/block/50"`, `href="/block/25"`)
	e.page("/", `id="head" class="big" href="/block/51">51<`, `href="/block/50"`)
}

// muxMounter mounts the pages on a plain ServeMux.
type muxMounter struct{ *http.ServeMux }

func (m muxMounter) Mount(pattern string, h http.Handler) { m.Handle(pattern, h) }

// countingCaller counts the in-process RPC calls by method.
type countingCaller struct {
	Caller
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingCaller) CallContext(ctx context.Context, result any, method string, args ...any) error {
	c.mu.Lock()
	c.calls[method]++
	c.mu.Unlock()
	return c.Caller.CallContext(ctx, result, method, args...)
}

// TestAddressPageReadsState: the address page reads the hBTC balance
// from the state like the balance (hBTC's balanceOf slot), with no
// eth_call through the RPC (an EVM built per request, ~half of the
// page's work), and says when the network has no tunnel.
func TestAddressPageReadsState(t *testing.T) {
	e := newEnv(t)
	e.mine()
	inproc := gethrpc.DialInProc(e.srv.RPC())
	defer inproc.Close()
	cc := &countingCaller{Caller: inproc, calls: map[string]int{}}
	hbtc := common.HexToAddress("0x48656d6900000000000000000000000000000003")
	for _, c := range []struct {
		name string
		hbtc *common.Address
		want string
	}{{"tunnel", &hbtc, "<dd>0 hBTC</dd>"}, {"no tunnel", nil, "<dd>this network has no tunnel</dd>"}} {
		x, err := New(Config{Chain: e.chain, Index: e.ix, Caller: cc, HBTC: c.hbtc})
		if err != nil {
			t.Fatal(err)
		}
		mux := muxMounter{http.NewServeMux()}
		x.Mount(mux)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/address/"+e.addr(0).Hex(), nil))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), c.want) {
			t.Errorf("%s: %d, no %q in\n%s", c.name, rec.Code, c.want, rec.Body)
		}
	}
	if len(cc.calls) != 0 {
		t.Errorf("the address page called the RPC: %v", cc.calls)
	}
}
