package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/node"
)

func TestStatusURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8545":        "http://127.0.0.1:8545/status",
		"https://rpc.example/x?k=1":    "https://rpc.example/status",
		"ws://127.0.0.1:8546":          "http://127.0.0.1:8546/status",
		"wss://rpc.example:443/socket": "https://rpc.example:443/status",
	} {
		got, err := statusURL(in)
		if err != nil || got != want {
			t.Fatalf("statusURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"127.0.0.1:8545", "ftp://x", "", "http://"} {
		if got, err := statusURL(bad); err == nil {
			t.Fatalf("statusURL(%q) = %q: want an error", bad, got)
		}
	}
}

// TestRunStatus: `hemi status` prints the node's /status on one screen,
// says why a node is unhealthy, and refuses what is not a /status.
func TestRunStatus(t *testing.T) {
	st := node.Status{ChainID: 7431337, Role: "follower", Healthy: false, Problems: []string{"bitcoin: no peers"},
		Head:         node.BlockRef{Number: 120, Hash: common.HexToHash("0x01"), AgeSeconds: 3},
		Finalized:    &node.BlockRef{Number: 75, Hash: common.HexToHash("0x02")},
		Bitcoin:      node.BitcoinStatus{Network: "regtest", Tip: node.BitcoinRef{Height: 210}, Indexed: node.BitcoinRef{Height: 207}, Lag: 3},
		LastKeystone: &node.KeystoneStatus{Number: 100, Published: true, Confirmations: 4, Depth: 6},
		Peers:        []node.Peer{{ID: "12D3KooWpeer", Connected: true, Head: 120, Score: 10}},
		Raft:         &node.Raft{Role: "Follower", Leader: "seq-2", Members: 3, Applied: 120}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) { _ = json.NewEncoder(w).Encode(st) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	var out bytes.Buffer
	if err := runStatus(context.Background(), srv.URL, false, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"follower, chain 7431337, UNHEALTHY: bitcoin: no peers", "head        120 ",
		"safe        none", "finalized   75 ", "tip 210, indexed 207 (lag 3)", "keystone    100 ", "4/6 confirmations",
		"raft        Follower, leader seq-2, 3 members", "peers       1", "12D3KooWpeer"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := runStatus(context.Background(), srv.URL, true, &out); err != nil || !json.Valid(out.Bytes()) {
		t.Fatalf("--json: %v %q", err, out.String())
	}
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	if err := runStatus(context.Background(), notFound.URL, false, &out); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("a server without /status: %v, want HTTP 404 named", err)
	}
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>")) }))
	defer html.Close()
	if err := runStatus(context.Background(), html.URL, false, &out); err == nil || !strings.Contains(err.Error(), "not a hemi node") {
		t.Fatalf("an HTML answer: %v, want it refused", err)
	}
}
