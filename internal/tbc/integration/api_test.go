package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/hemi-go/hemi/internal/btc/btcdtest"
	"github.com/hemi-go/hemi/internal/tbc"
)

// checkAPIErrors sends bad and unanswerable requests to the node's API and
// checks the status codes and error bodies, then the status reply.
func checkAPIErrors(t *testing.T, n *node, s *snapshot) {
	t.Helper()
	var someTx, unspent string
	for txid := range s.txs {
		someTx = txid.String()
		break
	}
	for _, a := range s.addrs {
		if len(a.utxos) > 0 {
			unspent = a.utxos[0].op.Hash.String() + "/" + itoa32(a.utxos[0].op.Index)
			break
		}
	}
	if someTx == "" || unspent == "" {
		t.Fatal("snapshot has no transactions or no unspent outputs to ask about")
	}
	mainnet, err := address.NewAddressWitnessPubKeyHash(
		btcdtest.DefaultMiningAddress().WitnessProgram(), &chaincfg.MainNetParams)
	if err != nil {
		t.Fatal(err)
	}
	regtest := btcdtest.DefaultMiningAddress().EncodeAddress()
	zeros := strings.Repeat("0", 64)
	unknown := strings.Repeat("ab", 32)

	tests := []struct {
		name   string
		method string
		path   string
		body   string
		code   int
		errHas string // part of the error text, for non-2xx
	}{
		{"tx id not hex", http.MethodGet, "/v1/tx/xyz", "", 400, "64-digit hex"},
		{"unknown tx", http.MethodGet, "/v1/tx/" + zeros, "", 404, "not found"},
		{"asof not hex", http.MethodGet, "/v1/tx/" + someTx + "?asof=nope", "", 400, "asof"},
		{"asof unknown block", http.MethodGet, "/v1/tx/" + someTx + "?asof=" + unknown, "", 404, "unknown block"},
		{"address garbage", http.MethodGet, "/v1/address/notanaddress/balance", "", 400, "invalid address"},
		{"address of another network", http.MethodGet, "/v1/address/" + mainnet.EncodeAddress() + "/balance", "", 400, "invalid address"},
		{"script not hex", http.MethodGet, "/v1/address/script:zz/balance", "", 400, "hex output script"},
		{"utxos page size 0", http.MethodGet, "/v1/address/" + regtest + "/utxos?size=0", "", 400, "size"},
		{"header above the tip", http.MethodGet, "/v1/header/" + itoa32(uint32(s.height)+1), "", 404, "not found"},
		{"header negative", http.MethodGet, "/v1/header/-1", "", 400, "height"},
		{"header unknown hash", http.MethodGet, "/v1/header/" + unknown, "", 404, "unknown block"},
		{"spend of an unspent output", http.MethodGet, "/v1/spend/" + unspent, "", 404, "not found"},
		{"spend vout not a number", http.MethodGet, "/v1/spend/" + someTx + "/x", "", 400, "vout"},
		{"keystone id short", http.MethodGet, "/v1/publications/abcd", "", 400, "64 hex"},
		{"keystone never published", http.MethodGet, "/v1/publications/" + unknown, "", 200, ""},
		{"broadcast not hex", http.MethodPost, "/v1/tx", "zz", 400, "not a hex transaction"},
		{"broadcast not a tx", http.MethodPost, "/v1/tx", "00", 400, "not a valid transaction"},
	}
	for _, tc := range tests {
		t.Run("api "+tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, "http://"+n.apiAddr+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code {
				t.Fatalf("%s %s: status %d, want %d; body %s", tc.method, tc.path, resp.StatusCode, tc.code, body)
			}
			if tc.code/100 == 2 {
				return
			}
			var e struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil || !strings.Contains(e.Error, tc.errHas) {
				t.Errorf("%s %s: error body %s, want an error mentioning %q", tc.method, tc.path, body, tc.errHas)
			}
		})
	}

	st, err := n.api.Status(t.Context())
	if err != nil {
		t.Fatalf("GET /v1/status: %v", err)
	}
	want := tbc.Status{Network: params.Name, BlockHash: s.tip.String(), BlockHeight: s.height,
		HeaderHash: s.tip.String(), HeaderHeight: s.height, Peers: 1}
	if st.Network != want.Network || st.BlockHash != want.BlockHash || st.BlockHeight != want.BlockHeight ||
		st.HeaderHash != want.HeaderHash || st.HeaderHeight != want.HeaderHeight || st.Peers != want.Peers {
		t.Errorf("GET /v1/status = %+v, want %+v", st, want)
	}
}

func itoa32(v uint32) string { return strconv.FormatUint(uint64(v), 10) }
