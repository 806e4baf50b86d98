package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/config"
)

// TestHAConfig: the [ha] section reaches the group member's config
// (peers parsed, the token read from its file, the timings); no
// ha.listen is no group; a bad peer or an empty token file is an error
// naming the key.
func TestHAConfig(t *testing.T) {
	c := config.Default().HA
	if hc, err := haConfig(c); hc != nil || err != nil {
		t.Fatalf("no ha.listen: %+v, %v; want no group", hc, err)
	}
	tf := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tf, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	id := common.HexToAddress("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
	c.Listen, c.AdminTokenFile = "10.0.0.1:7350", tf
	c.Peers = []string{id.Hex() + "@10.0.0.1:7350"}
	hc, err := haConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	if hc.Bind != c.Listen || hc.AdminToken != "s3cret" || len(hc.Peers) != 1 || hc.Peers[0].ID != id ||
		hc.Peers[0].Address != "10.0.0.1:7350" || hc.Timings.Heartbeat != 200*time.Millisecond || hc.MaxBitcoinLag != 1 {
		t.Fatalf("ha config %+v: want the section's values", hc)
	}
	c.Peers = []string{"10.0.0.1:7350"}
	if _, err := haConfig(c); err == nil || !strings.Contains(err.Error(), "ha.peers") {
		t.Fatalf("bad peer: %v, want an ha.peers error", err)
	}
	c.Peers = nil
	if err := os.WriteFile(tf, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := haConfig(c); err == nil || !strings.Contains(err.Error(), "ha.admin_token_file") {
		t.Fatalf("empty token: %v, want an ha.admin_token_file error", err)
	}
}
