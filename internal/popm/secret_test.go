package popm

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"
)

func TestLoadWallet(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "key")
	if err := os.WriteFile(good, []byte(bipMnemonic+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("not a secret at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, env string
		wantAddr        string
		wantErr         error
	}{
		{"file", good, "", "tb1q6rz28mcfaxtmd6v789l9rrlrusdprr9pqcpvkl", nil},
		{"env", "", bipRootXprv, "", ErrSecret}, // a mainnet xprv on testnet
		{"file wins over env", good, "garbage", "tb1q6rz28mcfaxtmd6v789l9rrlrusdprr9pqcpvkl", nil},
		{"neither", "", "", "", ErrSecret},
		{"bad file content", bad, "", "", ErrSecret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(KeyEnv, tc.env)
			// The BIP-84 vector's first testnet address (m/84'/1'/0'/0/0).
			w, err := LoadWallet(tc.path, P2WPKH, &chaincfg.TestNet3Params)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := w.Address().EncodeAddress(); got != tc.wantAddr {
				t.Fatalf("address %s, want %s", got, tc.wantAddr)
			}
		})
	}
	if _, err := LoadWallet(filepath.Join(dir, "missing"), P2WPKH, &chaincfg.RegressionNetParams); err == nil {
		t.Fatal("missing file accepted")
	}
}
