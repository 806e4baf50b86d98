package hvm

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/core/vm"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAddrToScriptPublishedVectors checks 0x46 against scripts published
// with the address formats (BIP 173, BIP 350/86 and well-known base58
// examples), independent of our own fixture.
func TestAddrToScriptPublishedVectors(t *testing.T) {
	pcs := Precompiles(nil, &chaincfg.MainNetParams)
	p := pcs[AddrAddrToScript]
	tests := []struct {
		name, addr, script string
	}{
		{"p2pkh", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "76a914 77bff20c60e522dfaa3350c39b030a5d004e839a 88ac"},
		{"p2sh", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "a914 b472a266d0bd89c13706a4132ccfb16f7c3b9fcb 87"},
		{"p2wpkh (BIP 173)", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "0014 751e76e8199196d454941c45d1b3a323f1433bd6"},
		{"p2wpkh upper case (BIP 173)", "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "0014 751e76e8199196d454941c45d1b3a323f1433bd6"},
		{"p2wsh (BIP 173)", "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3", "0020 1863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262"},
		{"p2tr (BIP 86)", "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr", "5120 a60869f0dbcf1dc659c9cecbaf8050135ea9e8cdc487053f1dc6880949dc684c"},
		{"witness v2 (BIP 350, not standard)", "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", ""},
		{"p2a anchor (not one of the five)", "bc1pfeessrawgf", ""},
		{"mixed case bech32", "bc1qW508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", ""},
		{"testnet p2pkh on mainnet", "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.Run([]byte(tt.addr))
			if err != nil {
				t.Fatal(err)
			}
			if want := mustHex(t, tt.script); !bytes.Equal(got, want) {
				t.Fatalf("script %x, want %x", got, want)
			}
		})
	}
}

// TestHandChecked spells out answers byte by byte from the fixture's
// transactions and headers, using btcd's own String/weight code rather
// than this package's encoders, so the goldens are not only
// self-referential.
func TestHandChecked(t *testing.T) {
	f, view, pcs := sharedFixture(t)
	tip := f.blocks[105].Header
	tx1, tx2 := f.tx1.TxHash(), f.tx2.TxHash()
	weight := blockchain.GetTransactionWeight(btcutil.NewTx(f.tx2))
	u32 := func(v uint32) string { return fmt.Sprintf("%08x", v) }
	sig := f.tx2.TxIn[0].SignatureScript
	if len(sig) != 0x6b {
		t.Fatalf("fixture scriptSig is %d bytes, the vectors below assume 107", len(sig))
	}
	hdr := func(height uint32, h wire.BlockHeader) string {
		return u32(height) + h.BlockHash().String() + u32(uint32(h.Version)) + h.PrevBlock.String() +
			h.MerkleRoot.String() + u32(uint32(h.Timestamp.Unix())) + u32(h.Bits) + u32(h.Nonce)
	}
	txIn := func(txid chainhash.Hash, flags string) []byte {
		return append(display(txid), mustHex(t, flags)...)
	}
	tests := []struct {
		name  string
		addr  byte
		input []byte
		want  string
	}{
		{"0x40 p2wsh: 4 BTC + 0.4 BTC", 0x40, []byte(f.addr["p2wsh"]), "000000001a39de00"},
		{"0x40 p2pkh: tx1:0 spent, change 4.7999 BTC left", 0x40, []byte(f.addr["p2pkh"]), "000000001c9c10f0"},
		{"0x40 p2tr: only output spent", 0x40, []byte(f.addr["p2tr"]), "0000000000000000"},
		{"0x41 p2sh: one utxo tx1:1", 0x41, append([]byte(f.addr["p2sh"]), 0, 0, 0, 1),
			"01" + tx1.String() + "0001" + "000000000bebc200"},
		{"0x41 p2tr-many page 2 of 3: tx2:8", 0x41, append([]byte(f.addr["p2tr-many"]), 0, 0, 2, 3),
			"01" + tx2.String() + "0008" + "0000000000989680"},
		{"0x42 version", 0x42, txIn(tx2, "20000000"), "00000002"},
		{"0x42 locktime 102", 0x42, txIn(tx2, "08000000"), "00000066"},
		{"0x42 block hash", 0x42, txIn(tx2, "40000000"), f.blocks[102].BlockHash().String()},
		{"0x42 size and vsize", 0x42, txIn(tx2, "10000000"),
			u32(uint32(f.tx2.SerializeSize())) + u32(uint32((weight+3)/4))},
		{"0x42 inputs with sequences", 0x42, txIn(tx2, "04800800"),
			"0002" + "0000000005f5e100" + "fffffffd" + "000000001dcd6500" + "fffffffe"},
		{"0x42 inputs with source", 0x42, txIn(tx2, "02000000"), ""},
		{"0x42 one input with source and scriptSig cut at 16", 0x42, txIn(tx2, "07000000"),
			"0002" + "0000000005f5e100" + tx1.String() + "0000" + "006b" + hex.EncodeToString(sig[:16])},
		{"0x42 second input: taproot, empty scriptSig, vout 4", 0x42, txIn(tx2, "07000808"),
			"0002" + "0000000005f5e100" + tx1.String() + "0000" + "006b" + hex.EncodeToString(sig[:64]) +
				"000000001dcd6500" + tx1.String() + "0004" + "0000"},
		{"0x42 outputs, max 4, OP_RETURN excluded (count 9)", 0x42, txIn(tx2, "00400200"),
			"0009" + "0000000002faf080" + "0000000000989680" + "0000000000989680" + "0000000000989680"},
		{"0x42 outputs, max 4, OP_RETURN included (count 10)", 0x42, txIn(tx2, "00480200"),
			"000a" + "0000000002faf080" + "0000000000000000" + "0000000000989680" + "0000000000989680"},
		{"0x42 OP_RETURN script cut at 16 when included", 0x42, txIn(tx2, "00680100"),
			"000a" + "0000000002faf080" + "0016" + hex.EncodeToString(f.tx2.TxOut[0].PkScript[:16]) +
				"0000000000000000" + "0008" + hex.EncodeToString(f.tx2.TxOut[1].PkScript)},
		{"0x42 tx1 spent flags: vout 0 and 4 spent by tx2", 0x42, txIn(tx1, "00440700"),
			"0006" + "0000000005f5e100" + "01" + "000000000bebc200" + "00" + "0000000011e1a300" + "00" +
				"0000000017d78400" + "00" + "000000001dcd6500" + "01" +
				fmt.Sprintf("%016x", f.tx1.TxOut[6].Value) + "00"},
		{"0x42 coinbase input: value 0, null prevout, vout saturated", 0x42,
			txIn(f.blocks[101].Transactions[0].TxHash(), "06000000"),
			"0001" + "0000000000000000" + strings.Repeat("0", 64) + "ffff"},
		{"0x43 tx1 at 102, view 106", 0x43, display(tx1), "00000005"},
		{"0x44 view header", 0x44, nil, hdr(106, tip)},
		{"0x45 genesis", 0x45, []byte{0, 0, 0, 0}, hdr(0, regtest.GenesisBlock.Header)},
		{"0x45 block 104", 0x45, []byte{0, 0, 0, 104}, hdr(104, f.blocks[103].Header)},
		{"0x47 tx2 input 0: p2pkh, no witness, scriptSig cut at 16", 0x47, txIn(tx2, "0000 0010"),
			"0000" + "0000000005f5e100" + tx1.String() + "0000" + "006b" + hex.EncodeToString(sig[:16]) + "fffffffd"},
		{"0x47 tx2 input 1: taproot, one witness element, vout 4", 0x47, txIn(tx2, "0001 ffff"),
			"0001" + "000000001dcd6500" + tx1.String() + "0004" + "0000" + "fffffffe"},
		{"0x48 tx1 output 0: spent by tx2", 0x48, txIn(tx1, "0000 ffff"),
			"0000000005f5e100" + "0019" + hex.EncodeToString(f.script["p2pkh"]) + "01"},
		{"0x48 tx1 output 1: p2sh, unspent", 0x48, txIn(tx1, "0001 ffff"),
			"000000000bebc200" + "0017" + hex.EncodeToString(f.script["p2sh"]) + "00"},
		{"0x48 tx1 output 5: OP_RETURN, script cut at 4", 0x48, txIn(tx1, "0005 0004"),
			"0000000000000000" + fmt.Sprintf("%04x", len(f.tx1.TxOut[5].PkScript)) + hex.EncodeToString(f.tx1.TxOut[5].PkScript[:4]) + "00"},
		{"0x49 tx2 input 1 element 0: the 64-byte schnorr signature", 0x49, txIn(tx2, "0001 0000 ffff"),
			"0040" + hex.EncodeToString(f.tx2.TxIn[1].Witness[0])},
		{"0x49 tx1 input 0 element 1: the compressed public key", 0x49, txIn(tx1, "0000 0001 ffff"),
			"0021" + hex.EncodeToString(f.tx1.TxIn[0].Witness[1])},
		{"0x49 tx2 input 0: no witness", 0x49, txIn(tx2, "0000 0000 ffff"), ""},
	}
	if view.Tip().Hash != tip.BlockHash() {
		t.Fatalf("view %s is not block 106", view.Tip().Hash)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pcs[addrOf(tt.addr)].Run(tt.input)
			if err != nil {
				t.Fatal(err)
			}
			if want := mustHex(t, tt.want); !bytes.Equal(got, want) {
				t.Fatalf("\n got  %x\n want %x", got, want)
			}
		})
	}
}

// TestReservedBitsAddNothing sets every reserved bit on top of many flag
// combinations of 0x42 and expects the same answer.
func TestReservedBitsAddNothing(t *testing.T) {
	f, _, pcs := sharedFixture(t)
	p := pcs[AddrTx]
	reserved := [4]byte{0x80, 0x13, 0xc0, 0xf0}
	for _, txid := range []chainhash.Hash{f.tx1.TxHash(), f.tx2.TxHash(), f.blocks[101].Transactions[0].TxHash()} {
		for b1 := 0; b1 < 0x80; b1 += 5 {
			for _, b2 := range []byte{0x00, 0x84, 0x40, 0x6c, 0xec} {
				flags := [4]byte{byte(b1), b2, byte(b1) & 0x3f, byte(b1) & 0x0f}
				plain, _ := p.Run(append(display(txid), flags[:]...))
				for i := range flags {
					flags[i] |= reserved[i]
				}
				with, _ := p.Run(append(display(txid), flags[:]...))
				if !bytes.Equal(plain, with) {
					t.Fatalf("tx %s flags %x: reserved bits changed the answer", txid, flags)
				}
			}
		}
	}
}

func TestDecodeTxFlags(t *testing.T) {
	tests := []struct {
		name  string
		flags [4]byte
		want  txFlags
	}{
		{"zero: nothing, smallest limits", [4]byte{}, txFlags{maxInputs: 1, maxOutputs: 1, maxScriptSig: 16, maxScript: 16}},
		{"everything", [4]byte{0x7f, 0xec, 0x3f, 0x0f}, txFlags{
			blockHash: true, version: true, sizes: true, lockTime: true, inputs: true, inputSource: true, scriptSig: true,
			sequence: true, outputs: true, outputScript: true, unspendable: true, spent: true,
			maxInputs: 128, maxOutputs: 128, maxScriptSig: 128, maxScript: 128}},
		{"reserved only", [4]byte{0x80, 0x13, 0xc0, 0xf0}, txFlags{maxInputs: 1, maxOutputs: 1, maxScriptSig: 16, maxScript: 16}},
		{"limits 2^3 inputs, 2^5 outputs, 32 and 64 bytes", [4]byte{0, 0, 0x1d, 0x06}, txFlags{maxInputs: 8, maxOutputs: 32, maxScriptSig: 32, maxScript: 64}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decodeTxFlags(tt.flags); got != tt.want {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseInputs(t *testing.T) {
	t.Run("utxo query", func(t *testing.T) {
		tests := []struct {
			name  string
			input string
			ok    bool
			want  utxoQuery
		}{
			{"empty", "", false, utxoQuery{}},
			{"suffix only", "00000a0b", false, utxoQuery{}},
			{"one byte address, default size", "61 010203 00", true, utxoQuery{addr: []byte("a"), page: 0x010203, pageSize: 10}},
			{"max page and size", "6162 ffffff ff", true, utxoQuery{addr: []byte("ab"), page: 1<<24 - 1, pageSize: 255}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, ok := parseUTXOQuery(mustHex(t, tt.input))
				if ok != tt.ok || !bytes.Equal(got.addr, tt.want.addr) || got.page != tt.want.page || got.pageSize != tt.want.pageSize {
					t.Fatalf("got %+v %v, want %+v %v", got, ok, tt.want, tt.ok)
				}
			})
		}
	})
	t.Run("height", func(t *testing.T) {
		tests := []struct {
			name  string
			input string
			ok    bool
			want  int32
		}{
			{"zero", "00000000", true, 0},
			{"big endian", "00010002", true, 65538},
			{"max int32", "7fffffff", true, 1<<31 - 1},
			{"above int32", "80000000", false, 0},
			{"short", "000001", false, 0},
			{"long", "0000000100", false, 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, ok := parseHeight(mustHex(t, tt.input))
				if ok != tt.ok || got != tt.want {
					t.Fatalf("got %d %v, want %d %v", got, ok, tt.want, tt.ok)
				}
			})
		}
	})
	t.Run("txid display order", func(t *testing.T) {
		h, _ := chainhash.NewHashFromStr("4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b")
		got, ok := parseTxid(mustHex(t, "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"))
		if !ok || got != *h {
			t.Fatalf("got %s %v, want %s", got, ok, h)
		}
	})
}

func TestGas(t *testing.T) {
	txid := make([]byte, 32)
	tests := []struct {
		name  string
		addr  byte
		input []byte
		want  uint64
	}{
		{"0x40 fixed", 0x40, []byte("anything"), 4_200},
		{"0x41 default page", 0x41, []byte("addr\x00\x00\x00\x00"), 4_200 + 10*2_100},
		{"0x41 page 2 of 5", 0x41, []byte("addr\x00\x00\x02\x05"), 4_200 + 15*2_100},
		{"0x41 invalid input", 0x41, nil, 4_200},
		{"0x42 no inputs, no spent", 0x42, append(txid, 0x7b, 0xa0, 0x3f, 0x0f), 4_200},
		{"0x42 8 inputs", 0x42, append(txid, 0x04, 0x00, 0x18, 0x00), 4_200 + 8*4_200},
		{"0x42 4 spent flags", 0x42, append(txid, 0x00, 0x44, 0x02, 0x00), 4_200 + 4*2_100},
		{"0x42 spent flags without outputs bit", 0x42, append(txid, 0x00, 0x04, 0x07, 0x00), 4_200},
		{"0x42 worst case", 0x42, append(txid, 0xff, 0xff, 0xff, 0xff), 4_200 + 128*4_200 + 128*2_100},
		{"0x42 wrong length", 0x42, txid, 4_200},
		{"0x43 fixed", 0x43, txid, 4_200},
		{"0x44 fixed", 0x44, nil, 1_000},
		{"0x45 fixed", 0x45, []byte{0, 0, 0, 1}, 1_500},
		{"0x46 fixed", 0x46, nil, 600},
		{"0x42 BitcoinKit's getTransactionByTxId", 0x42, append(txid, 0x7f, 0xfe, 0x2d, 0x0a), 205_800},
		{"0x47 max 0", 0x47, append(txid, 0, 0, 0, 0), 8_400},
		{"0x47 max 1", 0x47, append(txid, 0, 0, 0, 1), 8_400 + 3},
		{"0x47 max 65535", 0x47, append(txid, 0, 0, 0xff, 0xff), 8_400 + 2048*3},
		{"0x47 wrong length", 0x47, txid, 8_400},
		{"0x48 max 32", 0x48, append(txid, 0xff, 0xff, 0, 32), 6_300 + 3},
		{"0x48 max 65535", 0x48, append(txid, 0, 0, 0xff, 0xff), 6_300 + 2048*3},
		{"0x48 wrong length", 0x48, nil, 6_300},
		{"0x49 max 33", 0x49, append(txid, 0, 0, 0, 0, 0, 33), 4_200 + 6},
		{"0x49 max 65535", 0x49, append(txid, 0, 0, 0, 0, 0xff, 0xff), 4_200 + 2048*3},
		{"0x49 wrong length (36)", 0x49, append(txid, 0, 0, 0xff, 0xff), 4_200},
	}
	if maxTxAnswer != 40_372 {
		t.Fatalf("maxTxAnswer %d, the package documentation says 40,372", maxTxAnswer)
	}
	if maxInputAnswer != 65_585 || maxOutputAnswer != 65_546 || maxWitnessAnswer != 65_537 {
		t.Fatalf("0x47-0x49 bounds %d, %d, %d; the package documentation says 65,585, 65,546, 65,537",
			maxInputAnswer, maxOutputAnswer, maxWitnessAnswer)
	}
	pcs := Precompiles(nil, regtest)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pcs[addrOf(tt.addr)].RequiredGas(tt.input); got != tt.want {
				t.Fatalf("gas %d, want %d", got, tt.want)
			}
		})
	}
}

// TestNilView: without a Bitcoin view every view-backed contract answers
// empty; 0x46 still works.
func TestNilView(t *testing.T) {
	pcs := Precompiles(nil, regtest)
	for a, p := range pcs {
		out, err := p.Run([]byte("bcrt1q3x88a578uuqgegzpuwxn5etvz32zam9q9xpghx"))
		if err != nil || (a != AddrAddrToScript && out != nil) {
			t.Fatalf("%s: %x %v", p.Name(), out, err)
		}
		// Well-formed 0x42-0x49 inputs (36 and 38 bytes) reach the view.
		for _, in := range [][]byte{make([]byte, 36), make([]byte, 38)} {
			if out, err := p.Run(in); err != nil || out != nil {
				t.Fatalf("%s on %d bytes: %x %v", p.Name(), len(in), out, err)
			}
		}
	}
}

// TestNotCacheable: go-ethereum caches results of precompiles that say
// they are pure, keyed by input only; ours depend on the view.
func TestNotCacheable(t *testing.T) {
	for _, p := range Precompiles(nil, regtest) {
		if c, ok := p.(vm.CacheablePrecompile); ok && c.Cacheable() {
			t.Fatalf("%s must not be cacheable", p.Name())
		}
	}
}
