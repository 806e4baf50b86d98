package bench

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/txgen"
)

var regtest = &chaincfg.RegressionNetParams

// tinyChainFile returns a chain file of n coinbase-only regtest blocks.
func tinyChainFile(t testing.TB, n int) []byte {
	t.Helper()
	c := txgen.NewChain(regtest)
	k := txgen.DeriveKey([]byte("tiny"), 0)
	payTo, _ := k.PkScript(txgen.P2TR)
	var blocks []*wire.MsgBlock
	for range n {
		b, err := c.NextBlock(txgen.BlockSpec{PayTo: payTo})
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, b)
	}
	return writeChainFile(t, blocks)
}

func writeChainFile(t testing.TB, blocks []*wire.MsgBlock) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.chain")
	w, err := NewChainWriter(path, regtest.Net, *regtest.GenesisHash)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		if err := w.Add(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestChainFileRoundTrip(t *testing.T) {
	data := tinyChainFile(t, 5)
	c, err := DecodeChainFile(data, regtest.Net, *regtest.GenesisHash)
	if err != nil {
		t.Fatal(err)
	}
	if c.Blocks() != 5 || c.Txs() != 5 {
		t.Fatalf("blocks %d txs %d", c.Blocks(), c.Txs())
	}
	if err := c.Verify(); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Raw(0); ok {
		t.Fatal("height 0 is not stored")
	}
	if _, ok := c.Raw(6); ok {
		t.Fatal("height 6 does not exist")
	}
}

func TestChainFileRejects(t *testing.T) {
	good := tinyChainFile(t, 3)
	c, err := DecodeChainFile(good, regtest.Net, *regtest.GenesisHash)
	if err != nil {
		t.Fatal(err)
	}
	idxOff := binary.LittleEndian.Uint64(good[len(good)-16:])
	first := c.entries[0]
	tests := []struct {
		name    string
		mutate  func(b []byte) []byte
		net     wire.BitcoinNet
		genesis *chainhash.Hash
	}{
		{"empty", func(b []byte) []byte { return nil }, 0, nil},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }, 0, nil},
		{"bad magic", func(b []byte) []byte { b[0] ^= 1; return b }, 0, nil},
		{"future format", func(b []byte) []byte { b[8] = 2; return b }, 0, nil},
		{"wrong network", nil, wire.MainNet, nil},
		{"wrong genesis", nil, 0, chaincfg.MainNetParams.GenesisHash},
		{"zero blocks", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[16:], 0); return b }, 0, nil},
		{"too many blocks", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[16:], 4); return b }, 0, nil},
		{"reserved set", func(b []byte) []byte { b[20] = 1; return b }, 0, nil},
		{"tx total", func(b []byte) []byte { b[24]++; return b }, 0, nil},
		{"index offset", func(b []byte) []byte { binary.LittleEndian.PutUint64(b[len(b)-16:], idxOff+1); return b }, 0, nil},
		{"entry offset", func(b []byte) []byte { b[idxOff]++; return b }, 0, nil},
		{"entry length", func(b []byte) []byte { b[idxOff+8]++; return b }, 0, nil},
		{"huge length", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[idxOff+8:], 1<<31); return b }, 0, nil},
		{"entry txs", func(b []byte) []byte { b[idxOff+12]++; return b }, 0, nil},
		{"entry hash", func(b []byte) []byte { b[idxOff+16]++; return b }, 0, nil},
		{"header bytes", func(b []byte) []byte { b[first.offset+70]++; return b }, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := bytes.Clone(good)
			if tc.mutate != nil {
				data = tc.mutate(data)
			}
			net, genesis := regtest.Net, *regtest.GenesisHash
			if tc.net != 0 {
				net = tc.net
			}
			if tc.genesis != nil {
				genesis = *tc.genesis
			}
			if _, err := DecodeChainFile(data, net, genesis); !errors.Is(err, ErrChainFile) {
				t.Fatalf("got %v, want ErrChainFile", err)
			}
		})
	}
}

func TestChainFileVerifyCatchesBody(t *testing.T) {
	data := tinyChainFile(t, 2)
	c, err := DecodeChainFile(data, regtest.Net, *regtest.GenesisHash)
	if err != nil {
		t.Fatal(err)
	}
	// Flip a byte of the first coinbase's output script: lengths and
	// header still decode, the merkle root no longer matches.
	e := c.entries[0]
	data[e.offset+uint64(e.length)-10] ^= 1
	if err := c.Verify(); !errors.Is(err, ErrChainFile) {
		t.Fatalf("got %v, want ErrChainFile", err)
	}
}

func FuzzDecodeChainFile(f *testing.F) {
	f.Add(tinyChainFile(f, 1))
	f.Add(tinyChainFile(f, 3))
	f.Add([]byte("HEMIBCH\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeChainFile(data, regtest.Net, *regtest.GenesisHash)
		if err != nil {
			if !errors.Is(err, ErrChainFile) {
				t.Fatalf("error %v does not wrap ErrChainFile", err)
			}
			return
		}
		if c.Verify() != nil {
			return
		}
		// A file that decodes and verifies re-encodes to the same bytes.
		var blocks []*wire.MsgBlock
		for h := int32(1); h <= c.Blocks(); h++ {
			raw, _ := c.Raw(h)
			var b wire.MsgBlock
			if err := b.Deserialize(bytes.NewReader(raw)); err != nil {
				t.Fatal(err)
			}
			blocks = append(blocks, &b)
		}
		if again := writeChainFile(t, blocks); !bytes.Equal(again, data) {
			t.Fatal("re-encoded file differs")
		}
	})
}

func BenchmarkDecodeChainFile(b *testing.B) {
	data := tinyChainFile(b, 500)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := DecodeChainFile(data, regtest.Net, *regtest.GenesisHash); err != nil {
			b.Fatal(err)
		}
	}
}
