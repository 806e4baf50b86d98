package verify_test

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hemi-go/hemi/verify"
	"github.com/hemi-go/hemi/verify/verifytest"
)

// hexField is one hex string of a bundle's JSON and where it is.
type hexField struct {
	path string
	set  func(string)
	val  string
}

// hexFields lists every hex string of v (a decoded JSON document), in a
// stable order.
func hexFields(v any, path string, out *[]hexField) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sortStrings(keys)
		for _, k := range keys {
			if s, ok := x[k].(string); ok && strings.HasPrefix(s, "0x") && len(s) > 2 {
				*out = append(*out, hexField{path + "." + k, func(n string) { x[k] = n }, s})
				continue
			}
			hexFields(x[k], path+"."+k, out)
		}
	case []any:
		for i := range x {
			if s, ok := x[i].(string); ok && strings.HasPrefix(s, "0x") && len(s) > 2 {
				*out = append(*out, hexField{fmt.Sprintf("%s[%d]", path, i), func(n string) { x[i] = n }, s})
				continue
			}
			hexFields(x[i], fmt.Sprintf("%s[%d]", path, i), out)
		}
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// tamperBases are the valid bundles the tampering fuzz target mutates:
// the devnet transfer and forged bundles of each shape.
func tamperBases(t testing.TB) []struct {
	data []byte
	opts verify.Options
} {
	var out []struct {
		data []byte
		opts verify.Options
	}
	b, g := devnetBundle(t)
	id, err := verify.ParseGenesis(g)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, struct {
		data []byte
		opts verify.Options
	}{b, verify.Options{Identity: id}})
	for _, s := range []verifytest.Spec{{}, {Kind: verify.KindDeposit}, {Distance: 20}, {SameBlock: true}} {
		f, err := verifytest.Build(s)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := f.Bundle.Marshal()
		out = append(out, struct {
			data []byte
			opts verify.Options
		}{d, verify.Options{Identity: f.Identity}})
	}
	return out
}

// FuzzTamper flips one byte of one hex field of a valid bundle (the
// devnet's transfer, forged transfers linked each way, a forged deposit)
// and checks the verifier refuses it and names a link. The one
// exception is the newest Bitcoin header: nothing commits to it, and
// another valid header (on regtest, a flipped nonce byte is one half the
// time) is as good a confirmation.
func FuzzTamper(f *testing.F) {
	bases := tamperBases(f)
	for i := range bases {
		f.Add(uint8(i), uint16(7*i+3), uint16(11*i), byte(1))
	}
	f.Fuzz(func(t *testing.T, which uint8, field, pos uint16, xor byte) {
		if xor == 0 {
			return
		}
		base := bases[int(which)%len(bases)]
		var doc any
		if err := json.Unmarshal(base.data, &doc); err != nil {
			t.Fatal(err)
		}
		var fields []hexField
		hexFields(doc, "", &fields)
		hf := fields[int(field)%len(fields)]
		raw, err := hex.DecodeString(hf.val[2:])
		if err != nil || len(raw) == 0 {
			t.Fatalf("%s: %q", hf.path, hf.val)
		}
		raw[int(pos)%len(raw)] ^= xor
		hf.set("0x" + hex.EncodeToString(raw))
		data, _ := json.Marshal(doc)
		r := verify.VerifyJSON(data, base.opts)
		last := fmt.Sprintf(".bitcoin.headers[%d]", countHeaders(doc)-1)
		if r.OK && hf.path != last {
			t.Fatalf("byte %d of %s flipped by %#x: the bundle still verifies", int(pos)%len(raw), hf.path, xor)
		}
		if !r.OK && r.FailedLink == "" {
			t.Fatalf("refused without naming a link: %+v", r)
		}
	})
}

func countHeaders(doc any) int {
	b := doc.(map[string]any)["bitcoin"].(map[string]any)["headers"].([]any)
	return len(b)
}

// TestTamperEveryField runs FuzzTamper's check on every hex field of the
// forged bundles, first and last byte, so each field is covered in every
// `go test` run (the fuzz seeds sample only a few).
func TestTamperEveryField(t *testing.T) {
	for bi, base := range tamperBases(t) {
		var doc any
		_ = json.Unmarshal(base.data, &doc)
		var fields []hexField
		hexFields(doc, "", &fields)
		last := fmt.Sprintf(".bitcoin.headers[%d]", countHeaders(doc)-1)
		for fi := range fields {
			for _, pos := range []int{0, -1} {
				var d any
				_ = json.Unmarshal(base.data, &d)
				var fs []hexField
				hexFields(d, "", &fs)
				hf := fs[fi]
				raw, _ := hex.DecodeString(hf.val[2:])
				p := pos
				if p < 0 {
					p = len(raw) - 1
				}
				raw[p] ^= 0x01
				hf.set("0x" + hex.EncodeToString(raw))
				data, _ := json.Marshal(d)
				r := verify.VerifyJSON(data, base.opts)
				if r.OK && hf.path != last {
					t.Fatalf("bundle %d: byte %d of %s flipped: still verifies", bi, p, hf.path)
				}
			}
		}
		t.Logf("bundle %d: %d hex fields, each refused when flipped", bi, len(fields))
	}
}

// FuzzVerifyJSON feeds arbitrary documents to the verifier: it must
// never panic, and refuse with a named link.
func FuzzVerifyJSON(f *testing.F) {
	// The forged bundles only: the devnet's 40 KB one makes every
	// mutation and minimization step slow, and FuzzTamper covers it.
	for _, b := range tamperBases(f)[1:] {
		f.Add(b.data)
	}
	f.Add([]byte(`{"version":1,"kind":"tx","tx":{}}`))
	f.Add([]byte(`{"version":1,"kind":"deposit","chainId":99,"bitcoinNetwork":"regtest","deposit":{"storageProofs":[[]]}}`))
	id := verifytest.Identity(4)
	f.Fuzz(func(t *testing.T, data []byte) {
		r := verify.VerifyJSON(data, verify.Options{Identity: id, Now: time.Unix(2_000_000_000, 0)})
		if !r.OK && r.FailedLink == "" {
			t.Fatalf("refused without naming a link: %+v", r)
		}
	})
}
