package block

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/big"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

// regtestGenesis is Bitcoin regtest's genesis hash in display order.
const regtestGenesis = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"

func viewHash(t testing.TB) chainhash.Hash {
	h, err := chainhash.NewHashFromStr(regtestGenesis)
	if err != nil {
		t.Fatal(err)
	}
	return *h
}

func TestExtraEncoding(t *testing.T) {
	e := Extra{BitcoinHeight: 0x01020304, BitcoinHash: viewHash(t)}
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	// Byte by byte: version, height big-endian, hash in display order.
	want := "01" + "01020304" + regtestGenesis
	if hex.EncodeToString(b) != want {
		t.Fatalf("got %x\nwant %s", b, want)
	}
	got, err := DecodeExtra(b)
	if err != nil || got.BitcoinHeight != e.BitcoinHeight || got.BitcoinHash != e.BitcoinHash || got.Sealed() {
		t.Fatalf("decode: %+v %v", got, err)
	}
	e.Seal = bytes.Repeat([]byte{7}, SealSize)
	sealed, err := e.Encode()
	if err != nil || len(sealed) != ExtraSize || !bytes.Equal(sealed[:ExtraUnsealedSize], b) {
		t.Fatalf("sealed: %x %v", sealed, err)
	}
	got, err = DecodeExtra(sealed)
	if err != nil || !bytes.Equal(got.Seal, e.Seal) {
		t.Fatalf("decode sealed: %+v %v", got, err)
	}
}

func TestExtraErrors(t *testing.T) {
	good, _ := (&Extra{BitcoinHeight: 1}).Encode()
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrExtraEncoding},
		{"version 0", append([]byte{0}, good[1:]...), ErrExtraVersion},
		{"version 2", append([]byte{2}, good[1:]...), ErrExtraVersion},
		{"short", good[:36], ErrExtraEncoding},
		{"one extra byte", append(append([]byte(nil), good...), 0), ErrExtraEncoding},
		{"short seal", append(append([]byte(nil), good...), make([]byte, 64)...), ErrExtraEncoding},
		{"long seal", append(append([]byte(nil), good...), make([]byte, 66)...), ErrExtraEncoding},
		{"geth vanity", make([]byte, 32), ErrExtraVersion},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := DecodeExtra(c.in); !errors.Is(err, c.want) {
				t.Fatalf("got %v want %v", err, c.want)
			}
		})
	}
	if _, err := (&Extra{Seal: make([]byte, 64)}).Encode(); !errors.Is(err, ErrExtraEncoding) {
		t.Fatalf("encode with short seal: %v", err)
	}
}

func testHeader(t testing.TB) *types.Header {
	extra, _ := (&Extra{BitcoinHeight: 101, BitcoinHash: viewHash(t)}).Encode()
	base := big.NewInt(1e9)
	var zero uint64
	beacon := common.Hash{}
	reqs := types.EmptyRequestsHash
	wh := types.EmptyWithdrawalsHash
	return &types.Header{
		ParentHash: common.Hash{1}, UncleHash: types.EmptyUncleHash, Coinbase: common.Address{2},
		Root: common.Hash{3}, TxHash: common.Hash{4}, ReceiptHash: common.Hash{5},
		Difficulty: new(big.Int), Number: big.NewInt(7), GasLimit: 30_000_000, GasUsed: 21_000,
		Time: 1_700_000_000, Extra: extra, MixDigest: common.Hash{6}, BaseFee: base,
		WithdrawalsHash: &wh, BlobGasUsed: &zero, ExcessBlobGas: &zero, ParentBeaconRoot: &beacon,
		RequestsHash: &reqs,
	}
}

func TestSealSigner(t *testing.T) {
	h := testHeader(t)
	unsealedHash := h.Hash()
	sh, err := SealHash(h)
	if err != nil || sh != unsealedHash {
		t.Fatalf("seal hash of an unsealed header must be its hash: %v %v", sh, err)
	}
	if _, err := Signer(h); !errors.Is(err, ErrUnsealed) {
		t.Fatalf("unsealed: %v", err)
	}
	if err := Seal(h, testKey); err != nil {
		t.Fatal(err)
	}
	if len(h.Extra) != ExtraSize {
		t.Fatalf("sealed extra is %d bytes", len(h.Extra))
	}
	if sh2, _ := SealHash(h); sh2 != sh {
		t.Fatal("seal hash changed by sealing")
	}
	want := crypto.PubkeyToAddress(testKey.PublicKey)
	if got, err := Signer(h); err != nil || got != want {
		t.Fatalf("signer %v %v, want %v", got, err, want)
	}
	// Resealing with another key replaces the seal.
	other, _ := crypto.GenerateKey()
	if err := Seal(h, other); err != nil {
		t.Fatal(err)
	}
	if got, _ := Signer(h); got != crypto.PubkeyToAddress(other.PublicKey) {
		t.Fatal("reseal did not replace the seal")
	}
	if err := Seal(&types.Header{Number: big.NewInt(1), Difficulty: new(big.Int)}, testKey); !errors.Is(err, ErrExtraEncoding) {
		t.Fatalf("seal without record: %v", err)
	}
}

// TestSealCoversHeader: changing any header field after sealing changes
// the recovered signer (or breaks it), so a tampered header never passes
// as the sequencer's.
func TestSealCoversHeader(t *testing.T) {
	want := crypto.PubkeyToAddress(testKey.PublicKey)
	cases := []struct {
		name   string
		tamper func(h *types.Header)
	}{
		{"parent", func(h *types.Header) { h.ParentHash[0] ^= 1 }},
		{"coinbase", func(h *types.Header) { h.Coinbase[0] ^= 1 }},
		{"root", func(h *types.Header) { h.Root[0] ^= 1 }},
		{"tx hash", func(h *types.Header) { h.TxHash[0] ^= 1 }},
		{"receipt hash", func(h *types.Header) { h.ReceiptHash[0] ^= 1 }},
		{"bloom", func(h *types.Header) { h.Bloom[0] ^= 1 }},
		{"number", func(h *types.Header) { h.Number = big.NewInt(8) }},
		{"gas limit", func(h *types.Header) { h.GasLimit++ }},
		{"gas used", func(h *types.Header) { h.GasUsed++ }},
		{"time", func(h *types.Header) { h.Time++ }},
		{"mix digest", func(h *types.Header) { h.MixDigest[0] ^= 1 }},
		{"base fee", func(h *types.Header) { h.BaseFee = big.NewInt(2e9) }},
		{"beacon root", func(h *types.Header) { r := common.Hash{9}; h.ParentBeaconRoot = &r }},
		{"view height", func(h *types.Header) { h.Extra[4] ^= 1 }},
		{"view hash", func(h *types.Header) { h.Extra[20] ^= 1 }},
		{"seal r", func(h *types.Header) { h.Extra[ExtraUnsealedSize] ^= 1 }},
		{"seal s", func(h *types.Header) { h.Extra[ExtraUnsealedSize+40] ^= 1 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := testHeader(t)
			if err := Seal(h, testKey); err != nil {
				t.Fatal(err)
			}
			h.Extra = bytes.Clone(h.Extra)
			c.tamper(h)
			got, err := Signer(h)
			if err == nil && got == want {
				t.Fatal("tampered header still recovers the sequencer")
			}
		})
	}
}

func TestSignerBadSeal(t *testing.T) {
	h := testHeader(t)
	if err := Seal(h, testKey); err != nil {
		t.Fatal(err)
	}
	// secp256k1 order n; S above n/2 is the malleable twin.
	n, _ := new(big.Int).SetString("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", 16)
	cases := []struct {
		name string
		set  func(seal []byte)
	}{
		{"v 2", func(s []byte) { s[64] = 2 }},
		{"v 27", func(s []byte) { s[64] = 27 }},
		{"zero r", func(s []byte) { clear(s[:32]) }},
		{"zero s", func(s []byte) { clear(s[32:64]) }},
		{"high s", func(s []byte) {
			v := new(big.Int).Sub(n, new(big.Int).SetBytes(s[32:64]))
			v.FillBytes(s[32:64])
			s[64] ^= 1
		}},
		{"r = n", func(s []byte) { n.FillBytes(s[:32]) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cp := types.CopyHeader(h)
			c.set(cp.Extra[ExtraUnsealedSize:])
			if _, err := Signer(cp); !errors.Is(err, ErrBadSeal) {
				t.Fatalf("got %v want ErrBadSeal", err)
			}
		})
	}
}
