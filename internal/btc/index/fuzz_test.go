package index

import (
	"bytes"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// Every decoder of stored values is fuzzed: arbitrary input must not
// panic, and whatever decodes must encode back to the same bytes.

func FuzzHeaderRecord(f *testing.F) {
	f.Add(encodeHeaderRecord(&regtest.GenesisBlock.Header, statusHaveData|statusIndexed))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, v []byte) {
		r, err := decodeHeaderRecord(v)
		if err != nil {
			return
		}
		if got := encodeHeaderRecord(&r.Header, r.Status); !bytes.Equal(got, v) {
			t.Fatalf("round trip %x -> %x", v, got)
		}
	})
}

func FuzzTxEntry(f *testing.F) {
	k := make([]byte, txKeyLen)
	putTxKey(k, &chainhash.Hash{1, 2}, 7)
	v := make([]byte, txValLen)
	putTxVal(v, txLoc{Pos: 1, Offset: 81, Size: 200})
	f.Add(k, v)
	f.Fuzz(func(t *testing.T, k, v []byte) {
		if txid, id, err := decodeTxKey(k); err == nil {
			got := make([]byte, txKeyLen)
			putTxKey(got, &txid, id)
			if !bytes.Equal(got, k) {
				t.Fatalf("key round trip %x -> %x", k, got)
			}
		}
		if loc, err := decodeTxVal(v); err == nil {
			got := make([]byte, txValLen)
			putTxVal(got, loc)
			if !bytes.Equal(got, v) {
				t.Fatalf("value round trip %x -> %x", v, got)
			}
		}
	})
}

func FuzzSpendEntry(f *testing.F) {
	k := make([]byte, spendKeyLen)
	putSpendKey(k, &wire.OutPoint{Hash: chainhash.Hash{4}, Index: 2}, 11)
	v := make([]byte, spendValLen)
	putSpendVal(v, &chainhash.Hash{5}, 1, 3)
	f.Add(k, v)
	f.Fuzz(func(t *testing.T, k, v []byte) {
		if s, err := decodeSpendKey(k); err == nil {
			got := make([]byte, spendKeyLen)
			putSpendKey(got, &s.Prev, s.ID)
			if !bytes.Equal(got, k) {
				t.Fatalf("key round trip %x -> %x", k, got)
			}
		}
		if s, err := decodeSpendVal(v); err == nil {
			got := make([]byte, spendValLen)
			putSpendVal(got, &s.Txid, s.Vin, s.Pos)
			if !bytes.Equal(got, v) {
				t.Fatalf("value round trip %x -> %x", v, got)
			}
		}
	})
}

func FuzzPopEntry(f *testing.F) {
	k := make([]byte, popKeyLen)
	putPopKey(k, &popKey{Keystone: [32]byte{7}, ID: 1, Pos: 2, Vout: 0})
	f.Add(k, make([]byte, popValLen))
	f.Fuzz(func(t *testing.T, k, v []byte) {
		if p, err := decodePopKey(k); err == nil {
			got := make([]byte, popKeyLen)
			putPopKey(got, &p)
			if !bytes.Equal(got, k) {
				t.Fatalf("key round trip %x -> %x", k, got)
			}
		}
		if txid, err := decodePopVal(v); err == nil && !bytes.Equal(txid[:], v) {
			t.Fatalf("value round trip %x -> %x", v, txid)
		}
	})
}

func FuzzEvent(f *testing.F) {
	f.Add(eventKey(42), encodeEvent(&storedEvent{Kind: EventDisconnected, ID: 3, Height: 9, Hash: chainhash.Hash{8}}))
	f.Fuzz(func(t *testing.T, k, v []byte) {
		if seq, err := decodeEventKey(k); err == nil && !bytes.Equal(eventKey(seq), k) {
			t.Fatalf("key round trip %x", k)
		}
		if e, err := decodeEvent(v); err == nil && !bytes.Equal(encodeEvent(&e), v) {
			t.Fatalf("value round trip %x", v)
		}
	})
}

func FuzzCanonAndTip(f *testing.F) {
	f.Add(encodeCanon(5, &chainhash.Hash{1}), idKey(pfxHeader, 9))
	f.Fuzz(func(t *testing.T, v, k []byte) {
		if id, h, err := decodeCanon(v); err == nil && !bytes.Equal(encodeCanon(id, &h), v) {
			t.Fatalf("canonical round trip %x", v)
		}
		if id, err := decodeIDKey(pfxHeader, k); err == nil && !bytes.Equal(idKey(pfxHeader, id), k) {
			t.Fatalf("id key round trip %x", k)
		}
	})
}

// FuzzRawBlock: decodeRawBlock (used on stored blocks) never panics, and a
// block it accepts re-encodes to the same bytes with the same txids.
func FuzzRawBlock(f *testing.F) {
	g := newGen(regtest)
	wtx := spend([]wire.OutPoint{{Hash: chainhash.Hash{1}}}, &wire.TxOut{Value: 1, PkScript: script(2)})
	b := g.blockAt(f, *regtest.GenesisHash, time.Unix(1_300_000_000, 0), regtest.PowLimitBits, script(1), wtx)
	raw, _, err := encodeBlock(b)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	genesis, _ := serializeBlock(regtest.GenesisBlock)
	f.Add(genesis)
	f.Fuzz(func(t *testing.T, raw []byte) {
		bd, err := decodeRawBlock(raw)
		if err != nil {
			return
		}
		again, offs, err := encodeBlock(bd.msg)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, raw) {
			// Non-canonical encodings (e.g. a witness flag with empty
			// witnesses) may decode; they must still hash consistently.
			return
		}
		for i, tx := range bd.msg.Transactions {
			if bd.txids[i] != tx.TxHash() || bd.offs[i] != offs[i] {
				t.Fatalf("tx %d: txid or offset differs", i)
			}
		}
	})
}

// FuzzComparer checks the properties pebble requires of Split.
func FuzzComparer(f *testing.F) {
	k1 := make([]byte, spendKeyLen)
	putSpendKey(k1, &wire.OutPoint{Hash: chainhash.Hash{1}, Index: 2}, 3)
	k2 := make([]byte, changeKeyLen)
	putChangeKey(k2, &changeKey{sh: [32]byte{4}, height: 5})
	f.Add(k1, k2)
	f.Add([]byte{pfxSpend}, k1)
	f.Add(k1[:37], k1)
	f.Fuzz(func(t *testing.T, a, b []byte) {
		pa, pb := a[:splitKey(a)], b[:splitKey(b)]
		if len(a) > len(pa) && comparer.Compare(pa, a) >= 0 {
			t.Fatalf("prefix of %x does not sort first", a)
		}
		c := comparer.Compare(a, b)
		pc := bytes.Compare(pa, pb)
		if c <= 0 && pc > 0 || pc < 0 && c >= 0 {
			t.Fatalf("prefix order of %x, %x disagrees with key order", a, b)
		}
		if pc == 0 && c != bytes.Compare(a[len(pa):], b[len(pb):]) {
			t.Fatalf("suffix order of %x, %x disagrees with key order", a, b)
		}
	})
}
