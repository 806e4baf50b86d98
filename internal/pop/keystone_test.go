package pop

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

func sampleKeystone() Keystone {
	k := Keystone{Version: 1, BTCViewHeight: 840000, L2Number: 25}
	for i := range k.ParentPrefix {
		k.ParentPrefix[i] = byte(0x10 + i)
	}
	for i := range k.PrevKeystone {
		k.PrevKeystone[i] = byte(0x20 + i)
	}
	for i := range k.StateRoot {
		k.StateRoot[i] = byte(0x40 + i)
	}
	for i := range k.BlockPrefix {
		k.BlockPrefix[i] = byte(0x80 + i)
	}
	return k
}

type golden struct {
	Keystone string `json:"keystone"`
	ID       string `json:"id"`
	Script   string `json:"script"`
}

// TestGolden pins the byte layout and id of a keystone to testdata, so a
// change to the wire format cannot pass unnoticed.
func TestGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/keystone.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	k := sampleKeystone()
	enc := k.Encode()
	if got := hex.EncodeToString(enc[:]); got != g.Keystone {
		t.Fatalf("encoding\n got  %s\n want %s", got, g.Keystone)
	}
	id := k.ID()
	if got := hex.EncodeToString(id[:]); got != g.ID {
		t.Fatalf("id\n got  %s\n want %s", got, g.ID)
	}
	if got := hex.EncodeToString(k.Script()); got != g.Script {
		t.Fatalf("script\n got  %s\n want %s", got, g.Script)
	}
	if len(k.Script()) != ScriptSize || ScriptSize != 83 {
		t.Fatalf("script size %d", len(k.Script()))
	}
}

func TestParseScript(t *testing.T) {
	k := sampleKeystone()
	good := k.Script()
	mut := func(f func(s []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := []struct {
		name   string
		script []byte
		want   error
	}{
		{name: "valid", script: good},
		{name: "empty", script: nil, want: ErrScript},
		{name: "short", script: good[:82], want: ErrScript},
		{name: "long", script: append(append([]byte(nil), good...), 0), want: ErrScript},
		{name: "not op_return", script: mut(func(s []byte) []byte { s[0] = 0x51; return s }), want: ErrScript},
		{name: "direct push", script: mut(func(s []byte) []byte { s[1] = 0x4d; return s }), want: ErrScript},
		{name: "push length", script: mut(func(s []byte) []byte { s[2] = 0x4f; return s }), want: ErrScript},
		{name: "magic", script: mut(func(s []byte) []byte { s[3] = 'X'; return s }), want: ErrMagic},
		{name: "version 0", script: mut(func(s []byte) []byte { s[7] = 0; return s }), want: ErrVersion},
		{name: "version 2", script: mut(func(s []byte) []byte { s[7] = 2; return s }), want: ErrVersion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseScript(tc.script)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want == nil && got != k {
				t.Fatalf("got %+v, want %+v", got, k)
			}
		})
	}
}

func FuzzParseScript(f *testing.F) {
	k := sampleKeystone()
	f.Add(k.Script())
	f.Add([]byte{0x6a, 0x4c, 0x50})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, script []byte) {
		ks, err := ParseScript(script)
		if err != nil {
			return
		}
		if !bytes.Equal(ks.Script(), script) {
			t.Fatalf("round trip changed the script")
		}
	})
}

func FuzzDecodeKeystone(f *testing.F) {
	k := sampleKeystone()
	enc := k.Encode()
	f.Add(enc[:])
	f.Add(make([]byte, KeystoneSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		ks, err := DecodeKeystone(b)
		if err != nil {
			return
		}
		if got := ks.Encode(); !bytes.Equal(got[:], b) {
			t.Fatalf("round trip changed the keystone")
		}
	})
}
