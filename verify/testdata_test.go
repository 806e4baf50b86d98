package verify_test

import (
	"os"
	"path/filepath"
	"testing"
)

// devnetBundle is the devnet transfer bundle and its genesis file
// (written by internal/provenance's TestDevnetTransferBundle -update).
func devnetBundle(t testing.TB) ([]byte, []byte) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "devnet_transfer.json"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := os.ReadFile(filepath.Join("testdata", "devnet_genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b, g
}
