package rpc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
)

// TestSendBatchMatchesGeth sends the same requests to two identical
// chains: through the server (where a batch of only
// eth_sendRawTransaction calls takes the one-Add fast path) and straight
// to go-ethereum's server. The answers (status, results, error codes,
// messages, ids) and the pools after each request must be equal, and
// the fast path must have served exactly the batches it claims.
func TestSendBatchMatchesGeth(t *testing.T) {
	cfg := Config{BatchItemLimit: 8, MaxRequestSize: 8 * 1024}
	fast, geth := newEnv(t, cfg), newEnv(t, cfg)
	// Both chains are the same genesis: the same keys sign the same
	// transactions with the same hashes on both.
	raw := func(tx *types.Transaction) string {
		b, err := tx.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return hexutil.Encode(b)
	}
	e := fast
	otherChain, err := types.SignNewTx(e.key(3), types.LatestSignerForChainID(big.NewInt(1)), &types.DynamicFeeTx{ChainID: big.NewInt(1),
		Nonce: 0, GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(10 * params.GWei), Gas: params.TxGas, To: &common.Address{1}})
	if err != nil {
		t.Fatal(err)
	}
	tooRich := e.sign(5, &types.DynamicFeeTx{ChainID: e.chainID(), Nonce: 0, GasTipCap: big.NewInt(params.GWei),
		GasFeeCap: big.NewInt(10 * params.GWei), Gas: params.TxGas, To: &common.Address{1}, Value: new(big.Int).Mul(big.NewInt(20_000), big.NewInt(params.Ether))})
	lowGas := e.sign(4, &types.DynamicFeeTx{ChainID: e.chainID(), Nonce: 0, GasTipCap: big.NewInt(params.GWei),
		GasFeeCap: big.NewInt(10 * params.GWei), Gas: 20_000, To: &common.Address{1}})
	cheapReplacement := e.sign(0, &types.DynamicFeeTx{ChainID: e.chainID(), Nonce: 0, GasTipCap: big.NewInt(params.GWei),
		GasFeeCap: big.NewInt(10 * params.GWei), Gas: params.TxGas, To: &common.Address{7}})
	badSig := e.transfer(6, 0, e.addr(2), 1)
	v, r, s := badSig.RawSignatureValues()
	badSig, err = badSig.WithSignature(e.signer, append(append(common.LeftPadBytes(new(big.Int).Add(r, big.NewInt(1)).Bytes(), 32),
		common.LeftPadBytes(s.Bytes(), 32)...), byte(v.Uint64())))
	if err != nil {
		t.Fatal(err)
	}
	call := func(id string, params ...string) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":"eth_sendRawTransaction","params":[%s]}`, id, strings.Join(params, ","))
	}
	q := func(s string) string { return `"` + s + `"` }
	batch := func(calls ...string) string { return "[" + strings.Join(calls, ",") + "]" }
	big := make([]string, 9)
	for i := range big {
		big[i] = call(fmt.Sprint(i), q(raw(e.transfer(7, uint64(i), e.addr(2), 1))))
	}
	for _, tc := range []struct {
		name  string
		body  string
		ctype string
		fast  bool // served by the fast path
	}{
		{"valid, out of nonce order", batch(
			call("1", q(raw(e.transfer(0, 1, e.addr(2), 1)))),
			call("2", q(raw(e.transfer(0, 0, e.addr(2), 1)))),
			call(`"two"`, q(raw(e.transfer(1, 0, e.addr(2), 1)))),
		), "", true},
		{"every rejection", batch(
			call("1", q(raw(e.transfer(0, 0, e.addr(2), 1)))), // already known
			call("2", q(raw(cheapReplacement))),
			call("3", q(raw(otherChain))),
			call("4", q(raw(tooRich))),
			call("5", q(raw(lowGas))),
			call("6", q("0x7e"+raw(e.transfer(0, 2, e.addr(2), 1))[4:])),
			call("7", q("0x03c0")),
			call("8", q("0xf801")),
		), "", true},
		{"empty input, bad signature, a gap, the same tx twice, odd ids", batch(
			call("1e3", q("0x")),
			call(`"<a&b>"`, q(raw(badSig))),
			call(`-7`, q(raw(e.transfer(2, 5, e.addr(2), 1)))),
			call(`"x"`, q(raw(e.transfer(2, 0, e.addr(2), 1)))),
			call(`"y"`, q(raw(e.transfer(2, 0, e.addr(2), 1)))),
		), "", true},
		{"a single call in a batch", batch(call("9", q(raw(e.transfer(0, 2, e.addr(2), 1))))), "application/json; charset=utf-8", true},
		{"another method in the batch", batch(
			call("1", q(raw(e.transfer(0, 3, e.addr(2), 1)))),
			`{"jsonrpc":"2.0","id":2,"method":"eth_blockNumber","params":[]}`,
		), "", false},
		{"a notification", batch(
			call("1", q(raw(e.transfer(0, 4, e.addr(2), 1)))),
			`{"jsonrpc":"2.0","method":"eth_sendRawTransaction","params":["`+raw(e.transfer(0, 5, e.addr(2), 1))+`"]}`,
		), "", false},
		{"null id", batch(call("null", q(raw(e.transfer(0, 6, e.addr(2), 1))))), "", false},
		{"bad hex", batch(call("1", q("0xzz")), call("2", q(raw(e.transfer(0, 7, e.addr(2), 1))))), "", false},
		{"no 0x prefix", batch(call("1", q(raw(e.transfer(0, 8, e.addr(2), 1))[2:]))), "", false},
		{"two params", batch(call("1", q(raw(e.transfer(0, 9, e.addr(2), 1))), "true")), "", false},
		{"no params", batch(call("1")), "", false},
		{"version 1.0", strings.Replace(batch(call("1", q(raw(e.transfer(0, 10, e.addr(2), 1))))), "2.0", "1.0", 1), "", false},
		{"object id", batch(call(`{"a":1}`, q(raw(e.transfer(0, 11, e.addr(2), 1))))), "", false},
		{"over the item limit", batch(big...), "", false},
		{"empty batch", "[]", "", false},
		{"not a batch", call("1", q(raw(e.transfer(0, 12, e.addr(2), 1)))), "", false},
		{"broken json", batch(call("1", q(raw(e.transfer(0, 13, e.addr(2), 1))))) + "]", "", false},
		{"over the size limit", batch(call("1", q(raw(e.transfer(0, 14, e.addr(2), 1))+strings.Repeat("00", 4096)))), "", false},
		{"text content type", batch(call("1", q(raw(e.transfer(0, 15, e.addr(2), 1))))), "text/plain", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctype := tc.ctype
			if ctype == "" {
				ctype = "application/json"
			}
			before := fast.srv.fastBatches.Load()
			resp, err := http.Post(fast.url, ctype, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if served := fast.srv.fastBatches.Load() - before; served != map[bool]uint64{true: 1}[tc.fast] {
				t.Fatalf("fast path served %d batches, want fast=%v", served, tc.fast)
			}
			req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader([]byte(tc.body)))
			req.Header.Set("Content-Type", ctype)
			rec := httptest.NewRecorder()
			geth.srv.RPC().ServeHTTP(rec, req)
			if resp.StatusCode != rec.Code {
				t.Fatalf("status %d, go-ethereum %d (%s)", resp.StatusCode, rec.Code, rec.Body)
			}
			if !sameJSON(got, rec.Body.Bytes()) {
				t.Fatalf("answer\n%s\ngo-ethereum\n%s", got, rec.Body)
			}
			if err := fast.pool.Sync(); err != nil {
				t.Fatal(err)
			}
			if err := geth.pool.Sync(); err != nil {
				t.Fatal(err)
			}
			fp, fq := fast.pool.Content()
			gp, gq := geth.pool.Content()
			if !samePool(fp, gp) || !samePool(fq, gq) {
				t.Fatalf("pools differ: pending %d/%d senders, queued %d/%d", len(fp), len(gp), len(fq), len(gq))
			}
		})
	}
	if p, _ := fast.pool.Stats(); p == 0 {
		t.Fatal("nothing was accepted")
	}
}

// sameJSON reports whether a and b are equal JSON documents (or equal
// bytes when either is not JSON, as go-ethereum's plain-text HTTP errors).
func sameJSON(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(va, vb)
}

func samePool(a, b map[common.Address][]*types.Transaction) bool {
	if len(a) != len(b) {
		return false
	}
	for addr, txs := range a {
		other := b[addr]
		if len(other) != len(txs) {
			return false
		}
		for i := range txs {
			if txs[i].Hash() != other[i].Hash() {
				return false
			}
		}
	}
	return true
}

// FuzzParseSendBatch: any body parses without panicking, and a batch the
// fast path accepts re-encodes (ids and inputs) to a batch that parses to
// the same calls.
func FuzzParseSendBatch(f *testing.F) {
	f.Add([]byte(`[{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x02f86c"]}]`))
	f.Add([]byte(`[{"jsonrpc":"2.0","id":"a<b>","method":"eth_sendRawTransaction","params":["0x"]},{"jsonrpc":"2.0","id":2,"method":"eth_sendRawTransaction","params":["0x00"]}]`))
	f.Add([]byte(`[{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}]`))
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x01"]}`))
	f.Add([]byte(` [ {"jsonrpc":"2.0","id":1e2,"method":"eth_sendRawTransaction","params":["0xzz"]}]`))
	s := &Server{cfg: Config{BatchItemLimit: DefaultBatchItemLimit, BatchResponseMaxSize: DefaultBatchResponseMaxSize}}
	f.Fuzz(func(t *testing.T, body []byte) {
		calls, ok := s.parseSendBatch(body)
		if !ok {
			return
		}
		var b strings.Builder
		b.WriteString("[")
		for i, c := range calls {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"jsonrpc":"2.0","id":%s,"method":"eth_sendRawTransaction","params":["%s"]}`, c.id, hexutil.Encode(c.input))
		}
		b.WriteString("]")
		again, ok := s.parseSendBatch([]byte(b.String()))
		if !ok || len(again) != len(calls) {
			t.Fatalf("re-encoded batch %s does not parse back (%v, %d calls)", b.String(), ok, len(again))
		}
		for i := range calls {
			if !bytes.Equal(again[i].id, calls[i].id) || !bytes.Equal(again[i].input, calls[i].input) {
				t.Fatalf("call %d: id %s input %x, back %s %x", i, calls[i].id, calls[i].input, again[i].id, again[i].input)
			}
		}
	})
}
