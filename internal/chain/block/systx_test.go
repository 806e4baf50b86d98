package block

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"math/big"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"

	goldenfile "github.com/hemi-go/hemi/internal/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func addr(s string) *common.Address { a := common.HexToAddress(s); return &a }

func bigHex(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 0)
	if !ok {
		panic("bad big " + s)
	}
	return v
}

// systemTxCases are the golden transactions of testdata/systemtx.json.
func systemTxCases() []struct {
	name string
	tx   *SystemTx
} {
	return []struct {
		name string
		tx   *SystemTx
	}{
		{"empty", &SystemTx{Value: new(big.Int)}},
		{"view-update", &SystemTx{
			SourceHash: SourceHash(DomainBitcoinView, common.HexToHash("0x0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"), 1),
			From:       common.HexToAddress("0xdeaddeaddeaddeaddeaddeaddeaddeaddead0001"),
			To:         addr("0x4200000000000000000000000000000000000015"),
			Value:      new(big.Int),
			Gas:        1_000_000,
			Data:       bytes.Repeat([]byte{0xab}, 260),
		}},
		{"deposit-mint", &SystemTx{
			SourceHash: SourceHash(DomainTunnelDeposit, [32]byte{1, 2, 3}, 7),
			From:       common.HexToAddress("0x1111111111111111111111111111111111111111"),
			To:         addr("0x2222222222222222222222222222222222222222"),
			Mint:       bigHex("100000000000000000000"),
			Value:      bigHex("100000000000000000000"),
			Gas:        100_000,
		}},
		{"create-max", &SystemTx{
			SourceHash: common.HexToHash("0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
			From:       common.HexToAddress("0xffffffffffffffffffffffffffffffffffffffff"),
			Mint:       bigHex("0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
			Value:      bigHex("0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
			Gas:        ^uint64(0),
			IsSystemTx: true,
			Data:       []byte{0x60, 0x00, 0x60, 0x00, 0xf3},
		}},
	}
}

type golden struct {
	Name     string `json:"name"`
	Encoding string `json:"encoding"`
	Hash     string `json:"hash"`
}

// TestSystemTxGolden pins the encoding and hash of each case to
// testdata/systemtx.json (regenerate with -update after a deliberate
// change; a diff there is a consensus change).
func TestSystemTxGolden(t *testing.T) {
	path := filepath.Join("testdata", "systemtx.json")
	var got []golden
	for _, c := range systemTxCases() {
		bin, err := c.tx.MarshalBinary()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got = append(got, golden{c.name, hex.EncodeToString(bin), c.tx.Hash().Hex()})
	}
	want := goldenfile.JSON(t, path, got, *update)
	if len(want) != len(got) {
		t.Fatalf("golden has %d cases, code %d", len(want), len(got))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s: got %+v, golden %+v", want[i].Name, got[i], want[i])
		}
		bin, _ := hex.DecodeString(want[i].Encoding)
		var tx SystemTx
		if err := tx.UnmarshalBinary(bin); err != nil {
			t.Errorf("%s: decode golden: %v", want[i].Name, err)
			continue
		}
		if !tx.Equal(systemTxCases()[i].tx) {
			t.Errorf("%s: golden decodes to %+v", want[i].Name, tx)
		}
	}
}

// opDepositHex is an OP Stack L1-attributes deposit (Ecotone,
// setL1BlockValuesEcotone) as an op-node sent it in engine_newPayloadV3:
// an encoding produced by OP's own code, not ours.
const opDepositHex = "7ef8f8a0d449f5de7f558fa593dce80637d3a3f52cfaaee2913167371dd6ffd9014e431d94deaddeaddeaddeaddeaddeaddeaddeaddead00019442000000000000000000000000000000000000158080830f424080b8a4440a5e20000f424000000000000000000000000100000000666c9d8b0000000000000028000000000000000000000000000000000000000000000000000000000049165f0000000000000000000000000000000000000000000000000000000000000001d05450763214e6060d285b39ef5fe51ef9526395e5cef6ecb27ba06f9598f27d000000000000000000000000e25583099ba105d9ec0a67f5ae86d90e50036425"

func TestSystemTxDecodesOPDeposit(t *testing.T) {
	bin, _ := hex.DecodeString(opDepositHex)
	var tx SystemTx
	if err := tx.UnmarshalBinary(bin); err != nil {
		t.Fatal(err)
	}
	if tx.SourceHash != common.HexToHash("0xd449f5de7f558fa593dce80637d3a3f52cfaaee2913167371dd6ffd9014e431d") ||
		tx.From != common.HexToAddress("0xdeaddeaddeaddeaddeaddeaddeaddeaddead0001") ||
		tx.To == nil || *tx.To != common.HexToAddress("0x4200000000000000000000000000000000000015") ||
		tx.Mint != nil || tx.Value.Sign() != 0 || tx.Gas != 1_000_000 || tx.IsSystemTx ||
		len(tx.Data) != 164 || !bytes.Equal(tx.Data[:4], []byte{0x44, 0x0a, 0x5e, 0x20}) {
		t.Fatalf("fields: %+v", tx)
	}
	again, err := tx.MarshalBinary()
	if err != nil || !bytes.Equal(again, bin) {
		t.Fatalf("re-encoding differs: %x (%v)", again, err)
	}
	if tx.Hash() != crypto.Keccak256Hash(bin) {
		t.Fatal("hash is not keccak of the encoding")
	}
}

func TestSystemTxRoundTrip(t *testing.T) {
	for _, c := range systemTxCases() {
		t.Run(c.name, func(t *testing.T) {
			bin, err := c.tx.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var got SystemTx
			if err := got.UnmarshalBinary(bin); err != nil {
				t.Fatal(err)
			}
			if !got.Equal(c.tx) || got.Hash() != c.tx.Hash() {
				t.Fatalf("round trip: %+v != %+v", got, c.tx)
			}
			cp := c.tx.Copy()
			if !cp.Equal(c.tx) {
				t.Fatal("copy differs")
			}
			if len(cp.Data) > 0 {
				cp.Data[0] ^= 1
				if cp.Equal(c.tx) {
					t.Fatal("copy shares data")
				}
			}
		})
	}
}

func TestSystemTxNormalisation(t *testing.T) {
	a := &SystemTx{Mint: new(big.Int), Value: nil}
	b := &SystemTx{Mint: nil, Value: new(big.Int)}
	if !a.Equal(b) || a.Hash() != b.Hash() {
		t.Fatal("zero and nil amounts must encode the same")
	}
	bin, _ := a.MarshalBinary()
	var d SystemTx
	if err := d.UnmarshalBinary(bin); err != nil {
		t.Fatal(err)
	}
	if d.Mint != nil || d.Value == nil || d.Value.Sign() != 0 {
		t.Fatalf("decoded amounts: mint %v value %v", d.Mint, d.Value)
	}
}

// encodeFields builds an envelope from raw RLP values, to forge encodings
// our encoder would never produce.
func encodeFields(t *testing.T, fields ...any) []byte {
	t.Helper()
	b, err := rlp.EncodeToBytes(fields)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte{SystemTxType}, b...)
}

func TestSystemTxDecodeErrors(t *testing.T) {
	good, _ := systemTxCases()[1].tx.MarshalBinary()
	h := common.Hash{}
	a := common.Address{}
	big257 := new(big.Int).Lsh(big.NewInt(1), 256)
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrSystemTxType},
		{"wrong type", append([]byte{0x02}, good[1:]...), ErrSystemTxType},
		{"type only", []byte{SystemTxType}, ErrSystemTxEncoding},
		{"trailing byte", append(append([]byte(nil), good...), 0x00), ErrSystemTxEncoding},
		{"truncated", good[:len(good)-1], ErrSystemTxEncoding},
		{"seven fields", encodeFields(t, h, a, a, uint(0), uint(0), uint(0), false), ErrSystemTxEncoding},
		{"nine fields", encodeFields(t, h, a, a, uint(0), uint(0), uint(0), false, []byte{}, uint(0)), ErrSystemTxEncoding},
		{"short to", encodeFields(t, h, a, make([]byte, 19), uint(0), uint(0), uint(0), false, []byte{}), ErrSystemTxEncoding},
		{"short from", encodeFields(t, h, make([]byte, 19), a, uint(0), uint(0), uint(0), false, []byte{}), ErrSystemTxEncoding},
		{"short source hash", encodeFields(t, make([]byte, 31), a, a, uint(0), uint(0), uint(0), false, []byte{}), ErrSystemTxEncoding},
		{"bool 2", encodeFields(t, h, a, a, uint(0), uint(0), uint(0), uint(2), []byte{}), ErrSystemTxEncoding},
		{"gas leading zero", encodeFields(t, h, a, a, uint(0), uint(0), []byte{0x00, 0x01}, false, []byte{}), ErrSystemTxEncoding},
		{"value leading zero", encodeFields(t, h, a, a, uint(0), []byte{0x00, 0x01}, uint(0), false, []byte{}), ErrSystemTxEncoding},
		{"gas over 64 bits", encodeFields(t, h, a, a, uint(0), uint(0), make([]byte, 9), false, []byte{}), ErrSystemTxEncoding},
		{"mint over 256 bits", encodeFields(t, h, a, a, big257, uint(0), uint(0), false, []byte{}), ErrSystemTxValue},
		{"value over 256 bits", encodeFields(t, h, a, a, uint(0), big257, uint(0), false, []byte{}), ErrSystemTxValue},
		{"data list", encodeFields(t, h, a, a, uint(0), uint(0), uint(0), false, []uint{1}), ErrSystemTxEncoding},
		{"data too large", encodeFields(t, h, a, a, uint(0), uint(0), uint(0), false, make([]byte, MaxSystemTxDataSize+1)), ErrSystemTxTooLarge},
		{"not a list", append([]byte{SystemTxType}, 0x80), ErrSystemTxEncoding},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tx := &SystemTx{Gas: 42}
			err := tx.UnmarshalBinary(c.in)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if tx.Gas != 42 {
				t.Fatal("failed decode modified the receiver")
			}
		})
	}
}

func TestSystemTxEncodeErrors(t *testing.T) {
	cases := []struct {
		name string
		tx   *SystemTx
		want error
	}{
		{"negative mint", &SystemTx{Mint: big.NewInt(-1)}, ErrSystemTxValue},
		{"negative value", &SystemTx{Value: big.NewInt(-1)}, ErrSystemTxValue},
		{"wide value", &SystemTx{Value: new(big.Int).Lsh(big.NewInt(1), 256)}, ErrSystemTxValue},
		{"big data", &SystemTx{Data: make([]byte, MaxSystemTxDataSize+1)}, ErrSystemTxTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := c.tx.MarshalBinary(); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if c.tx.Hash() != (common.Hash{}) {
				t.Fatal("invalid tx has a hash")
			}
		})
	}
}

func TestSourceHash(t *testing.T) {
	// By hand: keccak(uint256(domain) || keccak(hash || uint256(index))).
	hash := common.HexToHash("0x0102030405060708091011121314151617181920212223242526272829303132")
	inner := crypto.Keccak256(hash[:], common.BigToHash(big.NewInt(5)).Bytes())
	want := crypto.Keccak256Hash(common.BigToHash(big.NewInt(0x101)).Bytes(), inner)
	if got := SourceHash(DomainTunnelDeposit, hash, 5); got != want {
		t.Fatalf("got %v want %v", got, want)
	}
	seen := map[common.Hash]string{}
	for _, d := range []SourceDomain{DomainBitcoinView, DomainTunnelDeposit, DomainPoPReward} {
		for _, idx := range []uint64{0, 1} {
			h := SourceHash(d, hash, idx)
			if prev, ok := seen[h]; ok {
				t.Fatalf("%v/%d collides with %s", d, idx, prev)
			}
			seen[h] = d.String()
		}
	}
	if SourceDomain(7).String() != "domain(0x7)" {
		t.Fatal(SourceDomain(7).String())
	}
}
