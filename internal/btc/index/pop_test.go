package index

import (
	"bytes"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/pop"
)

// popKeystone is a distinct valid keystone for tag.
func popKeystone(tag byte) pop.Keystone {
	return pop.Keystone{Version: pop.KeystoneVersion, BTCViewHeight: 3, L2Number: 25 * uint32(tag), StateRoot: [32]byte{tag}}
}

// ksID is k's id.
func ksID(k pop.Keystone) [32]byte { return k.ID() }

// rawID is the double-SHA256 of 76 bytes whatever their version: the id
// a malformed publication would have claimed.
func rawID(b []byte) [32]byte { return chainhash.DoubleHashH(b) }

// TestPoPBadInput feeds blocks with OP_RETURN outputs that look like PoP
// publications but break the format one way each, plus duplicate
// publications of one keystone in one transaction, one block and across
// blocks. Malformed ones are not indexed (no id answers them), every
// well-formed one is, in Bitcoin order, and the index never fails.
func TestPoPBadInput(t *testing.T) {
	payload := func(k pop.Keystone) []byte { p := k.Payload(); return p[:] }
	enc := func(k pop.Keystone) []byte { e := k.Encode(); return e[:] }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	hdr := []byte{txscript.OP_RETURN, txscript.OP_PUSHDATA1, byte(pop.PayloadSize)}

	// Each malformed script names the id its 76 keystone bytes would have.
	v2 := popKeystone(12)
	v2.Version = 2
	v0 := popKeystone(13)
	v0.Version = 0
	short := enc(popKeystone(14))[:pop.KeystoneSize-1]
	bad := []struct {
		name   string
		script []byte
		id     [32]byte
	}{
		// ksID(popKeystone(n)) cases are published well-formed in block 5
		// (the control: the id is right, and only the malformed copies
		// are ignored).
		{"wrong magic", cat(hdr, []byte("HEMX"), enc(popKeystone(10))), ksID(popKeystone(10))},
		{"lowercase magic", cat(hdr, []byte("hemi"), enc(popKeystone(11))), ksID(popKeystone(11))},
		{"version 2", cat(hdr, []byte(pop.Magic), enc(v2)), rawID(enc(v2))},
		{"version 0", cat(hdr, []byte(pop.Magic), enc(v0)), rawID(enc(v0))},
		{"79-byte push (keystone one byte short)", cat([]byte{txscript.OP_RETURN, txscript.OP_PUSHDATA1, 79}, []byte(pop.Magic), short), rawID(cat(short, []byte{0}))},
		{"81-byte push (one byte extra)", cat([]byte{txscript.OP_RETURN, txscript.OP_PUSHDATA1, 81}, payload(popKeystone(15)), []byte{0}), ksID(popKeystone(15))},
		{"push length byte says 80, script one byte short", cat(hdr, payload(popKeystone(16))[:pop.PayloadSize-1]), ksID(popKeystone(16))},
		{"trailing opcode after the payload", cat(hdr, payload(popKeystone(17)), []byte{txscript.OP_TRUE}), ksID(popKeystone(17))},
		{"OP_PUSHDATA2", cat([]byte{txscript.OP_RETURN, txscript.OP_PUSHDATA2, byte(pop.PayloadSize), 0}, payload(popKeystone(18))), ksID(popKeystone(18))},
		{"OP_PUSHDATA4", cat([]byte{txscript.OP_RETURN, txscript.OP_PUSHDATA4, byte(pop.PayloadSize), 0, 0, 0}, payload(popKeystone(19))), ksID(popKeystone(19))},
		{"two pushes (magic, keystone)", cat([]byte{txscript.OP_RETURN, txscript.OP_DATA_4}, []byte(pop.Magic), []byte{txscript.OP_DATA_75}, enc(popKeystone(20))[:75]), ksID(popKeystone(20))},
		{"not OP_RETURN", cat([]byte{txscript.OP_NOP, txscript.OP_PUSHDATA1, byte(pop.PayloadSize)}, payload(popKeystone(21))), ksID(popKeystone(21))},
		{"OP_FALSE OP_RETURN", cat([]byte{txscript.OP_FALSE, txscript.OP_RETURN, txscript.OP_PUSHDATA1, byte(pop.PayloadSize)}, payload(popKeystone(22))[:pop.PayloadSize-1]), ksID(popKeystone(22))},
		{"bare OP_RETURN", []byte{txscript.OP_RETURN}, ksID(popKeystone(23))},
		{"empty script", nil, ksID(popKeystone(23))},
	}
	for _, b := range bad {
		if _, err := pop.ParseScript(b.script); err == nil {
			t.Fatalf("%s: pop.ParseScript accepts it", b.name)
		}
	}

	g := newGen(regtest)
	pay := script(1)
	base := g.chain(t, *regtest.GenesisHash, 2, pay)
	k1, k2 := popKeystone(1), popKeystone(2)
	in := func(tag byte) []wire.OutPoint { return []wire.OutPoint{{Hash: chainhash.Hash{0xf0, tag}}} }
	// Block 3: every malformed script in one transaction, each also
	// alone in its own transaction; k1 twice in one transaction; k1 in a
	// later transaction.
	var allBad []*wire.TxOut
	var txs []*wire.MsgTx
	for i, b := range bad {
		allBad = append(allBad, &wire.TxOut{PkScript: b.script})
		txs = append(txs, spend(in(byte(100+i)), &wire.TxOut{PkScript: b.script}, &wire.TxOut{Value: 1000, PkScript: pay}))
	}
	txBad := spend(in(1), allBad...)
	txDup := spend(in(2), &wire.TxOut{PkScript: k1.Script()}, &wire.TxOut{Value: 1000, PkScript: pay}, &wire.TxOut{PkScript: k1.Script()})
	txK1 := spend(in(3), &wire.TxOut{PkScript: k1.Script()})
	b3 := g.block(t, base[1].BlockHash(), pay, append(append([]*wire.MsgTx{txBad}, txs...), txDup, txK1)...)
	// Block 4: k1 again and k2, both in one transaction, and the same
	// malformed scripts once more.
	txBoth := spend(in(4), &wire.TxOut{PkScript: k2.Script()}, &wire.TxOut{PkScript: k1.Script()})
	txBad2 := spend(in(5), allBad...)
	b4 := g.block(t, b3.BlockHash(), pay, txBad2, txBoth)
	var good []*wire.TxOut
	for tag := byte(10); tag <= 22; tag++ {
		if tag == 12 || tag == 13 || tag == 14 {
			continue // versions 2 and 0 and the short keystone have no well-formed twin
		}
		k := popKeystone(tag)
		good = append(good, &wire.TxOut{PkScript: k.Script()})
	}
	txGood := spend(in(6), good...)
	b5 := g.block(t, b4.BlockHash(), pay, txGood)
	bs := append(base, b3, b4, b5)

	ix := openTest(t, t.TempDir(), regtest)
	defer ix.Close()
	feed(t, ix, bs)
	mustTip(t, ix, b5.BlockHash(), 5)

	controls := map[[32]byte]bool{}
	for _, o := range good {
		k, err := pop.ParseScript(o.PkScript)
		if err != nil {
			t.Fatal(err)
		}
		controls[k.ID()] = true
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			ps, err := ix.Publications(b.id, b4.BlockHash())
			if err != nil || len(ps) != 0 {
				t.Fatalf("malformed publication indexed: %+v %v", ps, err)
			}
			ps, err = ix.Publications(b.id, chainhash.Hash{})
			want := 0
			if controls[b.id] {
				want = 1
			}
			if err != nil || len(ps) != want || (want == 1 && ps[0].Txid != txGood.TxHash()) {
				t.Fatalf("at the tip: %+v %v, want %d (the well-formed twin)", ps, err, want)
			}
		})
	}

	type at struct {
		block *wire.MsgBlock
		tx    *wire.MsgTx
		pos   uint32
		vout  uint32
	}
	pos3 := uint32(1 + 1 + len(txs)) // coinbase, txBad, the singles
	tests := []struct {
		name string
		id   [32]byte
		asOf chainhash.Hash
		want []at
	}{
		{"k1: twice in one tx, again in the block, again in the next block", k1.ID(), b5.BlockHash(), []at{
			{b3, txDup, pos3, 0}, {b3, txDup, pos3, 2}, {b3, txK1, pos3 + 1, 0}, {b4, txBoth, 2, 1}}},
		{"k1 as of block 3", k1.ID(), b3.BlockHash(), []at{
			{b3, txDup, pos3, 0}, {b3, txDup, pos3, 2}, {b3, txK1, pos3 + 1, 0}}},
		{"k2 beside k1 in one tx", k2.ID(), b4.BlockHash(), []at{{b4, txBoth, 2, 0}}},
		{"k2 as of block 3: not yet", k2.ID(), b3.BlockHash(), nil},
		{"unpublished keystone", ksID(popKeystone(3)), chainhash.Hash{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := ix.Publications(tc.id, tc.asOf)
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) != len(tc.want) {
				t.Fatalf("%d publications, want %d: %+v", len(ps), len(tc.want), ps)
			}
			for i, w := range tc.want {
				p := ps[i]
				if p.Keystone != tc.id || p.BlockHash != w.block.BlockHash() || p.Txid != w.tx.TxHash() || p.TxIndex != w.pos || p.Vout != w.vout {
					t.Fatalf("publication %d: %+v, want tx %s pos %d vout %d", i, p, w.tx.TxHash(), w.pos, w.vout)
				}
			}
		})
	}
	// Every transaction, malformed outputs and all, is indexed.
	for _, tx := range append(txs, txBad, txBad2) {
		if _, err := ix.TxByID(tx.TxHash(), chainhash.Hash{}); err != nil {
			t.Fatalf("tx %s: %v", tx.TxHash(), err)
		}
	}
}
