package netp2p

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
)

// TestIdentity: the key is created on first start with mode 0600 and the
// same peer id comes back on the next; a corrupt file is an error naming
// it, and is left alone.
func TestIdentity(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", IdentityFile)
	k1, err := LoadIdentity(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("identity key mode %v, want 0600", fi.Mode().Perm())
	}
	k2, err := LoadIdentity(path)
	if err != nil {
		t.Fatal(err)
	}
	id1, _ := peer.IDFromPrivateKey(k1)
	id2, _ := peer.IDFromPrivateKey(k2)
	if id1 != id2 {
		t.Fatalf("peer id changed across loads: %s, %s", id1, id2)
	}
	if err := os.WriteFile(path, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadIdentity(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("corrupt key: %v, want an error naming %s", err, path)
	}
	if b, _ := os.ReadFile(path); string(b) != "not a key" {
		t.Fatal("the corrupt key file was replaced")
	}
}

// TestParseAddrs: listen and peer addresses must be TCP; a peer needs its
// /p2p/ id; errors name the entry.
func TestParseAddrs(t *testing.T) {
	const id = "12D3KooWGzBa3SdyQ4VTTy5xMqsNDPFyaCqBHYYxEWjsJdTn3TSE"
	if _, err := ParseListen([]string{"/ip4/127.0.0.1/tcp/0", "/ip6/::1/tcp/7350"}); err != nil {
		t.Fatal(err)
	}
	ps, err := ParsePeers([]string{"/ip4/10.0.0.2/tcp/7350/p2p/" + id, "/ip4/10.0.0.3/tcp/7350/p2p/" + id})
	if err != nil || len(ps) != 1 || len(ps[0].Addrs) != 2 {
		t.Fatalf("peers %v, %v: want one peer with two addresses", ps, err)
	}
	for _, c := range []struct {
		listen, peer string
		want         string
	}{
		{listen: "/ip4/127.0.0.1/udp/7350/quic-v1", want: "TCP"},
		{listen: "127.0.0.1:7350", want: "127.0.0.1:7350"},
		{listen: "/ip4/127.0.0.1/tcp/7350/ws", want: "ws"},
		{peer: "/ip4/10.0.0.2/tcp/7350", want: "/p2p/"},
		{peer: "/ip4/10.0.0.2/udp/7350/quic-v1/p2p/" + id, want: "TCP"},
		{peer: "10.0.0.2:7350", want: "10.0.0.2:7350"},
	} {
		var err error
		if c.listen != "" {
			_, err = ParseListen([]string{c.listen})
		} else {
			_, err = ParsePeers([]string{c.peer})
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q%q: %v, want an error mentioning %q", c.listen, c.peer, err, c.want)
		}
	}
}
