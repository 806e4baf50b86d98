package signer

import (
	"crypto/ecdsa"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/hemi-go/hemi/internal/chain/genesis"
)

func TestParseKey(t *testing.T) {
	reg := &chaincfg.RegressionNetParams
	signers, _, err := genesis.DevTunnelKeys()
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range signers {
		k, err := ParseKey(genesis.DevMnemonic, s.Path, reg)
		if err != nil || !k.PubKey().IsEqual(s.Key.PubKey()) {
			t.Fatalf("dev signer %d along %s: %v", i, s.Path, err)
		}
	}
	wif, _ := btcutil.NewWIF(signers[0].Key, reg, true)
	if k, err := ParseKey(wif.String()+"\n", "", reg); err != nil || !k.PubKey().IsEqual(signers[0].Key.PubKey()) {
		t.Fatalf("WIF: %v", err)
	}
	for name, c := range map[string]struct{ secret, path string }{
		"empty":        {"", ""},
		"garbage":      {"hello", ""},
		"bad mnemonic": {"test test test", "m/0"},
		"no path":      {genesis.DevMnemonic, ""},
		"bad path":     {genesis.DevMnemonic, "m/x"},
		"mainnet WIF": {func() string {
			w, _ := btcutil.NewWIF(signers[0].Key, &chaincfg.MainNetParams, true)
			return w.String()
		}(), ""},
	} {
		if _, err := ParseKey(c.secret, c.path, reg); !errors.Is(err, ErrKey) {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

func TestLoadKeys(t *testing.T) {
	reg := &chaincfg.RegressionNetParams
	accts, err := genesis.DevAccounts(genesis.DevMnemonic, 2)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "l2.key")
	if err := os.WriteFile(file, []byte(genesis.DevMnemonic+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := LoadL2Key(file, "m/44'/60'/0'/0/1")
	if err != nil || crypto.PubkeyToAddress(k.PublicKey) != accts[1].Address {
		t.Fatalf("L2 key from a mnemonic file: %v", err)
	}
	t.Setenv(L2KeyEnv, "0x"+common32(k))
	if k2, err := LoadL2Key("", ""); err != nil || crypto.PubkeyToAddress(k2.PublicKey) != accts[1].Address {
		t.Fatalf("L2 key from hex in the environment: %v", err)
	}
	t.Setenv(L2KeyEnv, "")
	t.Setenv(KeyEnv, "")
	if _, err := LoadL2Key("", ""); !errors.Is(err, ErrKey) {
		t.Fatalf("no L2 key: %v", err)
	}
	if _, err := LoadKey("", "", reg); !errors.Is(err, ErrKey) {
		t.Fatalf("no key: %v", err)
	}
	if _, err := LoadKey(filepath.Join(t.TempDir(), "missing"), "", reg); !errors.Is(err, ErrKey) {
		t.Fatalf("missing file: %v", err)
	}
}

func common32(k *ecdsa.PrivateKey) string { return hex.EncodeToString(crypto.FromECDSA(k)) }
