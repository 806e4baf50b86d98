package tracker

import (
	"bytes"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/pop"
)

// bruteForce recomputes what the tracker maintains incrementally: every
// keystone's effective publication from the canonical blocks and the
// keystone tree, from scratch.
func bruteForce(blocks []btcBlock, ks map[[32]byte][32]byte) map[[32]byte]*pop.Publication {
	own := map[[32]byte]*pop.Publication{}
	for i := range blocks {
		for j := range blocks[i].pubs {
			p := &blocks[i].pubs[j]
			own[p.Keystone] = earlier(own[p.Keystone], p)
		}
	}
	out := map[[32]byte]*pop.Publication{}
	for id := range ks {
		var e *pop.Publication
		// id's subtree: every keystone whose ancestor chain reaches id.
		for d := range ks {
			for x, ok := d, true; ok; x, ok = ks[x] {
				if x == id {
					e = earlier(e, own[d])
					break
				}
				if _, known := ks[ks[x]]; !known {
					break
				}
			}
		}
		out[id] = e
	}
	return out
}

// FuzzTracker drives a tracker with arbitrary connects, disconnects and
// keystones (in any order, with publications of unknown ids and
// duplicates) and checks every keystone's status against bruteForce.
func FuzzTracker(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
	f.Add([]byte{3, 0, 3, 1, 0, 0x21, 2, 0x13, 1, 1, 3, 2, 0, 0x42, 1, 3, 0})
	f.Add(bytes.Repeat([]byte{0, 0x31, 3, 7, 1}, 20))
	f.Fuzz(func(t *testing.T, ops []byte) {
		tr := New(3)
		const nIDs = 8
		id := func(b byte) [32]byte { return [32]byte{0x1d, b % nIDs} }
		ks := map[[32]byte][32]byte{} // id -> prevID, as added
		fork := byte(0)
		for i := 0; i+1 < len(ops); i += 2 {
			op, arg := ops[i]%4, ops[i+1]
			switch op {
			case 0, 1: // connect a block with up to 3 publications
				h := int32(len(tr.blocks))
				var pubs []pop.Publication
				for j := range int(arg>>6) + int(op) {
					pubs = append(pubs, pop.Publication{Keystone: id(arg >> uint(j*2)), TxIndex: uint32(j % 2), Vout: uint32(j),
						Txid: chainhash.Hash{arg, byte(j)}})
				}
				if _, err := tr.ConnectBitcoin(h, chainhash.Hash{byte(h), byte(h >> 8), fork}, pubs); err != nil {
					t.Fatal(err)
				}
			case 2: // disconnect the tip, or a wrong hash (refused)
				if len(tr.blocks) == 0 {
					continue
				}
				tip := tr.blocks[len(tr.blocks)-1].hash
				if arg%5 == 0 {
					if _, err := tr.DisconnectBitcoin(chainhash.Hash{0xff}); err == nil {
						t.Fatal("disconnected a block that is not the tip")
					}
					continue
				}
				if _, err := tr.DisconnectBitcoin(tip); err != nil {
					t.Fatal(err)
				}
				fork++
			case 3: // add keystone arg%8 with previous arg>>3 % 8 (zero: first)
				k, prev := id(arg), [32]byte{}
				if p := (arg >> 3) % nIDs; p != arg%nIDs && arg&0x80 == 0 {
					prev = id(p)
				}
				if _, ok := ks[k]; ok {
					continue
				}
				// No cycles: a keystone cannot commit to a descendant.
				cyclic := false
				for x, ok := prev, true; ok; x, ok = ks[x] {
					if x == k {
						cyclic = true
						break
					}
				}
				if cyclic {
					continue
				}
				tr.AddKeystone(k, uint64(arg), common.Hash{arg}, prev)
				ks[k] = prev
			}
			want := bruteForce(tr.blocks, ks)
			tipH, _, _ := tr.Tip()
			for k, w := range want {
				s := tr.Status(k)
				if !s.Known || s.Published != (w != nil) {
					t.Fatalf("op %d: keystone %x: status %+v, want publication %+v", i/2, k[1], s, w)
				}
				if w == nil {
					continue
				}
				if s.Publication != *w {
					t.Fatalf("op %d: keystone %x: publication %+v, want %+v", i/2, k[1], s.Publication, *w)
				}
				if s.Confirmations != uint32(tipH-w.Height+1) || s.Superfinal != (s.Confirmations >= 3) {
					t.Fatalf("op %d: keystone %x: confirmations %d superfinal %v at tip %d", i/2, k[1], s.Confirmations, s.Superfinal, tipH)
				}
			}
		}
	})
}
