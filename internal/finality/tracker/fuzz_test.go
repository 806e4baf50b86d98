package tracker

import (
	"bytes"
	"errors"
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

// saveLoad saves tr as its owner does (State, each record encoded and
// decoded again, keystones in reverse order so children come before
// their parents) and returns the restored tracker.
func saveLoad(t *testing.T, tr *Tracker) *Tracker {
	t.Helper()
	st := tr.State()
	var back State
	back.HasTip, back.TipHeight, back.TipHash = st.HasTip, st.TipHeight, st.TipHash
	for i := range st.Blocks {
		enc, err := st.Blocks[i].MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		b, err := DecodeBlock(enc)
		if err != nil {
			t.Fatalf("block %d: %v", st.Blocks[i].Height, err)
		}
		back.Blocks = append(back.Blocks, b)
	}
	for i := len(st.Keystones) - 1; i >= 0; i-- {
		enc, err := st.Keystones[i].MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		k, err := DecodeKeystone(enc)
		if err != nil {
			t.Fatal(err)
		}
		back.Keystones = append(back.Keystones, k)
	}
	out, err := Restore(tr.Depth(), back)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	return out
}

// FuzzTracker drives a tracker with arbitrary connects, disconnects and
// keystones (in any order, with publications of unknown ids and
// duplicates), saving and restoring it at arbitrary points, and checks
// every keystone's status against bruteForce over the whole chain (the
// tracker keeps only the blocks that hold publications).
func FuzzTracker(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
	f.Add([]byte{3, 0, 3, 1, 0, 0x21, 2, 0x13, 1, 1, 3, 2, 0, 0x42, 1, 3, 0})
	f.Add(bytes.Repeat([]byte{0, 0x31, 3, 7, 1}, 20))
	f.Add([]byte{3, 0x08, 1, 0x41, 0, 0, 4, 0, 2, 1, 2, 1, 4, 0, 3, 0x11, 1, 0x82, 4, 0, 2, 3, 0, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		tr := New(3)
		const nIDs = 8
		id := func(b byte) [32]byte { return [32]byte{0x1d, b % nIDs} }
		ks := map[[32]byte][32]byte{} // id -> prevID, as added
		var chain []btcBlock          // every connected block, the model
		fork := byte(0)
		for i := 0; i+1 < len(ops); i += 2 {
			op, arg := ops[i]%5, ops[i+1]
			switch op {
			case 0, 1: // connect a block with up to 3 publications
				h := int32(len(chain))
				hash := chainhash.Hash{byte(h), byte(h >> 8), fork}
				var pubs []pop.Publication
				for j := range int(arg>>6) + int(op) {
					pubs = append(pubs, pop.Publication{Keystone: id(arg >> uint(j*2)), TxIndex: uint32(j % 2), Vout: uint32(j),
						Txid: chainhash.Hash{arg, byte(j)}})
				}
				if _, err := tr.ConnectBitcoin(h, hash, pubs); err != nil {
					t.Fatal(err)
				}
				b := btcBlock{height: h, hash: hash}
				for _, p := range pubs {
					p.Height, p.BlockHash = h, hash
					b.pubs = append(b.pubs, p)
				}
				chain = append(chain, b)
			case 2: // disconnect the tip, or a wrong hash (refused)
				if len(chain) == 0 {
					continue
				}
				tip := chain[len(chain)-1].hash
				var parent chainhash.Hash
				if len(chain) > 1 {
					parent = chain[len(chain)-2].hash
				}
				if arg%5 == 0 {
					if _, err := tr.DisconnectBitcoin(chainhash.Hash{0xff}, parent); err == nil {
						t.Fatal("disconnected a block that is not the tip")
					}
					continue
				}
				if _, err := tr.DisconnectBitcoin(tip, parent); err != nil {
					t.Fatal(err)
				}
				chain = chain[:len(chain)-1]
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
			case 4: // save and restore
				tr = saveLoad(t, tr)
			}
			if len(chain) > 0 {
				h, hash, ok := tr.Tip()
				if top := chain[len(chain)-1]; !ok || h != top.height || hash != top.hash {
					t.Fatalf("op %d: tip %d %s, want %d %s", i/2, h, hash, top.height, top.hash)
				}
			}
			want := bruteForce(chain, ks)
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

// FuzzDecodeRecords feeds arbitrary bytes to the saved-state decoders:
// they never panic, and what decodes encodes back to the same bytes.
func FuzzDecodeRecords(f *testing.F) {
	b := Block{Height: 7, Hash: chainhash.Hash{7}, Pubs: []pop.Publication{{Keystone: [32]byte{1}, Txid: chainhash.Hash{2}, Vout: 1, TxIndex: 3}}}
	a := common.Address{9}
	b2 := Block{Height: 8, Hash: chainhash.Hash{8}, Pubs: []pop.Publication{{Keystone: [32]byte{1}}, {Keystone: [32]byte{2}, Publisher: &a}}}
	k := Keystone{ID: [32]byte{1}, Number: 25, Hash: common.Hash{3}, PrevID: [32]byte{4}}
	for _, m := range []interface{ MarshalBinary() ([]byte, error) }{&b, &b2, &k} {
		enc, err := m.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
	}
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 48))
	f.Fuzz(func(t *testing.T, data []byte) {
		if b, err := DecodeBlock(data); err == nil {
			enc, err := b.MarshalBinary()
			if err != nil || !bytes.Equal(enc, data) {
				t.Fatalf("block round trip: %x -> %x (%v)", data, enc, err)
			}
			for _, p := range b.Pubs {
				if p.Height != b.Height || p.BlockHash != b.Hash {
					t.Fatalf("publication not stamped with its block: %+v", p)
				}
			}
		} else if !errors.Is(err, ErrBadState) {
			t.Fatalf("block decode error %v is not ErrBadState", err)
		}
		if k, err := DecodeKeystone(data); err == nil {
			enc, err := k.MarshalBinary()
			if err != nil || !bytes.Equal(enc, data) {
				t.Fatalf("keystone round trip: %x -> %x (%v)", data, enc, err)
			}
		} else if !errors.Is(err, ErrBadState) {
			t.Fatalf("keystone decode error %v is not ErrBadState", err)
		}
	})
}
