package verify

import (
	"os"
	"testing"
	"time"
)

func benchBundle(b *testing.B) (*Bundle, *Identity) {
	data, err := os.ReadFile("testdata/devnet_transfer.json")
	if err != nil {
		b.Fatal(err)
	}
	g, err := os.ReadFile("testdata/devnet_genesis.json")
	if err != nil {
		b.Fatal(err)
	}
	bd, err := ParseBundle(data)
	if err != nil {
		b.Fatal(err)
	}
	id, err := ParseGenesis(g)
	if err != nil {
		b.Fatal(err)
	}
	return bd, id
}

// The parts of a verification, for finding what costs in WebAssembly.
func BenchmarkPartGenesis(b *testing.B) {
	g, _ := os.ReadFile("testdata/devnet_genesis.json")
	for b.Loop() {
		if _, err := ParseGenesis(g); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPartHeaders(b *testing.B) {
	bd, _ := benchBundle(b)
	raw := make([][]byte, len(bd.Bitcoin.Headers))
	for i, h := range bd.Bitcoin.Headers {
		raw[i] = h
	}
	cp := regtestGenesis()
	for b.Loop() {
		if _, err := checkHeaders(&cp, bd.Bitcoin.Anchor, Networks["regtest"], raw, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPartSeal(b *testing.B) {
	bd, id := benchBundle(b)
	for b.Loop() {
		if _, err := decodeHeader(bd.Keystone.Header, id); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPartTrie(b *testing.B) {
	bd, _ := benchBundle(b)
	h, _ := decodeHeader(bd.Tx.Header, nil)
	key := []byte{0x01}
	for b.Loop() {
		if _, err := proveValue(h.h.TxHash, key, bd.Tx.TxProof); err != nil {
			b.Fatal(err)
		}
	}
}
