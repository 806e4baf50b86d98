package tracker

import (
	"fmt"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/pop"
)

// benchTracker is a tracker holding a chain of n keystones, none
// published.
func benchTracker(n int) (*Tracker, [][32]byte) {
	tr := New(10)
	ids := make([][32]byte, n)
	prev := [32]byte{}
	for i := range ids {
		ids[i] = [32]byte{0xbe, byte(i), byte(i >> 8), byte(i >> 16)}
		tr.AddKeystone(ids[i], uint64(i+1)*25, common.Hash{}, prev)
		prev = ids[i]
	}
	return tr, ids
}

// BenchmarkConnectBitcoin measures one Bitcoin block publishing the
// newest keystone on a chain of 10,000 keystones, incrementally (the
// tracker) against recomputing every effective publication from scratch
// (the peer: what a stateless implementation re-derives per block), and
// reports the ratio.
func BenchmarkConnectBitcoin(b *testing.B) {
	const n = 10_000
	var incr, full time.Duration
	b.Run("tracker", func(b *testing.B) {
		tr, ids := benchTracker(n)
		start := time.Now()
		for i := 0; b.Loop(); i++ {
			p := pop.Publication{Keystone: ids[i%n], Txid: chainhash.Hash{byte(i)}, TxIndex: 1}
			if _, err := tr.ConnectBitcoin(int32(i), chainhash.Hash{byte(i), byte(i >> 8), byte(i >> 16), byte(i >> 24)}, []pop.Publication{p}); err != nil {
				b.Fatal(err)
			}
		}
		incr = time.Since(start) / time.Duration(max(b.N, 1))
	})
	b.Run("recompute", func(b *testing.B) {
		tr, ids := benchTracker(n)
		ks := make(map[[32]byte]*keystone, n)
		for id, k := range tr.keystones {
			ks[id] = k
		}
		start := time.Now()
		for i := 0; b.Loop(); i++ {
			p := pop.Publication{Keystone: ids[i%n], Txid: chainhash.Hash{byte(i)}, TxIndex: 1}
			tr.blocks = append(tr.blocks, btcBlock{height: int32(i), pubs: []pop.Publication{p}})
			tr.tip = btcTip{height: int32(i), ok: true}
			tr.pubs[p.Keystone] = append(tr.pubs[p.Keystone], p)
			// From scratch: own publications, then effective ones from
			// the newest keystone down to the first.
			for j := n - 1; j >= 0; j-- {
				k := ks[ids[j]]
				k.own = nil
				if list := tr.pubs[k.id]; len(list) > 0 {
					k.own = &list[0]
				}
				k.eff = k.own
				for _, c := range k.children {
					k.eff = earlier(k.eff, c.eff)
				}
			}
		}
		full = time.Since(start) / time.Duration(max(b.N, 1))
	})
	if incr > 0 && full > 0 {
		fmt.Printf("finality-connect tracker_ns=%d recompute_ns=%d ratio=%.1f", incr.Nanoseconds(), full.Nanoseconds(), float64(full)/float64(incr))
		fmt.Println()
	}
}

// BenchmarkPrefer measures fork choice between two branches of 100
// keystones each, all published.
func BenchmarkPrefer(b *testing.B) {
	tr := New(1000)
	var cur, cand []KeystoneRef
	for i := range 100 {
		a := [32]byte{0xa0, byte(i)}
		c := [32]byte{0xc0, byte(i)}
		cur = append(cur, KeystoneRef{Number: uint64(i+1) * 25, ID: a})
		cand = append(cand, KeystoneRef{Number: uint64(i+1) * 25, ID: c})
		if _, err := tr.ConnectBitcoin(int32(i), chainhash.Hash{byte(i)}, []pop.Publication{{Keystone: a}, {Keystone: c, TxIndex: 1}}); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		tr.Prefer(nil, cur, cand)
	}
}
