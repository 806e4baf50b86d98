package hvm

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/vm"

	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/golden"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from the fixture chain")

const goldenPath = "testdata/vectors.json"

// vector is one golden call: input to a precompile and its exact answer.
type vector struct {
	Name       string `json:"name"`
	Precompile string `json:"precompile"`
	Input      string `json:"input"`
	Output     string `json:"output"`
	Gas        uint64 `json:"gas"`
}

type goldenFile struct {
	Comment    string   `json:"comment"`
	Network    string   `json:"network"`
	ViewHeight int32    `json:"view_height"`
	ViewHash   string   `json:"view_hash"`
	Vectors    []vector `json:"vectors"`
}

// goldenCase is a named input to one precompile.
type goldenCase struct {
	name  string
	addr  common.Address
	input []byte
}

// badChecksum changes the last character of a bech32 address.
func badChecksum(a string) string {
	last := byte('q')
	if a[len(a)-1] == last {
		last = 'p'
	}
	return a[:len(a)-1] + string(last)
}

func u24(n int) []byte      { return []byte{byte(n >> 16), byte(n >> 8), byte(n)} }
func u32be(n uint32) []byte { return []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)} }

// goldenCases lists every golden input, built from the fixture.
func goldenCases(t testing.TB, f *fixture) []goldenCase {
	t.Helper()
	unused, err := txgen.DeriveKey(fixtureSeed, 99).Address(txgen.P2WPKH, regtest)
	if err != nil {
		t.Fatal(err)
	}
	invalidAddrs := []struct{ name, input string }{
		{"mainnet p2pkh on regtest", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"},
		{"mainnet p2wpkh on regtest", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"},
		{"testnet bech32 on regtest", "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"},
		{"bare public key hex", "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"},
		{"bad checksum", badChecksum(f.addr["p2wpkh"])},
		{"abi-padded address", f.addr["p2wpkh"] + "\x00\x00\x00"},
		{"garbage", "hello world"},
		{"empty", ""},
		{"too long", string(bytes.Repeat([]byte("q"), MaxAddressLen+1))},
		{"non-ascii", "bcrt1q\xff\xfe"},
	}
	var cs []goldenCase
	add := func(name string, addr common.Address, input []byte) {
		cs = append(cs, goldenCase{name, addr, input})
	}

	// 0x40 balance and 0x46 address to script.
	for _, k := range []string{"p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr", "p2tr-many"} {
		add(k, AddrBalance, []byte(f.addr[k]))
		add(k, AddrAddrToScript, []byte(f.addr[k]))
	}
	add("coinbase p2wpkh", AddrBalance, []byte(f.coinbaseAddr))
	add("unused address", AddrBalance, []byte(unused.String()))
	for _, a := range invalidAddrs {
		add(a.name, AddrBalance, []byte(a.input))
		add(a.name, AddrAddrToScript, []byte(a.input))
	}

	// 0x41 UTXOs.
	utxo := func(name, addr string, page, size int) {
		add(name, AddrUTXOs, cat([]byte(addr), u24(page), []byte{byte(size)}))
	}
	utxo("coinbase page 0 default size", f.coinbaseAddr, 0, 0)
	utxo("coinbase page 1 size 10", f.coinbaseAddr, 1, 10)
	utxo("coinbase page 0 size 255", f.coinbaseAddr, 0, 255)
	utxo("p2tr-many page 0 size 3", f.addr["p2tr-many"], 0, 3)
	utxo("p2tr-many page 2 size 3 (partial)", f.addr["p2tr-many"], 2, 3)
	utxo("p2tr-many page 3 size 3 (past the end)", f.addr["p2tr-many"], 3, 3)
	utxo("p2tr-many last page number", f.addr["p2tr-many"], 1<<24-1, 255)
	utxo("p2wsh two utxos", f.addr["p2wsh"], 0, 0)
	utxo("p2pkh spent and unspent", f.addr["p2pkh"], 0, 0)
	utxo("p2sh", f.addr["p2sh"], 0, 1)
	utxo("p2wpkh", f.addr["p2wpkh"], 0, 1)
	utxo("p2tr fully spent", f.addr["p2tr"], 0, 0)
	utxo("mainnet address", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", 0, 0)
	add("utxos input of 4 bytes", AddrUTXOs, []byte{0, 0, 0, 10})
	add("utxos empty input", AddrUTXOs, nil)

	// 0x42 tx by txid.
	cb102 := f.blocks[101].Transactions[0]
	txq := func(name string, txid chainhash.Hash, flags ...byte) {
		add(name, AddrTx, cat(display(txid), flags))
	}
	all := []byte{0x7f, 0xec, 0x3f, 0x0f}
	txq("tx1 every field", f.tx1.TxHash(), all...)
	txq("tx1 every bit set (reserved ignored)", f.tx1.TxHash(), 0xff, 0xff, 0xff, 0xff)
	txq("tx2 every field", f.tx2.TxHash(), all...)
	txq("tx3 every field", f.tx3.TxHash(), all...)
	txq("coinbase every field", cb102.TxHash(), all...)
	txq("tx1 no flags", f.tx1.TxHash(), 0, 0, 0, 0)
	txq("tx2 block hash only", f.tx2.TxHash(), 0x40, 0, 0, 0)
	txq("tx2 version only", f.tx2.TxHash(), 0x20, 0, 0, 0)
	txq("tx2 size and vsize only", f.tx2.TxHash(), 0x10, 0, 0, 0)
	txq("tx2 locktime only", f.tx2.TxHash(), 0x08, 0, 0, 0)
	txq("tx2 inputs, default limit 1", f.tx2.TxHash(), 0x04, 0, 0, 0)
	txq("tx2 inputs max 2 with source", f.tx2.TxHash(), 0x06, 0, 0x08, 0)
	txq("tx2 source without inputs bit", f.tx2.TxHash(), 0x03, 0x80, 0x3f, 0x0f)
	for e := range 4 {
		txq(fmt.Sprintf("tx2 scriptSig cut at %d", 1<<(4+e)), f.tx2.TxHash(), 0x05, 0, 0x08, byte(e<<2))
	}
	txq("tx2 sequences", f.tx2.TxHash(), 0x04, 0x80, 0x08, 0)
	txq("tx2 outputs max 4 excluding unspendable", f.tx2.TxHash(), 0, 0x40, 0x02, 0)
	txq("tx2 outputs max 4 including unspendable", f.tx2.TxHash(), 0, 0x48, 0x02, 0)
	txq("tx2 outputs max 128 excluding unspendable, spent", f.tx2.TxHash(), 0, 0x64, 0x07, 0x03)
	txq("tx2 outputs max 128 including unspendable, spent", f.tx2.TxHash(), 0, 0x6c, 0x07, 0x03)
	for e := range 4 {
		txq(fmt.Sprintf("tx1 output scripts cut at %d", 1<<(4+e)), f.tx1.TxHash(), 0, 0x68, 0x07, byte(e))
	}
	txq("tx1 spent flags", f.tx1.TxHash(), 0, 0x44, 0x07, 0)
	txq("tx1 reserved bits only", f.tx1.TxHash(), 0x80, 0x13, 0xc0, 0xf0)
	txq("unknown txid", chainhash.Hash{0x01, 0x02}, all...)
	wire := f.tx1.TxHash()
	add("txid in wire order", AddrTx, cat(wire[:], all))
	add("tx query of 35 bytes", AddrTx, cat(display(f.tx1.TxHash()), all[:3]))
	add("tx query of 37 bytes", AddrTx, cat(display(f.tx1.TxHash()), all, []byte{0}))

	// 0x43 confirmations.
	add("tx1 at 102", AddrConfirmations, display(f.tx1.TxHash()))
	add("tx2 at 103", AddrConfirmations, display(f.tx2.TxHash()))
	add("tx3 at 104", AddrConfirmations, display(f.tx3.TxHash()))
	add("coinbase at 1", AddrConfirmations, display(f.blocks[0].Transactions[0].TxHash()))
	add("coinbase at the view", AddrConfirmations, display(f.blocks[len(f.blocks)-1].Transactions[0].TxHash()))
	add("genesis coinbase (never indexed)", AddrConfirmations, display(regtest.GenesisBlock.Transactions[0].TxHash()))
	add("unknown txid", AddrConfirmations, display(chainhash.Hash{0xee}))
	add("confirmations of 33 bytes", AddrConfirmations, cat(display(f.tx1.TxHash()), []byte{0}))

	// 0x44 last header, 0x45 header at height.
	add("no input", AddrLastHeader, nil)
	add("input ignored", AddrLastHeader, []byte("anything"))
	for _, h := range []uint32{0, 1, 103, 106} {
		add(fmt.Sprintf("height %d", h), AddrHeader, u32be(h))
	}
	add("height above the view", AddrHeader, u32be(107))
	add("height 2^31", AddrHeader, u32be(1<<31))
	add("height max u32", AddrHeader, u32be(0xffffffff))
	add("height of 3 bytes", AddrHeader, []byte{0, 0, 1})
	add("height of 5 bytes", AddrHeader, []byte{0, 0, 0, 1, 0})

	// 0x47 input, 0x48 output, 0x49 witness element (appended last so the
	// vectors above keep their positions).
	u16 := func(n int) []byte { return []byte{byte(n >> 8), byte(n)} }
	part := func(name string, a common.Address, txid chainhash.Hash, fields ...int) {
		in := display(txid)
		for _, n := range fields {
			in = append(in, u16(n)...)
		}
		add(name, a, in)
	}
	tx1, tx2, tx3, cb := f.tx1.TxHash(), f.tx2.TxHash(), f.tx3.TxHash(), cb102.TxHash()
	part("tx2 input 0 (p2pkh) scriptSig max 0", AddrInput, tx2, 0, 0)
	part("tx2 input 0 (p2pkh) scriptSig cut at 16", AddrInput, tx2, 0, 16)
	part("tx2 input 0 (p2pkh) scriptSig max 65535", AddrInput, tx2, 0, 0xffff)
	part("tx2 input 1 (p2tr, one witness element)", AddrInput, tx2, 1, 0xffff)
	part("tx2 input 2 (past the end)", AddrInput, tx2, 2, 0xffff)
	part("tx2 input 65535", AddrInput, tx2, 0xffff, 0xffff)
	part("tx1 input 0 (p2wpkh spending coinbase 1)", AddrInput, tx1, 0, 128)
	part("tx3 input 0 (p2wpkh spending tx2:0)", AddrInput, tx3, 0, 64)
	part("coinbase input", AddrInput, cb, 0, 0xffff)
	part("unknown txid", AddrInput, chainhash.Hash{0x47}, 0, 16)
	add("input txid in wire order", AddrInput, cat(wire[:], u16(0), u16(16)))
	add("input query of 35 bytes", AddrInput, cat(display(tx2), u16(0), []byte{16}))
	add("input query of 37 bytes", AddrInput, cat(display(tx2), u16(0), u16(16), []byte{0}))

	part("tx1 output 0 (p2pkh, spent by tx2)", AddrOutput, tx1, 0, 0xffff)
	part("tx1 output 1 (p2sh, unspent)", AddrOutput, tx1, 1, 0xffff)
	part("tx1 output 4 (p2tr, spent by tx2)", AddrOutput, tx1, 4, 0xffff)
	part("tx1 output 5 (OP_RETURN) script cut at 16", AddrOutput, tx1, 5, 16)
	part("tx1 output 6 (change) script max 0", AddrOutput, tx1, 6, 0)
	part("tx2 output 0 (spent by tx3)", AddrOutput, tx2, 0, 34)
	part("tx2 output 9 (last)", AddrOutput, tx2, 9, 34)
	part("tx2 output 10 (past the end)", AddrOutput, tx2, 10, 34)
	part("coinbase output 0", AddrOutput, cb, 0, 0xffff)
	part("unknown txid", AddrOutput, chainhash.Hash{0x48}, 0, 16)
	add("output query of 35 bytes", AddrOutput, cat(display(tx1), u16(0), []byte{16}))
	add("output query of 38 bytes", AddrOutput, cat(display(tx1), u16(0), u16(16), u16(0)))

	part("tx1 input 0 element 0 (signature)", AddrWitness, tx1, 0, 0, 0xffff)
	part("tx1 input 0 element 1 (public key)", AddrWitness, tx1, 0, 1, 0xffff)
	part("tx1 input 0 element 1 cut at 16", AddrWitness, tx1, 0, 1, 16)
	part("tx1 input 0 element 1 max 0", AddrWitness, tx1, 0, 1, 0)
	part("tx1 input 0 element 2 (past the end)", AddrWitness, tx1, 0, 2, 0xffff)
	part("tx2 input 0 (p2pkh, no witness)", AddrWitness, tx2, 0, 0, 0xffff)
	part("tx2 input 1 element 0 (schnorr signature) cut at 32", AddrWitness, tx2, 1, 0, 32)
	part("tx3 input 0 element 1", AddrWitness, tx3, 0, 1, 0xffff)
	part("tx2 input 2 (past the end)", AddrWitness, tx2, 2, 0, 0xffff)
	part("coinbase input element 0", AddrWitness, cb, 0, 0, 0xffff)
	part("unknown txid", AddrWitness, chainhash.Hash{0x49}, 0, 0, 16)
	add("witness query of 37 bytes", AddrWitness, cat(display(tx1), u16(0), u16(0), []byte{16}))
	add("witness query of 39 bytes", AddrWitness, cat(display(tx1), u16(0), u16(0), u16(16), []byte{0}))
	return cs
}

// runVectors computes every golden vector through the precompile map.
func runVectors(t testing.TB, pcs vm.PrecompiledContracts, cs []goldenCase) []vector {
	t.Helper()
	out := make([]vector, 0, len(cs))
	for _, c := range cs {
		p := pcs[c.addr]
		ret, err := p.Run(c.input)
		if err != nil {
			t.Fatalf("%s %s: Run error %v (must never error)", c.addr, c.name, err)
		}
		out = append(out, vector{
			Name:       c.name,
			Precompile: fmt.Sprintf("0x%x", c.addr[19]),
			Input:      hex.EncodeToString(c.input),
			Output:     hex.EncodeToString(ret),
			Gas:        p.RequiredGas(c.input),
		})
	}
	return out
}

func TestGoldenVectors(t *testing.T) {
	f, view, pcs := sharedFixture(t)
	got := goldenFile{
		Comment: "hVM ABI v0 golden vectors over the deterministic regtest chain of fixture_test.go. " +
			"Regenerate with: go test ./internal/hvm -run TestGoldenVectors -update",
		Network:    regtest.Name,
		ViewHeight: view.Tip().Height,
		ViewHash:   view.Tip().Hash.String(),
		Vectors:    runVectors(t, pcs, goldenCases(t, f)),
	}
	want := golden.JSON(t, goldenPath, got, *update)
	if *update {
		t.Logf("wrote %d vectors to %s", len(got.Vectors), goldenPath)
		return
	}
	if got.ViewHash != want.ViewHash || got.ViewHeight != want.ViewHeight {
		t.Fatalf("fixture view %s@%d, golden %s@%d: the fixture chain changed", got.ViewHash, got.ViewHeight, want.ViewHash, want.ViewHeight)
	}
	if len(got.Vectors) != len(want.Vectors) {
		t.Fatalf("%d vectors, golden has %d", len(got.Vectors), len(want.Vectors))
	}
	for i, g := range got.Vectors {
		w := want.Vectors[i]
		if g != w {
			t.Errorf("vector %d %s %q:\n got  %+v\n want %+v", i, g.Precompile, g.Name, g, w)
		}
	}
}

// TestGoldenVectorsReplay runs the golden file's inputs as data (not the
// case list), so the file alone specifies the ABI.
func TestGoldenVectorsReplay(t *testing.T) {
	_, _, pcs := sharedFixture(t)
	b, err := os.ReadFile(filepath.FromSlash(goldenPath))
	if err != nil {
		t.Skipf("no golden file yet: %v", err)
	}
	var gf goldenFile
	if err := json.Unmarshal(b, &gf); err != nil {
		t.Fatal(err)
	}
	for _, v := range gf.Vectors {
		t.Run(v.Precompile+"/"+v.Name, func(t *testing.T) {
			in, err := hex.DecodeString(v.Input)
			if err != nil {
				t.Fatal(err)
			}
			var a [1]byte
			if _, err := fmt.Sscanf(v.Precompile, "0x%x", &a[0]); err != nil {
				t.Fatal(err)
			}
			p := pcs[common.BytesToAddress(a[:])]
			out, err := p.Run(in)
			if err != nil || hex.EncodeToString(out) != v.Output || p.RequiredGas(in) != v.Gas {
				t.Fatalf("got %x gas %d err %v, want %s gas %d", out, p.RequiredGas(in), err, v.Output, v.Gas)
			}
		})
	}
}
