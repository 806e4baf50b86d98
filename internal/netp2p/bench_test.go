package netp2p

import (
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// BenchmarkGossipValidate: what the validator costs per message of a
// block of 100 transfers (the benchmark workload of issue 10), split into
// decoding (snappy + RLP) and the whole Check (decoding, seal recovery,
// transactions root, the window and per-height records). It runs on
// every message before it is forwarded, so it adds to every hop of
// propagation; the ratio says how much of it the decoding is.
func BenchmarkGossipValidate(b *testing.B) {
	seq := testKey("seq")
	blk := testBlock(b, seq, 1, common.Hash{1}, 100)
	data := encode(b, blk)
	seqs := []common.Address{crypto.PubkeyToAddress(seq.PublicKey)}
	var decodeNs, checkNs float64
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := DecodeBlock(data); err != nil {
				b.Fatal(err)
			}
		}
		decodeNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	b.Run("check", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		g := NewGate(seqs)
		for b.Loop() {
			if d := g.Check(data, Facts{Head: 0}); d.Verdict != Accept {
				b.Fatal(d.Err)
			}
			// Forget it: every message is new to the gate.
			g.seen.Remove(blk.Hash())
			g.heights.Remove(1)
		}
		checkNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	if decodeNs > 0 && checkNs > 0 {
		b.Logf("block of 100 transfers, %d bytes compressed: decode %.0f us, check %.0f us, decode/check %.2f",
			len(data), decodeNs/1e3, checkNs/1e3, decodeNs/checkNs)
	}
}
