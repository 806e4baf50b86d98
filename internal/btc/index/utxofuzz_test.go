package index

import (
	"bytes"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

var fuzzUTXO = utxo{sh: [32]byte{9}, height: 5, pos: 7, vout: 1, txid: chainhash.Hash{3}, value: 5e8}

func FuzzUnspentEntry(f *testing.F) {
	k := make([]byte, unspentKeyLen)
	putUnspentKey(k, &fuzzUTXO)
	v := make([]byte, unspentValLen)
	putUnspentVal(v, &fuzzUTXO)
	f.Add(k, v)
	f.Add(k[:10], v)
	f.Fuzz(func(t *testing.T, k, v []byte) {
		u, err := decodeUnspent(k, v)
		if err != nil {
			return
		}
		gk, gv := make([]byte, unspentKeyLen), make([]byte, unspentValLen)
		putUnspentKey(gk, &u)
		putUnspentVal(gv, &u)
		if !bytes.Equal(gk, k) || !bytes.Equal(gv, v) {
			t.Fatalf("round trip %x=%x -> %x=%x", k, v, gk, gv)
		}
	})
}

func FuzzOutpointEntry(f *testing.F) {
	v := make([]byte, outpointValLen)
	putOutpointVal(v, &fuzzUTXO)
	f.Add(v)
	f.Add(v[:47])
	f.Fuzz(func(t *testing.T, v []byte) {
		op := wire.OutPoint{Hash: chainhash.Hash{1}, Index: 2}
		u, err := decodeOutpointVal(&op, v)
		if err != nil {
			return
		}
		if u.outpoint() != op {
			t.Fatalf("outpoint %s, want %s", u.outpoint(), op)
		}
		got := make([]byte, outpointValLen)
		putOutpointVal(got, &u)
		if !bytes.Equal(got, v) {
			t.Fatalf("round trip %x -> %x", v, got)
		}
	})
}

func FuzzChangeEntry(f *testing.F) {
	for _, kind := range []uint8{changeCreate, changeSpend} {
		k := make([]byte, changeKeyLen)
		putChangeKey(k, &changeKey{sh: [32]byte{9}, height: 5, id: 6, kind: kind, pos: 7, n: 1})
		v := make([]byte, changeValLen)
		if kind == changeCreate {
			v = v[:changeCreateValLen]
		}
		putChangeVal(v, kind, &fuzzUTXO)
		f.Add(k, v)
	}
	f.Add([]byte{pfxChange}, []byte{})
	f.Fuzz(func(t *testing.T, k, v []byte) {
		c, err := decodeChangeKey(k)
		if err != nil {
			return
		}
		got := make([]byte, changeKeyLen)
		putChangeKey(got, &c)
		if !bytes.Equal(got, k) {
			t.Fatalf("key round trip %x -> %x", k, got)
		}
		u, err := decodeChange(&c, v)
		if err != nil {
			return
		}
		gv := make([]byte, len(v))
		putChangeVal(gv, c.kind, &u)
		if !bytes.Equal(gv, v) || u.sh != c.sh {
			t.Fatalf("value round trip %x -> %x", v, gv)
		}
		if c.kind == changeCreate && (u.height != c.height || u.pos != c.pos || u.vout != c.n) {
			t.Fatalf("creation %+v does not sit at its key %+v", u, c)
		}
	})
}

func FuzzUndoRecord(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, 64))
	f.Add(make([]byte, 31))
	f.Fuzz(func(t *testing.T, v []byte) {
		shs, err := decodeUndo(v)
		if err != nil {
			return
		}
		var got []byte
		for i := range shs {
			got = append(got, shs[i][:]...)
		}
		if !bytes.Equal(got, v) {
			t.Fatalf("round trip %x -> %x", v, got)
		}
	})
}

func FuzzBalance(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, v []byte) {
		b, err := decodeBalance(v)
		if err != nil {
			if len(v) == balanceValLen {
				t.Fatalf("8-byte balance refused: %v", err)
			}
			return
		}
		if got := be.AppendUint64(nil, uint64(b)); !bytes.Equal(got, v) {
			t.Fatalf("round trip %x -> %x", v, got)
		}
	})
}
