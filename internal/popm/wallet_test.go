package popm

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/mempool"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/pop"
)

// The BIP-84 and BIP-86 test vectors (both BIPs use this mnemonic).
const (
	bipMnemonic = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
	bipRootXprv = "xprv9s21ZrQH143K3GJpoapnV8SFfukcVBSfeCficPSGfubmSFDxo1kuHnLisriDvSnRRuL2Qrg5ggqHKNVpxR86QEC8w35uxmGoggxtQTPvfUu"
)

func TestParseSecretVectors(t *testing.T) {
	main := &chaincfg.MainNetParams
	tests := []struct {
		name, secret string
		kind         Kind
		params       *chaincfg.Params
		addr         string
		src          SecretKind
	}{
		{"bip84 mnemonic m/84'/0'/0'/0/0", bipMnemonic, P2WPKH, main, "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", SecretMnemonic},
		{"bip84 root xprv", bipRootXprv, P2WPKH, main, "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", SecretXprv},
		{"bip84 WIF of m/84'/0'/0'/0/0", "KyZpNDKnfs94vbrwhJneDi77V6jF64PWPF8x5cdJb8ifgg2DUc9d", P2WPKH, main, "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", SecretWIF},
		{"bip84 testnet m/84'/1'/0'/0/0", bipMnemonic, P2WPKH, &chaincfg.TestNet3Params, "tb1q6rz28mcfaxtmd6v789l9rrlrusdprr9pqcpvkl", SecretMnemonic},
		{"bip86 mnemonic m/86'/0'/0'/0/0", bipMnemonic, P2TR, main, "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr", SecretMnemonic},
		{"bip86 root xprv", bipRootXprv, P2TR, main, "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr", SecretXprv},
		{"mnemonic with extra spaces and capitals", "  Abandon abandon abandon abandon abandon abandon\nabandon abandon abandon abandon abandon ABOUT ", P2WPKH, main, "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", SecretMnemonic},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err := ParseSecret(tc.secret, tc.kind, tc.params)
			if err != nil {
				t.Fatal(err)
			}
			if got := w.Address().EncodeAddress(); got != tc.addr {
				t.Fatalf("address %s, want %s", got, tc.addr)
			}
			if src, _ := w.Source(); src != tc.src {
				t.Fatalf("source %s, want %s", src, tc.src)
			}
		})
	}
}

// TestBIP84PubKey checks the key itself, not just the address hash.
func TestBIP84PubKey(t *testing.T) {
	w, err := ParseSecret(bipMnemonic, P2WPKH, &chaincfg.MainNetParams)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(w.pub.SerializeCompressed()); got != "0330d54fd0dd420a6e5f8d3624f5f3482cae350f79d5f0753bf5beef9c2d91af3c" {
		t.Fatalf("pubkey %s", got)
	}
	if _, path := w.Source(); path != "m/84'/0'/0'/0/0" {
		t.Fatalf("path %s", path)
	}
}

func TestParseSecretErrors(t *testing.T) {
	main, reg := &chaincfg.MainNetParams, &chaincfg.RegressionNetParams
	k, _ := btcec.NewPrivateKey()
	uncompressed, _ := btcutil.NewWIF(k, main, false)
	tests := []struct {
		name, secret string
		params       *chaincfg.Params
	}{
		{"empty", "   ", main},
		{"bad checksum mnemonic", strings.Repeat("abandon ", 12), main},
		{"not words", "correct horse battery staple", main},
		{"garbage", "0xdeadbeef", main},
		{"mainnet xprv on regtest", bipRootXprv, reg},
		{"mainnet WIF on regtest", "KyZpNDKnfs94vbrwhJneDi77V6jF64PWPF8x5cdJb8ifgg2DUc9d", reg},
		{"uncompressed WIF", uncompressed.String(), main},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSecret(tc.secret, P2WPKH, tc.params)
			if !errors.Is(err, ErrSecret) {
				t.Fatalf("err %v, want ErrSecret", err)
			}
			if len(tc.secret) > 8 && strings.Contains(err.Error(), strings.TrimSpace(tc.secret)) {
				t.Fatalf("error leaks the secret: %v", err)
			}
		})
	}
}

func testKeystone(n uint32) pop.Keystone {
	k := pop.Keystone{Version: pop.KeystoneVersion, BTCViewHeight: 100 + n, L2Number: n * 25}
	for i := range k.StateRoot {
		k.StateRoot[i] = byte(n) + byte(i)
	}
	k.BlockPrefix[0], k.ParentPrefix[0], k.PrevKeystone[0] = byte(n), byte(n+1), byte(n+2)
	return k
}

// TestPoPTxSizeAndStandard builds PoP transactions with many keys and
// checks their measured vsize, btcd's standardness policy and the script
// engine.
func TestPoPTxSizeAndStandard(t *testing.T) {
	for _, kind := range []Kind{P2WPKH, P2TR} {
		t.Run(kind.String(), func(t *testing.T) {
			maxV := int64(0)
			for i := 0; i < 64; i++ {
				k, _ := btcec.NewPrivateKey()
				wif, _ := btcutil.NewWIF(k, &chaincfg.RegressionNetParams, true)
				w, err := ParseSecret(wif.String(), kind, &chaincfg.RegressionNetParams)
				if err != nil {
					t.Fatal(err)
				}
				ks := testKeystone(uint32(i))
				coin := Coin{OutPoint: wire.OutPoint{Hash: chainhash.Hash{byte(i), 1}, Index: 1}, Value: 100_000}
				fee := 3 * PoPVSize(kind)
				tx, err := w.BuildPoP(coin, ks.Script(), fee)
				if err != nil {
					t.Fatal(err)
				}
				if err := w.VerifyPoP(tx, coin.Value); err != nil {
					t.Fatal(err)
				}
				btx := btcutil.NewTx(tx)
				if err := mempool.CheckTransactionStandard(btx, 1000, time.Now(), 1000, 2); err != nil {
					t.Fatalf("not standard: %v", err)
				}
				v := mempool.GetTxVirtualSize(btx)
				if v > PoPVSize(kind) {
					t.Fatalf("vsize %d above the estimate %d", v, PoPVSize(kind))
				}
				maxV = max(maxV, v)
				if got := coin.Value - tx.TxOut[1].Value; got != fee {
					t.Fatalf("fee %d, want %d", got, fee)
				}
				if got, err := pop.ParseScript(tx.TxOut[0].PkScript); err != nil || got != ks {
					t.Fatalf("keystone output: %v", err)
				}
				if tx.TxIn[0].Sequence >= wire.MaxTxInSequenceNum-1 {
					t.Fatal("input does not signal RBF")
				}
			}
			if kind == P2WPKH && maxV > 202 {
				t.Fatalf("P2WPKH PoP transaction of %d vB, target <= 202", maxV)
			}
			t.Logf("%s: largest vsize %d vB (estimate %d)", kind, maxV, PoPVSize(kind))
		})
	}
}

func TestBuildPoPErrors(t *testing.T) {
	w, err := ParseSecret(bipMnemonic, P2WPKH, &chaincfg.MainNetParams)
	if err != nil {
		t.Fatal(err)
	}
	ks := testKeystone(1)
	coin := Coin{Value: 10_000}
	tests := []struct {
		name   string
		script []byte
		fee    int64
		want   error
	}{
		{"fee leaves dust", ks.Script(), 10_000 - 100, ErrFunds},
		{"negative fee", ks.Script(), -1, ErrFunds},
		{"not a keystone script", []byte{0x6a, 0x01, 0x00}, 200, pop.ErrScript},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := w.BuildPoP(coin, tc.script, tc.fee); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

func TestRewardAddress(t *testing.T) {
	w, err := ParseSecret(bipMnemonic, P2WPKH, &chaincfg.MainNetParams)
	if err != nil {
		t.Fatal(err)
	}
	// Signing key of the first input: the BIP-84 vector's key.
	priv, _ := btcutil.DecodeWIF("KyZpNDKnfs94vbrwhJneDi77V6jF64PWPF8x5cdJb8ifgg2DUc9d")
	w2, _ := newWallet(priv.PrivKey, P2WPKH, &chaincfg.MainNetParams, SecretWIF, "")
	if w.RewardAddress() != w2.RewardAddress() || w.RewardAddress() == ([20]byte{}) {
		t.Fatal("reward address is not the signing key's")
	}
	tr, _ := ParseSecret(bipMnemonic, P2TR, &chaincfg.MainNetParams)
	if tr.RewardAddress() == w.RewardAddress() {
		t.Fatal("P2TR reward address should be the output key's")
	}
}

// FuzzParseSecret never panics, and round-trips every key through WIF.
func FuzzParseSecret(f *testing.F) {
	f.Add(bipMnemonic, []byte{1})
	f.Add(bipRootXprv, []byte{2})
	f.Add("KyZpNDKnfs94vbrwhJneDi77V6jF64PWPF8x5cdJb8ifgg2DUc9d", []byte{3})
	f.Add("", []byte{})
	f.Fuzz(func(t *testing.T, s string, key []byte) {
		for _, p := range []*chaincfg.Params{&chaincfg.MainNetParams, &chaincfg.RegressionNetParams} {
			_, _ = ParseSecret(s, P2WPKH, p)
			_, _ = ParseSecret(s, P2TR, p)
		}
		if len(key) == 0 || len(key) > 32 {
			return
		}
		priv, _ := btcec.PrivKeyFromBytes(key)
		if priv.Key.IsZero() {
			return
		}
		wif, err := btcutil.NewWIF(priv, &chaincfg.RegressionNetParams, true)
		if err != nil {
			t.Fatal(err)
		}
		w, err := ParseSecret(wif.String(), P2WPKH, &chaincfg.RegressionNetParams)
		if err != nil {
			t.Fatalf("WIF round trip: %v", err)
		}
		if !w.priv.Key.Equals(&priv.Key) {
			t.Fatal("WIF round trip gave another key")
		}
	})
}

// TestRewardAddressIsPublisher: the chain pays PoP rewards to the address
// pop.PublisherOf reads off a PoP transaction; for both wallet kinds it
// is the RewardAddress the miner announces.
func TestRewardAddressIsPublisher(t *testing.T) {
	k := pop.Keystone{Version: pop.KeystoneVersion, L2Number: 25}
	for _, kind := range []Kind{P2WPKH, P2TR} {
		w, err := ParseSecret(bipMnemonic, kind, &chaincfg.RegressionNetParams)
		if err != nil {
			t.Fatal(err)
		}
		coin := Coin{OutPoint: wire.OutPoint{Index: 1}, Value: 100_000}
		tx, err := w.BuildPoP(coin, k.Script(), 1_000)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := pop.PublisherOf(tx, w.Script())
		if !ok || got != w.RewardAddress() {
			t.Fatalf("kind %d: chain pays %s (%v), the miner announces %s", kind, got, ok, w.RewardAddress())
		}
	}
}
