package node

import (
	"net"
	"testing"

	"github.com/hemi-go/hemi/internal/ha"
	"github.com/hemi-go/hemi/internal/rpc"
)

// TestMemberRPCURL: the JSON-RPC URL a group member announces when
// ha.rpc_url is not set.
func TestMemberRPCURL(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, tc := range []struct {
		name   string
		listen string
		ln     net.Listener
		hc     ha.Config
		want   string
	}{
		{"concrete rpc listen", "10.0.0.1:8545", nil, ha.Config{Bind: "10.0.0.1:7350"}, "http://10.0.0.1:8545"},
		{"test listener", "", ln, ha.Config{Bind: "127.0.0.1:7350"}, "http://" + ln.Addr().String()},
		{"unspecified: advertise's host", "0.0.0.0:8545", nil, ha.Config{Bind: "0.0.0.0:7350", Advertise: "10.0.0.2:7350"}, "http://10.0.0.2:8545"},
		{"unspecified: listen's host", ":8545", nil, ha.Config{Bind: "10.0.0.3:7350"}, "http://10.0.0.3:8545"},
		{"ipv6 unspecified", "[::]:8545", nil, ha.Config{Bind: "[fd00::1]:7350"}, "http://[fd00::1]:8545"},
		{"hostname kept", "seq-a.lan:8545", nil, ha.Config{Bind: "10.0.0.1:7350"}, "http://seq-a.lan:8545"},
		{"unspecified everywhere", "0.0.0.0:8545", nil, ha.Config{Bind: "0.0.0.0:7350"}, ""},
		{"rpc off", "", nil, ha.Config{Bind: "10.0.0.1:7350"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := memberRPCURL(Config{RPC: rpc.Config{ListenAddr: tc.listen}, RPCListener: tc.ln}, tc.hc)
			if got != tc.want {
				t.Fatalf("memberRPCURL = %q, want %q", got, tc.want)
			}
		})
	}
}
