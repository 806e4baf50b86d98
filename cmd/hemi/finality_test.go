package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

func TestBlockParam(t *testing.T) {
	hash := "0x" + strings.Repeat("ab", 32)
	tests := []struct {
		arg     string
		want    string // JSON of the parameter
		wantErr bool
	}{
		{arg: "25", want: `"0x19"`},
		{arg: "0x19", want: `"0x19"`},
		{arg: "0", want: `"0x0"`},
		{arg: "latest", want: `"latest"`},
		{arg: "safe", want: `"safe"`},
		{arg: "finalized", want: `"finalized"`},
		{arg: hash, want: `{"blockHash":"` + hash + `"}`},
		{arg: "-1", wantErr: true},
		{arg: "0x", wantErr: true},
		{arg: "0xzz", wantErr: true},
		{arg: "0x" + strings.Repeat("zz", 32), wantErr: true},
		{arg: "twelve", wantErr: true},
		{arg: "99999999999999999999999", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.arg, func(t *testing.T) {
			p, err := blockParam(tc.arg)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("accepted: %v", p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(p)
			if string(got) != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// finalityServer answers hemi_getFinality with the node's JSON for a
// few blocks (the shape internal/rpc's tests check against the chain)
// and records the parameter it got.
type finalityServer struct {
	answers map[string]json.RawMessage
	got     []string
}

func (s *finalityServer) GetFinality(p json.RawMessage) json.RawMessage {
	s.got = append(s.got, string(p))
	if a, ok := s.answers[string(p)]; ok {
		return a
	}
	return json.RawMessage("null")
}

func TestRunFinality(t *testing.T) {
	published := `{"number":"0xa","hash":"0x01","keystoneNumber":"0x32","keystoneExists":true,` +
		`"keystoneId":"0xaabb","keystoneHash":"0x02","published":true,"publication":{"keystoneId":"0xccdd",` +
		`"btcTxid":"77","btcVout":"0x1","btcTxIndex":"0x2","btcBlockHash":"88","btcHeight":"0x6f"},` +
		`"confirmations":"0xa","superfinal":true,"superfinalDepth":"0xa"}`
	pending := `{"number":"0x37","hash":"0x03","keystoneNumber":"0x4b","keystoneExists":false,"keystoneId":null,` +
		`"keystoneHash":null,"published":false,"publication":null,"confirmations":"0x0","superfinal":false,"superfinalDepth":"0x6"}`
	fs := &finalityServer{answers: map[string]json.RawMessage{`"0xa"`: json.RawMessage(published), `"latest"`: json.RawMessage(pending)}}
	srv := gethrpc.NewServer()
	if err := srv.RegisterName("hemi", fs); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Stop()

	tests := []struct {
		name    string
		arg     string
		asJSON  bool
		want    []string
		wantErr string
	}{
		{name: "superfinal", arg: "10", want: []string{"block          10 0x01", "keystone       50 id 0xaabb block 0x02",
			"publication    keystone 0xccdd in Bitcoin tx 77:1", "bitcoin block  111 88", "confirmations  10 (superfinal at 10)", "status         superfinal"}},
		{name: "keystone not reached", arg: "latest", want: []string{"block          55 0x03", "keystone       75 (not reached yet)",
			"publication    none on Bitcoin yet", "confirmations  0 (superfinal at 6)", "status         unconfirmed"}},
		{name: "json", arg: "0xa", asJSON: true, want: []string{`"superfinal": true`, `"btcHeight": "0x6f"`}},
		{name: "unknown block", arg: "500", wantErr: "not found"},
		{name: "bad block", arg: "ten", wantErr: "want a number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := runFinality(context.Background(), hs.URL, tc.arg, tc.asJSON, &out)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Fatalf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
	if err := runFinality(context.Background(), "http://127.0.0.1:1", "1", false, &bytes.Buffer{}); err == nil ||
		!strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("unreachable node: %v", err)
	}
}
