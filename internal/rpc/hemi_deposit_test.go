package rpc

import (
	"errors"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

func TestParseOutpoint(t *testing.T) {
	txid := "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
	h, _ := chainhash.NewHashFromStr(txid)
	cases := []struct {
		in   string
		want *wire.OutPoint
	}{
		{txid + ":0", &wire.OutPoint{Hash: *h}},
		{txid + ":4294967295", &wire.OutPoint{Hash: *h, Index: 4294967295}},
		{txid + ":4294967296", nil},
		{txid + ":-1", nil},
		{txid + ":", nil},
		{txid, nil},
		{txid[:62] + ":1", nil},
		{"zz" + txid[2:] + ":1", nil},
		{"", nil},
	}
	for _, c := range cases {
		got, err := parseOutpoint(c.in)
		if c.want == nil {
			var re *rpcError
			if !errors.As(err, &re) || re.code != codeInvalidParams {
				t.Errorf("%q: got %v %v, want invalid params", c.in, got, err)
			}
			continue
		}
		if err != nil || got != *c.want {
			t.Errorf("%q: got %v %v", c.in, got, err)
		}
	}
}

// FuzzParseOutpoint: any string parses or is an invalid-params error; a
// parsed outpoint prints back (OutPoint.String) to an equal outpoint.
func FuzzParseOutpoint(f *testing.F) {
	f.Add("4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b:0")
	f.Add(":")
	f.Add("00:1")
	f.Fuzz(func(t *testing.T, s string) {
		op, err := parseOutpoint(s)
		if err != nil {
			return
		}
		again, err := parseOutpoint(op.String())
		if err != nil || again != op {
			t.Fatalf("%q -> %v -> %v %v", s, op, again, err)
		}
	})
}
