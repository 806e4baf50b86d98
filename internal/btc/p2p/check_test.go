package p2p

import (
	"bytes"
	"errors"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

func TestCheckHeaders(t *testing.T) {
	t.Parallel()
	tc := buildChain(t, 5, 0)
	params := tc.params
	hdr := func(i int) *wire.BlockHeader { h := tc.blocks[i].Header; return &h }
	tests := []struct {
		name  string
		hdrs  func() []*wire.BlockHeader
		valid bool
	}{
		{name: "chained valid headers", hdrs: func() []*wire.BlockHeader { return []*wire.BlockHeader{hdr(1), hdr(2), hdr(3)} }, valid: true},
		{name: "empty", hdrs: func() []*wire.BlockHeader { return nil }, valid: true},
		{name: "nil header", hdrs: func() []*wire.BlockHeader { return []*wire.BlockHeader{hdr(1), nil} }},
		{name: "gap", hdrs: func() []*wire.BlockHeader { return []*wire.BlockHeader{hdr(1), hdr(3)} }},
		{name: "hash above target", hdrs: func() []*wire.BlockHeader {
			h := hdr(2)
			failPoW(h, params)
			return []*wire.BlockHeader{h}
		}},
		{name: "target above network limit", hdrs: func() []*wire.BlockHeader {
			h := hdr(2)
			h.Bits = 0x2100ffff
			return []*wire.BlockHeader{h}
		}},
		{name: "zero target", hdrs: func() []*wire.BlockHeader {
			h := hdr(2)
			h.Bits = 0
			return []*wire.BlockHeader{h}
		}},
		{name: "negative target", hdrs: func() []*wire.BlockHeader {
			h := hdr(2)
			h.Bits = 0x1d800001
			return []*wire.BlockHeader{h}
		}},
		{name: "mainnet difficulty not met", hdrs: func() []*wire.BlockHeader {
			h := hdr(2)
			h.Bits = chaincfg.MainNetParams.PowLimitBits
			return []*wire.BlockHeader{h}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.hdrs()
			out, err := checkHeaders(in, params.PowLimit)
			if tt.valid {
				if err != nil || len(out) != len(in) {
					t.Fatalf("checkHeaders = %d, %v; want %d headers", len(out), err, len(in))
				}
				for i := range in {
					if out[i] != *in[i] {
						t.Errorf("header %d changed", i)
					}
				}
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

// FuzzCheckHeaders feeds arbitrary bytes as a headers payload: decoding
// and checking never panic, and accepted headers chain and meet their
// targets.
func FuzzCheckHeaders(f *testing.F) {
	tc := buildChain(f, 3, 0)
	var seed bytes.Buffer
	msg := wire.NewMsgHeaders()
	for _, b := range tc.blocks[1:] {
		h := b.Header
		_ = msg.AddBlockHeader(&h)
	}
	_ = msg.BtcEncode(&seed, wire.ProtocolVersion, wire.BaseEncoding)
	f.Add(seed.Bytes())
	f.Add([]byte{1, 0})
	f.Add(garbage(170))
	powLimit := tc.params.PowLimit
	f.Fuzz(func(t *testing.T, data []byte) {
		var m wire.MsgHeaders
		if err := m.BtcDecode(bytes.NewReader(data), wire.ProtocolVersion, wire.BaseEncoding); err != nil {
			return
		}
		out, err := checkHeaders(m.Headers, powLimit)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		for i := range out {
			h := out[i].BlockHash()
			if checkPoW(out[i].Bits, &h, powLimit) != nil {
				t.Fatalf("header %d accepted without proof of work", i)
			}
			if i > 0 && out[i].PrevBlock != out[i-1].BlockHash() {
				t.Fatalf("header %d accepted without chaining", i)
			}
		}
	})
}
