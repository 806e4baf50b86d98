package block

import (
	"bytes"
	"testing"

	"github.com/ethereum/go-ethereum/core/types"
)

// FuzzSystemTx: whatever decodes re-encodes to the same bytes and hashes
// to keccak of them; nothing panics.
func FuzzSystemTx(f *testing.F) {
	for _, c := range systemTxCases() {
		b, _ := c.tx.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte{SystemTxType, 0xc0})
	f.Fuzz(func(t *testing.T, in []byte) {
		var tx SystemTx
		if err := tx.UnmarshalBinary(in); err != nil {
			return
		}
		out, err := tx.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded tx does not encode: %v", err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("non-canonical input accepted:\n in %x\nout %x", in, out)
		}
	})
}

// FuzzBody: a decoded body re-encodes to the input and its roots compute.
func FuzzBody(f *testing.F) {
	for _, n := range [][2]int{{0, 0}, {1, 1}, {2, 3}} {
		b, _ := EncodeBody(testBody(f, n[0], n[1]))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := DecodeBody(in)
		if err != nil {
			return
		}
		out, err := EncodeBody(b)
		if err != nil {
			t.Fatalf("decoded body does not encode: %v", err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("non-canonical body accepted:\n in %x\nout %x", in, out)
		}
		_ = TxRoot(b)
		if len(b.TxHashes()) != b.Len() {
			t.Fatal("hash count")
		}
	})
}

// FuzzExtra: a decoded record re-encodes to the input.
func FuzzExtra(f *testing.F) {
	e := Extra{BitcoinHeight: 5, BitcoinHash: viewHash(f)}
	b, _ := e.Encode()
	f.Add(b)
	e.Seal = make([]byte, SealSize)
	b, _ = e.Encode()
	f.Add(b)
	h := testHeader(f)
	_ = Seal(h, testKey)
	f.Add(h.Extra)
	f.Fuzz(func(t *testing.T, in []byte) {
		e, err := DecodeExtra(in)
		if err != nil {
			return
		}
		out, err := e.Encode()
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("round trip: %x -> %x (%v)", in, out, err)
		}
		hh := testHeader(t)
		hh.Extra = in
		_, _ = Signer(hh) // must not panic on any seal bytes
	})
}

// FuzzReceipt: a decoded receipt re-encodes to the input.
func FuzzReceipt(f *testing.F) {
	for _, r := range testReceipts() {
		b, _ := r.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := UnmarshalReceipt(in)
		if err != nil {
			return
		}
		out, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		// go-ethereum's legacy decoder accepts a post-state root, which
		// re-encodes the same; typed ones must round trip exactly.
		if r.Type != types.LegacyTxType && !bytes.Equal(out, in) {
			t.Fatalf("round trip: %x -> %x", in, out)
		}
		_ = ReceiptRoot(types.Receipts{r})
	})
}
