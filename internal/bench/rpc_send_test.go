package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// TestSendBatchPost: an encoded batch is the JSON-RPC batch of its
// transactions (ids by position), and post accepts only an answer that
// gives every call its transaction's hash.
func TestSendBatchPost(t *testing.T) {
	txs := []signedTx{
		{raw: hexutil.Bytes{0x02, 0x01}, hash: common.Hash{1}},
		{raw: hexutil.Bytes{0x02, 0x02}, hash: common.Hash{2}},
		{raw: hexutil.Bytes{0x02, 0x03}, hash: common.Hash{3}},
	}
	b := encodeBatch(txs, []int{2, 0})
	var calls []struct {
		Version string   `json:"jsonrpc"`
		ID      int      `json:"id"`
		Method  string   `json:"method"`
		Params  []string `json:"params"`
	}
	if err := json.Unmarshal(b.body, &calls); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || calls[0].ID != 0 || calls[1].ID != 1 || calls[0].Params[0] != "0x0203" || calls[1].Params[0] != "0x0201" ||
		calls[0].Method != "eth_sendRawTransaction" || calls[0].Version != "2.0" {
		t.Fatalf("encoded %s", b.body)
	}
	ok := func(id int, h common.Hash) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"result":"%s"}`, id, h)
	}
	for _, tc := range []struct {
		name   string
		status int
		answer string
		ok     bool
	}{
		{"in order", 200, "[" + ok(0, txs[2].hash) + "," + ok(1, txs[0].hash) + "]", true},
		{"out of order", 200, "[" + ok(1, txs[0].hash) + "," + ok(0, txs[2].hash) + "]", true},
		{"wrong hash", 200, "[" + ok(0, txs[2].hash) + "," + ok(1, txs[1].hash) + "]", false},
		{"an error", 200, "[" + ok(0, txs[2].hash) + `,{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"nonce too low"}}]`, false},
		{"an answer missing", 200, "[" + ok(0, txs[2].hash) + "]", false},
		{"an id twice", 200, "[" + ok(0, txs[2].hash) + "," + ok(0, txs[2].hash) + "]", false},
		{"an id out of range", 200, "[" + ok(0, txs[2].hash) + "," + ok(2, txs[0].hash) + "]", false},
		{"no result", 200, "[" + ok(0, txs[2].hash) + `,{"jsonrpc":"2.0","id":1}]`, false},
		{"not a batch", 200, `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"empty batch"}}`, false},
		{"HTTP error", 413, "too large", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if string(body) != string(b.body) || r.Header.Get("Content-Type") != "application/json" {
					http.Error(w, "unexpected request", http.StatusBadRequest)
					return
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.answer)
			}))
			defer srv.Close()
			err := b.post(context.Background(), srv.Client(), srv.URL, txs)
			if tc.ok && err != nil {
				t.Fatalf("post: %v", err)
			}
			if !tc.ok && !errors.Is(err, errSendBatch) {
				t.Fatalf("post: %v, want errSendBatch", err)
			}
			if err != nil && strings.Contains(err.Error(), "unexpected request") {
				t.Fatal(err)
			}
		})
	}
}
