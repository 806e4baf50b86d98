package rpc

import (
	"context"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// loopCode is the 4-byte endless loop JUMPDEST PUSH1 0 JUMP: it runs
// until its gas is spent.
const loopCode = "0x5b600056"

// loopAddr is where the tests install loopCode by a state override.
var loopAddr = common.HexToAddress("0x000000000000000000000000000000000000100f")

// loopOverride installs loopCode at loopAddr.
var loopOverride = map[string]any{loopAddr.Hex(): map[string]any{"code": loopCode}}

// rawAnswer is one JSON-RPC answer as it came over the wire.
type rawAnswer struct {
	ID     json.RawMessage
	Result json.RawMessage
	Error  *struct {
		Code    int
		Message string
	}
}

// postRaw posts body and returns the status and the raw answer.
func postRaw(t *testing.T, url, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// TestTraceCallLoop is the outside test's trace: debug_traceCall of the
// 4-byte loop under the default struct logger with the caller asking for
// a 60 s timeout. The tracer is stopped at the output limit, the answer
// is a small clear error, not the trace. The server's trace timeout is
// set far away so that only the output limit can stop it (TestTraceTimeoutCap
// tests the timeout); the limit is lowered to keep the test light.
func TestTraceCallLoop(t *testing.T) {
	e := newEnv(t, Config{APIs: withDebug, GasCap: 5_000_000, TraceTimeout: time.Hour, TraceMaxBytes: 2_000_000})
	body := `{"jsonrpc":"2.0","id":7,"method":"debug_traceCall","params":[{"to":"` + loopAddr.Hex() + `"},"latest",` +
		`{"timeout":"60s","stateOverrides":{"` + loopAddr.Hex() + `":{"code":"` + loopCode + `"}}}]}`
	status, raw := postRaw(t, e.url, body)
	var ans rawAnswer
	if err := json.Unmarshal(raw, &ans); err != nil || status != http.StatusOK {
		t.Fatalf("status %d, %d bytes: %v", status, len(raw), err)
	}
	if ans.Error == nil || ans.Error.Code != codeResponseTooLarge || !strings.Contains(ans.Error.Message, "trace too large") ||
		!strings.Contains(ans.Error.Message, "rpc.trace_max_bytes") {
		t.Fatalf("answer (%d bytes): %.300s", len(raw), raw)
	}
	if len(raw) > 1024 {
		t.Fatalf("answer of %d bytes", len(raw))
	}
	if n := testutil.ToFloat64(e.srv.metrics.traceLimits); n != 1 {
		t.Fatalf("tracer stopped by the limit %v times, want 1", n)
	}

	// Every tracer kind is bounded: callTracer on a loop of calls with
	// a 64 KiB input, under a small limit.
	callLoop := "0x5b" + // JUMPDEST
		"6000" + "6000" + "62010000" + "6000" + "6000" + "611234" + "5a" + "f1" + // CALL(gas, 0x1234, 0, 0, 64 KiB, 0, 0)
		"50" + "6000" + "56" // POP, JUMP 0
	small := newEnv(t, Config{APIs: withDebug, TraceMaxBytes: 1 << 20})
	var res json.RawMessage
	err := small.rc.Call(&res, "debug_traceCall", map[string]any{"to": loopAddr}, "latest", map[string]any{
		"tracer": "callTracer", "stateOverrides": map[string]any{loopAddr.Hex(): map[string]any{"code": callLoop}}})
	if code, msg, _ := rpcErr(t, err); code != codeResponseTooLarge || !strings.Contains(msg, "trace too large") {
		t.Fatalf("callTracer: %d %s", code, msg)
	}
	// Within the limit a trace is answered as before.
	if err := small.rc.Call(&res, "debug_traceCall", map[string]any{"to": loopAddr, "gas": "0x5270"}, "latest", map[string]any{
		"stateOverrides": loopOverride}); err != nil || !strings.Contains(string(res), `"structLogs"`) {
		t.Fatalf("small trace: %v %.200s", err, res)
	}
}

// TestTraceTimeoutCap: a caller's timeout is taken up to the server's
// limit (TraceTimeout, also the default), never above.
func TestTraceTimeoutCap(t *testing.T) {
	e := newEnv(t, Config{TraceTimeout: 2 * time.Second})
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		name    string
		timeout *string
		want    time.Duration
		bad     bool
	}{
		{"default", nil, 2 * time.Second, false},
		{"less", str("300ms"), 300 * time.Millisecond, false},
		{"more is capped", str("60s"), 2 * time.Second, false},
		{"invalid", str("soon"), 0, true},
		{"negative", str("-1s"), 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, got, err := e.srv.newTracer(&traceConfig{Timeout: tc.timeout}, nil, newTraceBudget(1<<20))
			if tc.bad {
				if code, _, _ := rpcErr(t, err); code != codeInvalidParams {
					t.Fatalf("code %d", code)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("timeout %v (%v), want %v", got, err, tc.want)
			}
		})
	}
}

// TestAPIs: debug is served only where listed; unknown names are
// refused.
func TestAPIs(t *testing.T) {
	e := newEnv(t, Config{})
	var res json.RawMessage
	err := e.rc.Call(&res, "debug_traceCall", map[string]any{"to": loopAddr}, "latest")
	if code, msg, _ := rpcErr(t, err); code != codeUnsupported || !strings.Contains(msg, "debug_traceCall does not exist") {
		t.Fatalf("debug by default: %d %s", code, msg)
	}
	if err := e.rc.Call(&res, "eth_chainId"); err != nil {
		t.Fatal(err)
	}
	d := newEnv(t, Config{APIs: []string{"eth", "debug"}})
	if err := d.rc.Call(&res, "debug_traceCall", map[string]any{"to": loopAddr, "gas": "0x5270"}, "latest",
		map[string]any{"tracer": "callTracer"}); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := rpcErr(t, d.rc.Call(&res, "web3_clientVersion")); code != codeUnsupported {
		t.Fatalf("web3 not listed: code %d", code)
	}
	if _, err := (Config{APIs: []string{"eth", "admin"}}).withDefaults(); err == nil || !strings.Contains(err.Error(), `unknown api "admin"`) {
		t.Fatalf("unknown api: %v", err)
	}
}

// loopCalls is a batch of n eth_calls of the endless loop.
func loopCalls(n int) []gethrpc.BatchElem {
	batch := make([]gethrpc.BatchElem, n)
	for i := range batch {
		batch[i] = gethrpc.BatchElem{Method: "eth_call", Args: []any{map[string]any{"to": loopAddr}, "latest", loopOverride},
			Result: new(hexutil.Bytes)}
	}
	return batch
}

// TestRequestDeadline: a batch of endless eth_calls, over HTTP and
// WebSocket, ends at the request deadline with go-ethereum's "request
// timed out" for every call; the running EVM is cancelled and no other
// call of the batch starts. The EVM's own timeout is far away, so only
// the request deadline can end it.
func TestRequestDeadline(t *testing.T) {
	e := newEnv(t, Config{RequestTimeout: 300 * time.Millisecond, EVMTimeout: time.Hour, GasCap: 1 << 62})
	ws, err := gethrpc.Dial(e.ws)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for i, tc := range []struct {
		name string
		c    *gethrpc.Client
	}{{"http", e.rc}, {"ws", ws}} {
		t.Run(tc.name, func(t *testing.T) {
			batch := loopCalls(20)
			if err := tc.c.BatchCallContext(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			for j, b := range batch {
				if code, msg, _ := rpcErr(t, b.Error); code != -32002 || msg != "request timed out" {
					t.Fatalf("call %d: %d %s", j, code, msg)
				}
			}
			// One EVM ran, and was cancelled; the 19 others never started.
			waitFor(t, "the EVM cancelled", func() bool { return testutil.ToFloat64(e.srv.metrics.evmCancelled) >= float64(i+1) })
			var single hexutil.Bytes
			err := tc.c.Call(&single, "eth_call", map[string]any{"to": loopAddr}, "latest", loopOverride)
			if code, msg, _ := rpcErr(t, err); code != -32002 || msg != "request timed out" {
				t.Fatalf("single call: %d %s", code, msg)
			}
			waitFor(t, "the EVM cancelled", func() bool { return testutil.ToFloat64(e.srv.metrics.evmCancelled) == float64(2*(i+1)) })
			if n := testutil.ToFloat64(e.srv.metrics.evmTimeouts); n != 0 {
				t.Fatalf("%v EVM timeouts", n)
			}
		})
	}
	if n := testutil.ToFloat64(e.srv.metrics.evmCancelled); n != 4 {
		t.Fatalf("%v EVMs cancelled, want 4 (one per request)", n)
	}
	// Requests within the deadline are unaffected, over both transports.
	var id hexutil.Big
	if err := ws.Call(&id, "eth_chainId"); err != nil || id.ToInt().Cmp(e.chainID()) != 0 {
		t.Fatal(id, err)
	}
}

// bigReturn returns 64 KiB of zeros: RETURN(0, 0x10000).
const bigReturn = "0x6201000060" + "00f3"

// TestResponseMaxSize: a single answer over the limit is replaced by
// "response too large", over HTTP and WebSocket, in a batch too.
func TestResponseMaxSize(t *testing.T) {
	e := newEnv(t, Config{ResponseMaxSize: 10_000})
	ov := map[string]any{loopAddr.Hex(): map[string]any{"code": bigReturn}}
	call := []any{map[string]any{"to": loopAddr}, "latest", ov}
	params, _ := json.Marshal(call)
	status, raw := postRaw(t, e.url, `{"jsonrpc":"2.0","id":"big","method":"eth_call","params":`+string(params)+`}`)
	var ans rawAnswer
	if err := json.Unmarshal(raw, &ans); err != nil || status != http.StatusOK || string(ans.ID) != `"big"` || ans.Error == nil ||
		ans.Error.Code != codeResponseTooLarge || !strings.Contains(ans.Error.Message, "response too large") {
		t.Fatalf("status %d answer %.300s", status, raw)
	}
	status, raw = postRaw(t, e.url, `[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},`+
		`{"jsonrpc":"2.0","id":2,"method":"eth_call","params":`+string(params)+`}]`)
	var answers []rawAnswer
	if err := json.Unmarshal(raw, &answers); err != nil || len(answers) != 2 {
		t.Fatalf("batch: %v %.300s", err, raw)
	}
	for _, a := range answers {
		if a.Error == nil || a.Error.Code != codeResponseTooLarge {
			t.Fatalf("batch answer %s: %+v", a.ID, a.Error)
		}
	}
	ws, err := gethrpc.Dial(e.ws)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	var out hexutil.Bytes
	if code, msg, _ := rpcErr(t, ws.Call(&out, "eth_call", call...)); code != codeResponseTooLarge || !strings.Contains(msg, "response too large") {
		t.Fatalf("ws: %d %s", code, msg)
	}
	// A small answer passes.
	if err := e.rc.Call(&out, "eth_call", map[string]any{"to": loopAddr}, "latest",
		map[string]any{loopAddr.Hex(): map[string]any{"code": "0x6020" + "6000f3"}}); err != nil || len(out) != 32 {
		t.Fatal(out, err)
	}
}

// TestEmptyBody: an empty POST gets a JSON-RPC parse error, not an
// empty 200.
func TestEmptyBody(t *testing.T) {
	e := newEnv(t, Config{})
	for _, body := range []string{"", " \n"} {
		status, raw := postRaw(t, e.url, body)
		var ans rawAnswer
		if err := json.Unmarshal(raw, &ans); err != nil || status != http.StatusOK || ans.Error == nil ||
			ans.Error.Code != codeParseError || string(ans.ID) != "null" {
			t.Fatalf("body %q: status %d answer %q", body, status, raw)
		}
	}
}

// TestFilterLimits: filters are capped per client and in all; a
// pending-transaction filter keeps only the newest hashes.
func TestFilterLimits(t *testing.T) {
	e := newEnv(t, Config{FiltersMax: 5, FiltersPerClient: 3, FilterMaxHashes: 4})
	var ids []gethrpc.ID
	install := func(c *gethrpc.Client) error {
		var id gethrpc.ID
		err := c.Call(&id, "eth_newPendingTransactionFilter")
		if err == nil {
			ids = append(ids, id)
		}
		return err
	}
	for range 3 {
		if err := install(e.rc); err != nil {
			t.Fatal(err)
		}
	}
	if code, msg, _ := rpcErr(t, install(e.rc)); code != codeLimit || !strings.Contains(msg, "too many filters for this client") {
		t.Fatalf("4th filter of a client: %d %s", code, msg)
	}
	ws, err := gethrpc.Dial(e.ws) // another client
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for range 2 {
		if err := install(ws); err != nil {
			t.Fatal(err)
		}
	}
	if code, msg, _ := rpcErr(t, install(ws)); code != codeLimit || !strings.Contains(msg, "too many filters installed") {
		t.Fatalf("6th filter: %d %s", code, msg)
	}
	var ok bool
	if err := e.rc.Call(&ok, "eth_uninstallFilter", ids[0]); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if err := install(e.rc); err != nil {
		t.Fatalf("after an uninstall: %v", err)
	}

	var txs []*types.Transaction
	for i := range 6 {
		txs = append(txs, e.sign(0, &types.LegacyTx{Nonce: uint64(i), GasPrice: big.NewInt(1), Gas: 21000, To: &loopAddr}))
	}
	e.srv.filters.addPending(txs[:2])
	e.srv.filters.addPending(txs[2:])
	var got []common.Hash
	if err := e.rc.Call(&got, "eth_getFilterChanges", ids[1]); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0] != txs[2].Hash() || got[3] != txs[5].Hash() {
		t.Fatalf("buffered %d hashes, want the newest 4", len(got))
	}
}

// TestSubscriptionLimit: a WebSocket connection holds at most
// SubscriptionsPerConn subscriptions; another connection has its own;
// an unsubscribe frees a slot.
func TestSubscriptionLimit(t *testing.T) {
	e := newEnv(t, Config{SubscriptionsPerConn: 3})
	ctx := context.Background()
	dial := func() *gethrpc.Client {
		c, err := gethrpc.Dial(e.ws)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	c := dial()
	var subs []*gethrpc.ClientSubscription
	for i := range 3 {
		kind := []string{"newHeads", "newPendingTransactions", "logs"}[i]
		args := []any{kind}
		if kind == "logs" {
			args = append(args, map[string]any{})
		}
		sub, err := c.EthSubscribe(ctx, make(chan json.RawMessage, 1), args...)
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, sub)
	}
	_, err := c.EthSubscribe(ctx, make(chan json.RawMessage, 1), "newHeads")
	if code, msg, _ := rpcErr(t, err); code != codeLimit || !strings.Contains(msg, "too many subscriptions on this connection") {
		t.Fatalf("4th subscription: %d %s", code, msg)
	}
	other := dial()
	if sub, err := other.EthSubscribe(ctx, make(chan json.RawMessage, 1), "newHeads"); err != nil {
		t.Fatalf("another connection: %v", err)
	} else {
		defer sub.Unsubscribe()
	}
	subs[0].Unsubscribe()
	waitFor(t, "a slot freed", func() bool {
		sub, err := c.EthSubscribe(ctx, make(chan json.RawMessage, 1), "newHeads")
		if err == nil {
			sub.Unsubscribe()
		}
		return err == nil
	})
}
