package tbc

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/indextest"
	"github.com/hemi-go/hemi/internal/btc/p2p"
	"github.com/hemi-go/hemi/internal/btc/txgen"
)

// apiFixture is an index holding a small valid regtest chain — 105 blocks
// mined to one P2WPKH key and a block spending its first coinbase to a P2TR
// key — served by the API without a network.
type apiFixture struct {
	ix      *index.Index
	client  *Client
	key     *txgen.Key
	spend   *wire.MsgTx
	blocks  []*wire.MsgBlock
	addrWPK string
	addrTR  string
}

func newAPIFixture(t testing.TB) *apiFixture {
	t.Helper()
	params := &chaincfg.RegressionNetParams
	ix := indextest.Open(t, params, "")
	key := txgen.DeriveKey([]byte("tbc api test"), 0)
	payTo, _ := key.PkScript(txgen.P2WPKH)
	ch := txgen.NewChain(params)
	f := &apiFixture{ix: ix, key: key}
	for i := 0; i < 105; i++ {
		b, err := ch.NextBlock(txgen.BlockSpec{PayTo: payTo})
		if err != nil {
			t.Fatal(err)
		}
		f.blocks = append(f.blocks, b)
	}
	cb := f.blocks[0].Transactions[0]
	trScript, _ := key.PkScript(txgen.P2TR)
	sp := txgen.Spend{
		Inputs:  []txgen.UTXO{{OutPoint: wire.OutPoint{Hash: cb.TxHash(), Index: 0}, Value: cb.TxOut[0].Value, Key: key, Kind: txgen.P2WPKH}},
		Outputs: []*wire.TxOut{{Value: 1_0000_0000, PkScript: trScript}},
		Change:  payTo,
		FeeRate: 2,
	}
	tx, fee, _, err := sp.Build()
	if err != nil {
		t.Fatal(err)
	}
	if err := txgen.Sign(tx, sp.Inputs); err != nil {
		t.Fatal(err)
	}
	b, err := ch.NextBlock(txgen.BlockSpec{PayTo: payTo, Txs: []*wire.MsgTx{tx}, Fees: fee})
	if err != nil {
		t.Fatal(err)
	}
	f.blocks = append(f.blocks, b)
	f.spend = tx
	indextest.Feed(t, ix, f.blocks)

	client, err := p2p.New(p2p.Config{Params: params, Peers: []string{"127.0.0.1:1"}}, ix)
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{cfg: Config{Params: params}, log: slog.New(slog.DiscardHandler), ix: ix, client: client,
		fees: index.NewFeeEstimator(ix, 0, 0)}
	srv := httptest.NewServer(newAPIServer(s).mux)
	t.Cleanup(srv.Close)
	f.client = NewClient(srv.URL)
	wpk, _ := key.Address(txgen.P2WPKH, params)
	tr, _ := key.Address(txgen.P2TR, params)
	f.addrWPK, f.addrTR = wpk.String(), tr.String()
	return f
}

func TestAPIAnswers(t *testing.T) {
	f := newAPIFixture(t)
	ctx := context.Background()
	tip := int32(len(f.blocks))

	st, err := f.client.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.BlockHeight != tip || st.HeaderHeight != tip || st.Network != "regtest" {
		t.Fatalf("status %+v", st)
	}

	txid := f.spend.TxHash()
	tx, err := f.client.Tx(ctx, txid.String(), "")
	if err != nil {
		t.Fatal(err)
	}
	if tx.Height != tip || tx.Position != 1 || tx.Confirmations != 1 || tx.BlockHash != f.blocks[tip-1].BlockHash().String() {
		t.Fatalf("tx %+v", tx)
	}
	// As of an earlier block the spend does not exist yet.
	if _, err := f.client.Tx(ctx, txid.String(), f.blocks[tip-2].BlockHash().String()); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("tx as of the block before: err = %v", err)
	}

	bal, err := f.client.Balance(ctx, f.addrTR, "")
	if err != nil {
		t.Fatal(err)
	}
	if bal.Satoshis != 1_0000_0000 {
		t.Fatalf("taproot balance %d", bal.Satoshis)
	}
	scriptBal, err := f.client.Balance(ctx, "script:"+bal.Script, "")
	if err != nil || scriptBal.Satoshis != bal.Satoshis {
		t.Fatalf("balance by script = %+v, %v", scriptBal, err)
	}
	want, err := f.ix.Balance(mustScript(t, f.ix, f.addrWPK), chainhash.Hash{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.client.Balance(ctx, f.addrWPK, "")
	if err != nil || got.Satoshis != want {
		t.Fatalf("p2wpkh balance %+v (err %v), index says %d", got, err, want)
	}

	us, err := f.client.UTXOs(ctx, f.addrTR, "", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(us.UTXOs) != 1 || us.UTXOs[0].Txid != txid.String() || us.UTXOs[0].Vout != 0 {
		t.Fatalf("utxos %+v", us)
	}

	sp, err := f.client.Spend(ctx, f.blocks[0].Transactions[0].TxHash().String(), 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if sp.Txid != txid.String() || sp.Input != 0 || sp.Height != tip {
		t.Fatalf("spend %+v", sp)
	}

	for _, id := range []string{"50", f.blocks[49].BlockHash().String()} {
		h, err := f.client.Header(ctx, id, "")
		if err != nil {
			t.Fatal(err)
		}
		if h.Height != 50 || h.Hash != f.blocks[49].BlockHash().String() || !h.MainChain {
			t.Fatalf("header %s: %+v", id, h)
		}
	}

	for _, id := range []string{strings.Repeat("ab", 32), "0x" + strings.Repeat("ab", 32)} {
		pubs, err := f.client.Publications(ctx, id, "")
		if err != nil || len(pubs) != 0 {
			t.Fatalf("publications of an unknown keystone %s: %v, %v", id, pubs, err)
		}
	}
}

func mustScript(t *testing.T, ix *index.Index, addr string) []byte {
	t.Helper()
	s, err := ix.AddressScript(addr)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAPIErrors(t *testing.T) {
	f := newAPIFixture(t)
	base := f.client.base
	unknown := strings.Repeat("11", 32)
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		code   int
		text   string
	}{
		{"short txid", "GET", "/v1/tx/abcd", "", 400, "64-digit hex"},
		{"unknown txid", "GET", "/v1/tx/" + unknown, "", 404, "not found"},
		{"bad asof", "GET", "/v1/tx/" + unknown + "?asof=zz", "", 400, "asof"},
		{"unknown asof", "GET", "/v1/address/" + f.addrTR + "/balance?asof=" + unknown, "", 404, "unknown block"},
		{"mainnet address", "GET", "/v1/address/bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq/balance", "", 400, "invalid address"},
		{"garbage address", "GET", "/v1/address/hello/utxos", "", 400, "invalid address"},
		{"bad script", "GET", "/v1/address/script:xyz/balance", "", 400, "hex output script"},
		{"page", "GET", "/v1/address/" + f.addrTR + "/utxos?page=-1", "", 400, "page"},
		{"size", "GET", "/v1/address/" + f.addrTR + "/utxos?size=100000", "", 400, "size"},
		{"header word", "GET", "/v1/header/tip", "", 400, "neither a height"},
		{"header too high", "GET", "/v1/header/100000", "", 404, ""},
		{"vout", "GET", "/v1/spend/" + unknown + "/x", "", 400, "vout"},
		{"unspent", "GET", "/v1/spend/" + unknown + "/0", "", 404, "not found"},
		{"keystone id", "GET", "/v1/publications/1234", "", 400, "keystone id"},
		{"broadcast not hex", "POST", "/v1/tx", "nothex", 400, "not a hex transaction"},
		{"broadcast not a tx", "POST", "/v1/tx", "0102", 400, "not a valid transaction"},
		{"broadcast too big", "POST", "/v1/tx", strings.Repeat("00", maxTxBody), 400, "larger than"},
		{"unknown route", "GET", "/v1/nothing", "", 404, `no such endpoint: \"GET\" \"/v1/nothing\"`},
		{"root", "GET", "/", "", 404, "no such endpoint"},
		{"route without its value", "GET", "/v1/tx/", "", 404, "no such endpoint"},
		{"wrong method", "POST", "/v1/status", "", 405, "allowed: GET"},
		{"wrong method on tx", "PUT", "/v1/tx", "00", 405, "allowed: POST"},
		{"long txid cut", "GET", "/v1/tx/" + strings.Repeat("a", 512<<10), "", 400, `txid \"` + strings.Repeat("a", maxEcho) + `\"…`},
		{"long address cut", "GET", "/v1/address/" + strings.Repeat("b", 100_000) + "/balance", "", 400, "longer than any regtest address"},
		{"long header id cut", "GET", "/v1/header/" + strings.Repeat("9", 100_000), "", 400, "neither a height"},
		{"long keystone id cut", "GET", "/v1/publications/" + strings.Repeat("c", 100_000), "", 400, "keystone id"},
		{"long script cut", "GET", "/v1/address/script:" + strings.Repeat("z", 100_000) + "/utxos", "", 400, "hex output script"},
		{"long query cut", "GET", "/v1/address/" + f.addrTR + "/utxos?page=" + strings.Repeat("1", 100_000), "", 400, "page="},
		{"long unknown route cut", "DELETE", "/" + strings.Repeat("d", 100_000), "", 404, "no such endpoint"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.code || !strings.Contains(string(body), tc.text) {
				t.Fatalf("%s %.80s: %d %.300s, want %d containing %q", tc.method, tc.path, resp.StatusCode, body, tc.code, tc.text)
			}
			checkErrorReply(t, resp, body)
		})
	}
	// The typed client surfaces the server's message.
	_, err := f.client.Tx(context.Background(), "abcd", "")
	if !errors.Is(err, ErrAPI) || !strings.Contains(err.Error(), "64-digit hex") {
		t.Fatalf("client error = %v", err)
	}
	// An unknown route is a JSON 404 the client reads as not found, with
	// the server's message rather than the bare status.
	var st Status
	err = f.client.do(context.Background(), http.MethodGet, "/v1/nothing", nil, nil, &st)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "no such endpoint") {
		t.Fatalf("client error for an unknown route = %v", err)
	}
}

// checkErrorReply checks that an error reply is the API's JSON error shape
// (the one Client parses) and repeats at most a short part of the input.
func checkErrorReply(t *testing.T, resp *http.Response, body []byte) {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error reply Content-Type %q, want application/json", ct)
	}
	var e apiError
	if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
		t.Fatalf("error reply %.200q is not {\"error\": ...}: %v", body, err)
	}
	if len(e.Error) > maxErrorText+len("…") {
		t.Fatalf("error reply of %d bytes", len(e.Error))
	}
	if resp.StatusCode == http.StatusMethodNotAllowed && resp.Header.Get("Allow") == "" {
		t.Fatal("405 without Allow")
	}
}

// FuzzAPIPaths sends arbitrary path values and queries to every read
// endpoint: the API must answer each with a JSON reply and never a 500,
// since the index holds only valid data.
func FuzzAPIPaths(f *testing.F) {
	f.Add("tx", strings.Repeat("ab", 32), "asof=")
	f.Add("address", "bcrt1qxyz", "page=1&size=2")
	f.Add("header", "-1", "")
	f.Add("nothing", "x", "")
	f.Add("tx", strings.Repeat("é", 100), "")
	f.Add("spend", "00/4294967296", "")
	f.Add("publications", hex.EncodeToString(make([]byte, 32)), "asof="+strings.Repeat("0", 64))
	fix := newAPIFixture(f)
	f.Fuzz(func(t *testing.T, kind, value, query string) {
		var path string
		switch kind {
		case "address":
			path = "/v1/address/" + url.PathEscape(value) + "/utxos"
		case "spend":
			path = "/v1/spend/" + value
		default:
			path = "/v1/" + url.PathEscape(kind) + "/" + url.PathEscape(value)
		}
		resp, err := http.Get(fix.client.base + path + "?" + query)
		if err != nil {
			return // not a valid URL: rejected before it reaches the server
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode >= 500 {
			t.Fatalf("GET %s?%s: %d", path, query, resp.StatusCode)
		}
		// net/http itself answers a request it cannot parse (a space in
		// the query, headers too large) in plain text before any handler.
		early := bytes.HasPrefix(body, []byte("400 Bad Request")) || resp.StatusCode == http.StatusRequestHeaderFieldsTooLarge
		if resp.StatusCode >= 400 && !early {
			checkErrorReply(t, resp, body)
		}
	})
}
