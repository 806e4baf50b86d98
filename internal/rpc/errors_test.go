package rpc

import (
	"bytes"
	"context"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/txpool"
)

// revertData is Error("boom") ABI-encoded, what testRuntime reverts with.
const revertData = "0x08c379a00000000000000000000000000000000000000000000000000000000000000020" +
	"0000000000000000000000000000000000000000000000000000000000000004626f6f6d00000000000000000000000000000000000000000000000000000000"

// TestCallErrors: reverts, bad parameters and failures get the codes and
// messages tools expect.
func TestCallErrors(t *testing.T) {
	e := newEnv(t, Config{APIs: withDebug})
	contract, deploy := e.deploy(0)
	e.mine(deploy)
	revertCall := map[string]any{"to": contract, "input": "0x01"}
	for _, tc := range []struct {
		name   string
		method string
		args   []any
		code   int
		msg    string // prefix
		data   string
	}{
		{"call revert", "eth_call", []any{revertCall, "latest"}, 3, "execution reverted: boom", revertData},
		{"estimate revert", "eth_estimateGas", []any{revertCall}, 3, "execution reverted: boom", revertData},
		{"trace call revert is a result", "", nil, 0, "", ""},
		{"bad tag", "eth_getBalance", []any{e.addr(0), "latestest"}, codeInvalidParams, "invalid argument 1", ""},
		{"bad address", "eth_getBalance", []any{"0x12", "latest"}, codeInvalidParams, "invalid argument 0", ""},
		{"bad slot", "eth_getStorageAt", []any{contract, "0xzz", "latest"}, codeInvalidParams, "invalid storage slot", ""},
		{"long slot", "eth_getStorageAt", []any{contract, "0x" + strings.Repeat("1", 65), "latest"}, codeInvalidParams, "invalid storage slot", ""},
		{"data and input differ", "eth_call", []any{map[string]any{"to": contract, "data": "0x01", "input": "0x02"}}, codeInvalidParams, `both "data" and "input"`, ""},
		{"gasPrice and 1559", "eth_call", []any{map[string]any{"to": contract, "gasPrice": "0x1", "maxFeePerGas": "0x1"}}, codeInvalidParams, "both gasPrice", ""},
		{"wrong call chain id", "eth_call", []any{map[string]any{"to": contract, "chainId": "0x1"}}, codeInvalidParams, "chainId does not match", ""},
		{"unknown block", "eth_call", []any{map[string]any{"to": contract}, "0x99"}, codeServer, "header not found", ""},
		{"unknown block hash", "eth_getCode", []any{contract, map[string]any{"blockHash": common.Hash{1}}}, codeServer, "header not found", ""},
		{"insufficient funds", "eth_call", []any{map[string]any{"from": common.Address{9}, "to": contract, "value": "0x1"}}, codeServer, "insufficient funds", ""},
		{"filter criteria", "eth_getLogs", []any{map[string]any{"blockHash": common.Hash{}, "fromBlock": "0x1"}}, codeInvalidParams, "invalid argument 0: cannot specify both", ""},
		{"range reversed", "eth_getLogs", []any{map[string]any{"fromBlock": "0x1", "toBlock": "0x0"}}, codeInvalidParams, "invalid block range", ""},
		{"fee history percentiles", "eth_feeHistory", []any{"0x1", "latest", []float64{50, 10}}, codeInvalidParams, "reward percentiles must be strictly increasing", ""},
		{"unknown tracer", "debug_traceTransaction", []any{deploy.Hash(), map[string]any{"tracer": "nope"}}, codeInvalidParams, `tracer "nope"`, ""},
		{"unknown filter", "eth_getFilterChanges", []any{"0x1234"}, codeServer, "filter not found", ""},
		{"no such method", "eth_foo", nil, -32601, "the method eth_foo does not exist", ""},
	} {
		if tc.method == "" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			var out any
			code, msg, data := rpcErr(t, e.rc.Call(&out, tc.method, tc.args...))
			if code != tc.code || !strings.HasPrefix(msg, tc.msg) {
				t.Fatalf("got %d %q, want %d %q", code, msg, tc.code, tc.msg)
			}
			if tc.data != "" && data != tc.data {
				t.Fatalf("data %v, want %s", data, tc.data)
			}
		})
	}
}

// TestSendRawTransaction: accepted transactions reach the pool; rejected
// ones carry go-ethereum's messages.
func TestSendRawTransaction(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	e.mineWait(e.transfer(1, 0, e.addr(2), 1))

	ok := e.transfer(0, 0, e.addr(2), 1)
	if err := e.ec.SendTransaction(ctx, ok); err != nil {
		t.Fatal(err)
	}
	if n, err := e.ec.PendingNonceAt(ctx, e.addr(0)); err != nil || n != 1 {
		t.Fatalf("pending nonce %d %v", n, err)
	}
	if n, err := e.ec.NonceAt(ctx, e.addr(0), nil); err != nil || n != 0 {
		t.Fatalf("latest nonce %d %v", n, err)
	}
	if tx, pending, err := e.ec.TransactionByHash(ctx, ok.Hash()); err != nil || !pending || tx.Hash() != ok.Hash() {
		t.Fatalf("pending tx %v %v", pending, err)
	}
	var status map[string]hexutil.Uint
	if err := e.rc.Call(&status, "txpool_status"); err != nil || status["pending"] != 1 || status["queued"] != 0 {
		t.Fatalf("status %v %v", status, err)
	}
	var content map[string]map[string]map[string]map[string]any
	if err := e.rc.Call(&content, "txpool_content"); err != nil || content["pending"][e.addr(0).Hex()]["0"]["hash"] != ok.Hash().Hex() {
		t.Fatalf("content %v %v", content, err)
	}

	otherChain, err := types.SignNewTx(e.key(0), types.LatestSignerForChainID(big.NewInt(1)), &types.DynamicFeeTx{ChainID: big.NewInt(1),
		Nonce: 1, GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(10 * params.GWei), Gas: params.TxGas, To: &common.Address{1}})
	if err != nil {
		t.Fatal(err)
	}
	cheapReplacement := e.sign(0, &types.DynamicFeeTx{ChainID: e.chainID(), Nonce: 0, GasTipCap: big.NewInt(params.GWei),
		GasFeeCap: big.NewInt(10 * params.GWei), Gas: params.TxGas, To: &common.Address{7}})
	tooRich := e.sign(5, &types.DynamicFeeTx{ChainID: e.chainID(), Nonce: 0, GasTipCap: big.NewInt(params.GWei),
		GasFeeCap: big.NewInt(10 * params.GWei), Gas: params.TxGas, To: &common.Address{1}, Value: new(big.Int).Mul(big.NewInt(20_000), big.NewInt(params.Ether))})
	lowGas := e.sign(4, &types.DynamicFeeTx{ChainID: e.chainID(), Nonce: 0, GasTipCap: big.NewInt(params.GWei),
		GasFeeCap: big.NewInt(10 * params.GWei), Gas: 20_000, To: &common.Address{1}})
	enc := func(tx *types.Transaction) hexutil.Bytes {
		b, err := tx.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	systemTx := append([]byte{0x7e}, enc(ok)[1:]...)
	for _, tc := range []struct {
		name string
		raw  hexutil.Bytes
		code int
		msg  string
	}{
		{"nonce too low", enc(e.transfer(1, 0, e.addr(2), 1)), codeServer, "nonce too low"},
		{"already known", enc(ok), codeServer, "already known"},
		{"replacement underpriced", enc(cheapReplacement), codeServer, "replacement transaction underpriced"},
		{"insufficient funds", enc(tooRich), codeServer, "insufficient funds for gas * price + value"},
		{"intrinsic gas", enc(lowGas), codeServer, "intrinsic gas too low"},
		{"wrong chain id", enc(otherChain), codeServer, "invalid chain id for signer"},
		{"system type", systemTx, codeInvalidParams, "transaction type 0x7e (system)"},
		{"blob type", hexutil.Bytes{0x03, 0xc0}, codeInvalidParams, "blob transactions (type 0x3) are not supported"},
		{"garbage", hexutil.Bytes{0xf8, 0x01}, codeInvalidParams, "invalid transaction encoding"},
		{"empty", hexutil.Bytes{}, codeInvalidParams, "empty transaction"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h common.Hash
			code, msg, _ := rpcErr(t, e.rc.Call(&h, "eth_sendRawTransaction", tc.raw))
			if code != tc.code || !strings.HasPrefix(msg, tc.msg) {
				t.Fatalf("got %d %q, want %d %q", code, msg, tc.code, tc.msg)
			}
		})
	}
}

// TestLimits: batch item limit, request body limit, vhosts and CORS.
func TestLimits(t *testing.T) {
	e := newEnv(t, Config{BatchItemLimit: 3, MaxRequestSize: 1024, CORSOrigins: []string{"https://app.example"}})
	batch := make([]gethrpc.BatchElem, 4)
	for i := range batch {
		batch[i] = gethrpc.BatchElem{Method: "eth_blockNumber", Result: new(hexutil.Uint64)}
	}
	err := e.rc.BatchCall(batch)
	if err == nil {
		for _, b := range batch {
			if b.Error == nil {
				t.Fatal("batch over the limit answered")
			}
		}
	} else if !strings.Contains(err.Error(), "batch too large") {
		t.Fatalf("batch error %v", err)
	}
	if err := e.rc.BatchCall(batch[:3]); err != nil || batch[0].Error != nil {
		t.Fatalf("batch within limit: %v %v", err, batch[0].Error)
	}

	post := func(body string, hdr map[string]string) *http.Response {
		req, err := http.NewRequest(http.MethodPost, e.url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		if h, ok := hdr["Host"]; ok {
			req.Host = h
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	call := `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`
	if r := post(fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"web3_sha3","params":["0x%s"]}`, strings.Repeat("00", 2048)), nil); r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized request: %d", r.StatusCode)
	}
	if r := post(call, map[string]string{"Host": "evil.example"}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign host: %d", r.StatusCode)
	}
	if r := post(call, map[string]string{"Host": "localhost:8545"}); r.StatusCode != http.StatusOK {
		t.Fatalf("localhost: %d", r.StatusCode)
	}
	if r := post(call, map[string]string{"Origin": "https://app.example"}); r.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("cors header %q", r.Header.Get("Access-Control-Allow-Origin"))
	}
	if r := post(call, map[string]string{"Origin": "https://other.example"}); r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("cors for a foreign origin")
	}
	req, _ := http.NewRequest(http.MethodOptions, e.url, bytes.NewReader(nil))
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Methods") == "" {
		t.Fatalf("preflight %d %v", resp.StatusCode, resp.Header)
	}
}

// TestConfig: bad configs are refused.
func TestConfig(t *testing.T) {
	for _, tc := range []Config{{ListenAddr: "nope"}, {MaxRequestSize: -1}, {BatchItemLimit: -5}} {
		if _, err := tc.withDefaults(); err == nil {
			t.Errorf("config %+v accepted", tc)
		}
	}
	if _, err := New(Config{}, nil, nil); err == nil {
		t.Error("nil chain accepted")
	}
}

// TestNoPool: a node without a pool refuses transactions clearly and
// shows an empty pool.
func TestNoPool(t *testing.T) {
	e := newEnv(t, Config{})
	var nilPool *txpool.Pool
	srv, err := New(Config{Logger: e.srv.log}, e.chain, nilPool)
	if err != nil {
		t.Fatal(err)
	}
	c := gethrpc.DialInProc(srv.RPC())
	defer c.Close()
	raw, _ := e.transfer(0, 0, e.addr(1), 1).MarshalBinary()
	var h common.Hash
	if _, msg, _ := rpcErr(t, c.Call(&h, "eth_sendRawTransaction", hexutil.Bytes(raw))); msg != ErrNoPool.Error() {
		t.Fatal(msg)
	}
	var n hexutil.Uint64
	if err := c.Call(&n, "eth_getTransactionCount", e.addr(0), "pending"); err != nil || n != 0 {
		t.Fatal(n, err)
	}
	var status map[string]hexutil.Uint
	if err := c.Call(&status, "txpool_status"); err != nil || status["pending"] != 0 {
		t.Fatal(status, err)
	}
}
