package hvm

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/txscript/v2"
)

// goldenInputs returns the golden file's inputs by precompile address
// byte, as fuzz seeds.
func goldenInputs(f *testing.F) map[byte][][]byte {
	out := map[byte][][]byte{}
	b, err := os.ReadFile(filepath.FromSlash(goldenPath))
	if err != nil {
		return out
	}
	var gf goldenFile
	if err := json.Unmarshal(b, &gf); err != nil {
		f.Fatal(err)
	}
	for _, v := range gf.Vectors {
		in, err := hex.DecodeString(v.Input)
		if err != nil {
			f.Fatal(err)
		}
		var a byte
		if _, err := fmt.Sscanf(v.Precompile, "0x%x", &a); err != nil {
			f.Fatal(err)
		}
		out[a] = append(out[a], in)
	}
	return out
}

// FuzzAddressScript: the address decoder of 0x40, 0x41 and 0x46 never
// panics, returns at most a 34-byte script, and what it accepts round
// trips: the script's own address decodes to the same script.
func FuzzAddressScript(f *testing.F) {
	for _, in := range goldenInputs(f)[0x46] {
		f.Add(in)
	}
	f.Add([]byte("bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr"))
	f.Add([]byte("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, params := range []*chaincfg.Params{regtest, &chaincfg.MainNetParams} {
			s, ok := addressScript(in, params)
			if !ok {
				if s != nil {
					t.Fatalf("rejected input gave script %x", s)
				}
				continue
			}
			if len(s) == 0 || len(s) > 34 {
				t.Fatalf("script of %d bytes", len(s))
			}
			_, addrs, _, err := txscript.ExtractPkScriptAddrs(s, params)
			if err != nil || len(addrs) != 1 {
				t.Fatalf("script %x of %q does not name one address: %v", s, in, err)
			}
			again, ok := addressScript([]byte(addrs[0].String()), params)
			if !ok || !bytes.Equal(again, s) {
				t.Fatalf("%q -> %x -> %s -> %x", in, s, addrs[0], again)
			}
		}
	})
}

// FuzzParseUTXOQuery: 0x41's input decoder never panics, keeps its
// fields in range and round trips (page size 0 reads as 10).
func FuzzParseUTXOQuery(f *testing.F) {
	for _, in := range goldenInputs(f)[0x41] {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		q, ok := parseUTXOQuery(in)
		if ok != (len(in) > 4) {
			t.Fatalf("ok %v for %d bytes", ok, len(in))
		}
		if !ok {
			return
		}
		if q.page < 0 || q.page >= 1<<24 || q.pageSize < 1 || q.pageSize > 255 {
			t.Fatalf("out of range: %+v", q)
		}
		size := byte(q.pageSize)
		if in[len(in)-1] == 0 {
			size = 0
		}
		re := append(append([]byte{}, q.addr...), u24(q.page)...)
		if re = append(re, size); !bytes.Equal(re, in) {
			t.Fatalf("round trip %x -> %x", in, re)
		}
	})
}

// FuzzParseTxQuery: 0x42's input decoder accepts exactly 36 bytes, round
// trips, and its flags decode to limits within the ABI's ranges.
func FuzzParseTxQuery(f *testing.F) {
	for _, in := range goldenInputs(f)[0x42] {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		q, ok := parseTxQuery(in)
		if ok != (len(in) == 36) {
			t.Fatalf("ok %v for %d bytes", ok, len(in))
		}
		if !ok {
			return
		}
		if re := append(display(q.txid), q.flags[:]...); !bytes.Equal(re, in) {
			t.Fatalf("round trip %x -> %x", in, re)
		}
		fl := decodeTxFlags(q.flags)
		pow2 := func(n, lo, hi int) bool { return n >= lo && n <= hi && n&(n-1) == 0 }
		if !pow2(fl.maxInputs, 1, 128) || !pow2(fl.maxOutputs, 1, 128) || !pow2(fl.maxScriptSig, 16, 128) || !pow2(fl.maxScript, 16, 128) {
			t.Fatalf("limits out of range: %+v", fl)
		}
		if g := gasTx(in); g < GasTxBase || g > GasTxBase+128*GasTxPerInput+128*GasTxPerSpent {
			t.Fatalf("gas %d out of range", g)
		}
	})
}

// FuzzHeightAndTxid: 0x43's and 0x45's decoders.
func FuzzHeightAndTxid(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1})
	f.Add(make([]byte, 32))
	f.Fuzz(func(t *testing.T, in []byte) {
		if h, ok := parseHeight(in); ok != (len(in) == 4 && in[0] < 0x80) || h < 0 {
			t.Fatalf("height %d ok %v for %x", h, ok, in)
		}
		if id, ok := parseTxid(in); ok != (len(in) == 32) || (ok && !bytes.Equal(display(id), in)) {
			t.Fatalf("txid %s ok %v for %x", id, ok, in)
		}
	})
}

// FuzzParsePartQuery: the decoders of 0x47/0x48 (36 bytes) and 0x49 (38
// bytes) accept exactly their length, round trip, and their gas stays
// within the documented range.
func FuzzParsePartQuery(f *testing.F) {
	seeds := goldenInputs(f)
	for _, a := range []byte{0x47, 0x48, 0x49} {
		for _, in := range seeds[a] {
			f.Add(in)
		}
	}
	f.Add(make([]byte, 36))
	f.Add(make([]byte, 38))
	u16 := func(n int) []byte { return []byte{byte(n >> 8), byte(n)} }
	f.Fuzz(func(t *testing.T, in []byte) {
		q, ok := parsePartQuery(in)
		if ok != (len(in) == 36) {
			t.Fatalf("part query ok %v for %d bytes", ok, len(in))
		}
		if ok {
			if re := cat(display(q.txid), u16(q.index), u16(q.max)); !bytes.Equal(re, in) {
				t.Fatalf("round trip %x -> %x", in, re)
			}
		}
		w, ok := parseWitnessQuery(in)
		if ok != (len(in) == 38) {
			t.Fatalf("witness query ok %v for %d bytes", ok, len(in))
		}
		if ok {
			if re := cat(display(w.txid), u16(w.index), u16(w.element), u16(w.max)); !bytes.Equal(re, in) {
				t.Fatalf("round trip %x -> %x", in, re)
			}
		}
		words := uint64(0xffff+31) / 32 * GasAnswerWord
		for _, g := range []struct {
			gas, base uint64
		}{{gasInput(in), GasInputByTxid}, {gasOutput(in), GasOutputByTxid}, {gasWitness(in), GasInputWitness}} {
			if g.gas < g.base || g.gas > g.base+words {
				t.Fatalf("gas %d outside [%d, %d]", g.gas, g.base, g.base+words)
			}
		}
	})
}

// maxAnswer bounds each precompile's output.
var maxAnswer = map[byte]int{
	0x40: 8,
	0x41: 1 + 255*(32+2+8),
	0x42: maxTxAnswer,
	0x43: 4,
	0x44: HeaderRecordLen,
	0x45: HeaderRecordLen,
	0x46: 34,
	0x47: maxInputAnswer,
	0x48: maxOutputAnswer,
	0x49: maxWitnessAnswer,
}

// FuzzPrecompiles runs every precompile on arbitrary input against the
// fixture view: never an error or panic, output within its bound, the
// same answer twice, and a view that never fails.
func FuzzPrecompiles(f *testing.F) {
	for a, ins := range goldenInputs(f) {
		for _, in := range ins {
			f.Add(a, in)
		}
	}
	f.Fuzz(func(t *testing.T, which byte, in []byte) {
		_, view, pcs := sharedFixture(t)
		a := 0x40 + which%10
		p := pcs[addrOf(a)]
		_ = p.RequiredGas(in)
		out, err := p.Run(in)
		if err != nil {
			t.Fatalf("0x%x: error %v", a, err)
		}
		if len(out) > maxAnswer[a] {
			t.Fatalf("0x%x: %d-byte answer, bound %d", a, len(out), maxAnswer[a])
		}
		if a == 0x41 && len(out) > 0 && (len(out)-1)%42 != 0 {
			t.Fatalf("0x41: answer of %d bytes is not a count and whole entries", len(out))
		}
		again, _ := p.Run(in)
		if !bytes.Equal(out, again) {
			t.Fatalf("0x%x: answers differ: %x then %x", a, out, again)
		}
		if err := view.Err(); err != nil {
			t.Fatal(err)
		}
	})
}
