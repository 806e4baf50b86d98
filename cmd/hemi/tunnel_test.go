package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTunnelVault: `hemi tunnel vault` prints the devnet's vault (the
// golden vector of internal/tunnel) without --genesis, the same vault
// for a genesis file with the dev tunnel, and a clear error for a
// genesis without a tunnel.
func TestTunnelVault(t *testing.T) {
	const (
		addr = "bcrt1pw2gujeare5r3rmd5xtaxqymnyuqcdxsr939pmqlmjt3lcc4l2u9svk9ae8"
		sum  = "#gymd9g8v"
	)
	out, err := runOut(t, "tunnel", "vault")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{addr, sum, "importdescriptors", "sortedmulti_a(2,67428cfe", "OP_CHECKSEQUENCEVERIFY", "2 of 3 signers", "devnet"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	withTunnel := filepath.Join("..", "..", "internal", "chain", "genesis", "testdata", "genesis_v1_tunnel.json")
	out, err = runOut(t, "tunnel", "vault", "--genesis", withTunnel)
	if err != nil || !strings.Contains(out, addr) || !strings.Contains(out, "genesis hash 0x") {
		t.Fatalf("with the dev tunnel's genesis: %v\n%s", err, out)
	}
	plain := filepath.Join("..", "..", "internal", "chain", "genesis", "testdata", "genesis_v1.json")
	if _, err := runOut(t, "tunnel", "vault", "--genesis", plain); err == nil || !strings.Contains(err.Error(), "no tunnel") {
		t.Fatalf("genesis without a tunnel: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "g.json")
	data, err := os.ReadFile(withTunnel)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(strings.Replace(string(data), `"k": 2`, `"k": 5`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := runOut(t, "tunnel", "vault", "--genesis", bad); err == nil || !strings.Contains(err.Error(), "tunnel.k") {
		t.Fatalf("k 5 of 3: %v", err)
	}
}
