package rpc

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// TestWebSocketTransport: the transport's own duties — origins as
// go-ethereum checks them, answers to calls, batches, invalid JSON and
// subscriptions on one connection, which stays usable throughout.
func TestWebSocketTransport(t *testing.T) {
	e := newEnv(t, Config{WSOrigins: []string{"https://app.example", "localhost"}})
	dial := func(origin string) (*websocket.Conn, error) {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		c, resp, err := websocket.DefaultDialer.Dial(e.ws, h)
		if resp != nil {
			resp.Body.Close()
		}
		return c, err
	}
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"", true}, {"https://app.example", true}, {"http://localhost:3000", true}, {"https://localhost", true},
		{"https://evil.example", false}, {"http://app.example", false},
	} {
		c, err := dial(tc.origin)
		if (err == nil) != tc.ok {
			t.Fatalf("origin %q: %v", tc.origin, err)
		}
		if c != nil {
			c.Close()
		}
	}

	c, err := dial("")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip := func(msg string) string {
		t.Helper()
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, ans, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		return string(ans)
	}
	for _, tc := range []struct{ name, msg, want string }{
		{"call", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`, `"result":"0x7164a9"`},
		{"invalid JSON", `{"jsonrpc":`, `"code":-32700`},
		{"unknown method", `{"jsonrpc":"2.0","id":2,"method":"admin_peers"}`, `"code":-32601`},
		{"batch", `[{"jsonrpc":"2.0","id":3,"method":"net_version"},{"jsonrpc":"2.0","id":4,"method":"eth_blockNumber"}]`, `"id":4`},
		{"subscribe", `{"jsonrpc":"2.0","id":5,"method":"eth_subscribe","params":["newHeads"]}`, `"id":5,"result":"0x`},
		{"subscription in a batch of calls", `[{"jsonrpc":"2.0","id":6,"method":"eth_subscribe","params":["newHeads"]},{"jsonrpc":"2.0","id":7,"method":"eth_chainId"}]`,
			`"notifications not supported"`},
	} {
		if got := roundTrip(tc.msg); !strings.Contains(got, tc.want) {
			t.Fatalf("%s: %s", tc.name, got)
		}
	}
	// The subscription is live: a new head is notified on it.
	e.mine()
	_, note, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	var n struct {
		Method string
		Params struct{ Result struct{ Number string } }
	}
	if err := json.Unmarshal(note, &n); err != nil || n.Method != "eth_subscription" || n.Params.Result.Number == "" {
		t.Fatalf("notification %s: %v", note, err)
	}
}

// TestOriginOwnHost: the node's own pages (the explorer) may open a
// WebSocket: an Origin equal to the request's Host, when that Host is an
// IP address or an allowed virtual host; another origin, or a rebinding
// name, is refused.
func TestOriginOwnHost(t *testing.T) {
	check := originChecker(nil, []string{"localhost"})
	for _, c := range []struct {
		name, host, origin string
		want               bool
	}{
		{"own IP page", "127.0.0.1:8545", "http://127.0.0.1:8545", true},
		{"own localhost page", "localhost:8545", "http://localhost:8545", true},
		{"another port", "127.0.0.1:8545", "http://127.0.0.1:9999", false},
		{"another site", "127.0.0.1:8545", "http://evil.example", false},
		{"rebinding name", "evil.example:8545", "http://evil.example:8545", false},
		{"no origin", "127.0.0.1:8545", "", true},
	} {
		r, _ := http.NewRequest(http.MethodGet, "http://"+c.host+"/", nil)
		r.Host = c.host
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		if got := check(r); got != c.want {
			t.Errorf("%s: allowed %v, want %v", c.name, got, c.want)
		}
	}
}
