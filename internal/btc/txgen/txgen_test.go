package txgen

import (
	"errors"
	"testing"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

func TestDeriveKeyDeterministic(t *testing.T) {
	a, b := DeriveKey([]byte("seed"), 7), DeriveKey([]byte("seed"), 7)
	if !a.Pub.IsEqual(b.Pub) {
		t.Fatal("same seed and index gave different keys")
	}
	if DeriveKey([]byte("seed"), 8).Pub.IsEqual(a.Pub) || DeriveKey([]byte("other"), 7).Pub.IsEqual(a.Pub) {
		t.Fatal("different seed or index gave the same key")
	}
	w := NewWallet([]byte("seed"))
	if w.Key(7) != w.Key(7) || !w.Key(7).Pub.IsEqual(a.Pub) {
		t.Fatal("wallet does not cache or derive the same key")
	}
}

func TestAddresses(t *testing.T) {
	k := DeriveKey([]byte("seed"), 1)
	tests := []struct {
		name    string
		kind    Kind
		params  *chaincfg.Params
		prefix  string
		scrLen  int
		wantErr error
	}{
		{"p2wpkh regtest", P2WPKH, &chaincfg.RegressionNetParams, "bcrt1q", 22, nil},
		{"p2tr regtest", P2TR, &chaincfg.RegressionNetParams, "bcrt1p", 34, nil},
		{"p2wpkh mainnet", P2WPKH, &chaincfg.MainNetParams, "bc1q", 22, nil},
		{"p2tr testnet", P2TR, &chaincfg.TestNet3Params, "tb1p", 34, nil},
		{"unknown kind", Kind(9), &chaincfg.RegressionNetParams, "", 0, ErrKind},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, err := k.Address(tc.kind, tc.params)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Address error %v, want %v", err, tc.wantErr)
			}
			script, serr := k.PkScript(tc.kind)
			if !errors.Is(serr, tc.wantErr) {
				t.Fatalf("PkScript error %v, want %v", serr, tc.wantErr)
			}
			if tc.wantErr != nil {
				return
			}
			s := addr.EncodeAddress()
			if len(s) < len(tc.prefix) || s[:len(tc.prefix)] != tc.prefix {
				t.Fatalf("address %s lacks prefix %s", s, tc.prefix)
			}
			dec, err := address.DecodeAddress(s, tc.params)
			if err != nil {
				t.Fatal(err)
			}
			want, err := txscript.PayToAddrScript(dec)
			if err != nil {
				t.Fatal(err)
			}
			if string(want) != string(script) || len(script) != tc.scrLen {
				t.Fatalf("script %x, address gives %x", script, want)
			}
		})
	}
}

func fakeUTXO(k *Key, kind Kind, n byte, value int64) UTXO {
	var op wire.OutPoint
	op.Hash[0] = n
	op.Index = uint32(n)
	return UTXO{OutPoint: op, Value: value, Key: k, Kind: kind}
}

func TestSignVerify(t *testing.T) {
	w := NewWallet([]byte("sign"))
	opRet, err := OpReturnScript([]byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	pay, _ := w.Key(100).PkScript(P2TR)
	change, _ := w.Key(101).PkScript(P2WPKH)
	tests := []struct {
		name  string
		kinds []Kind
		extra []*wire.TxOut
	}{
		{"one p2wpkh", []Kind{P2WPKH}, nil},
		{"one p2tr", []Kind{P2TR}, nil},
		{"mixed three", []Kind{P2WPKH, P2TR, P2WPKH}, nil},
		{"two p2tr with op_return", []Kind{P2TR, P2TR}, []*wire.TxOut{wire.NewTxOut(0, opRet)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ins []UTXO
			var kinds []Kind
			for i, kind := range tc.kinds {
				ins = append(ins, fakeUTXO(w.Key(uint32(i)), kind, byte(i+1), 100_000))
				kinds = append(kinds, kind)
			}
			sp := Spend{Inputs: ins, Outputs: append([]*wire.TxOut{wire.NewTxOut(50_000, pay)}, tc.extra...), Change: change, FeeRate: 2}
			tx, fee, ci, err := sp.Build()
			if err != nil {
				t.Fatal(err)
			}
			txid := tx.TxHash()
			if err := Sign(tx, ins); err != nil {
				t.Fatal(err)
			}
			if tx.TxHash() != txid {
				t.Fatal("signing changed the txid")
			}
			if err := Verify(tx, ins); err != nil {
				t.Fatal(err)
			}
			est, _ := EstimateVSize(kinds, scriptsOf(tx))
			weight := int64(tx.SerializeSizeStripped()*3 + tx.SerializeSize())
			if vs := (weight + 3) / 4; vs > est || est-vs > 2*int64(len(ins)) {
				t.Fatalf("estimated vsize %d, actual %d", est, vs)
			}
			if fee != est*2 || tx.TxOut[ci].Value != int64(len(ins))*100_000-50_000-fee {
				t.Fatalf("fee %d change %d", fee, tx.TxOut[ci].Value)
			}
			// A tampered output must break every signature.
			tx.TxOut[0].Value--
			if err := Verify(tx, ins); err == nil {
				t.Fatal("tampered transaction verified")
			}
		})
	}
}

func scriptsOf(tx *wire.MsgTx) [][]byte {
	var s [][]byte
	for _, o := range tx.TxOut {
		s = append(s, o.PkScript)
	}
	return s
}

func TestSpendErrors(t *testing.T) {
	k := DeriveKey([]byte("e"), 0)
	script, _ := k.PkScript(P2WPKH)
	u := fakeUTXO(k, P2WPKH, 1, 10_000)
	tests := []struct {
		name string
		sp   Spend
		want error
	}{
		{"no inputs", Spend{Change: script, FeeRate: 1}, ErrInputs},
		{"no key", Spend{Inputs: []UTXO{{Value: 5}}, FeeRate: 1}, ErrInputs},
		{"bad kind", Spend{Inputs: []UTXO{{Value: 5, Key: k, Kind: 7}}, FeeRate: 1}, ErrKind},
		{"overspend", Spend{Inputs: []UTXO{u}, Outputs: []*wire.TxOut{wire.NewTxOut(10_000, script)}, FeeRate: 1}, ErrInsufficient},
		{"dust change", Spend{Inputs: []UTXO{u}, Outputs: []*wire.TxOut{wire.NewTxOut(9_600, script)}, Change: script, FeeRate: 1}, ErrInsufficient},
		{"negative output", Spend{Inputs: []UTXO{u}, Outputs: []*wire.TxOut{wire.NewTxOut(-1, script)}, FeeRate: 1}, ErrOutputs},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, _, err := tc.sp.Build(); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := OpReturnScript(make([]byte, MaxOpReturn+1)); !errors.Is(err, ErrOutputs) {
		t.Fatalf("81-byte OP_RETURN: %v", err)
	}
	if s, err := OpReturnScript(make([]byte, MaxOpReturn)); err != nil || len(s) != 83 {
		t.Fatalf("80-byte OP_RETURN: %d bytes, %v", len(s), err)
	}
	if err := Sign(wire.NewMsgTx(2), []UTXO{u}); !errors.Is(err, ErrInputs) {
		t.Fatalf("sign with mismatched prevs: %v", err)
	}
}

func TestSubsidy(t *testing.T) {
	for _, p := range []*chaincfg.Params{&chaincfg.RegressionNetParams, &chaincfg.MainNetParams} {
		for _, h := range []int32{0, 1, 149, 150, 151, 299, 300, 1000, 10_000, 209_999, 210_000, 13_440_000} {
			if got, want := Subsidy(p, h), blockchain.CalcBlockSubsidy(h, p); got != want {
				t.Errorf("%s height %d: subsidy %d, btcd %d", p.Name, h, got, want)
			}
		}
	}
}

func TestMerkleRoot(t *testing.T) {
	g := chaincfg.MainNetParams.GenesisBlock
	if got := TxMerkleRoot(g.Transactions); got != g.Header.MerkleRoot {
		t.Fatalf("genesis merkle root %v, want %v", got, g.Header.MerkleRoot)
	}
}

func BenchmarkSign(b *testing.B) {
	w := NewWallet([]byte("bench"))
	for _, kind := range []Kind{P2WPKH, P2TR} {
		b.Run(kind.String(), func(b *testing.B) {
			ins := []UTXO{fakeUTXO(w.Key(1), kind, 1, 100_000), fakeUTXO(w.Key(2), kind, 2, 100_000)}
			change, _ := w.Key(3).PkScript(kind)
			sp := Spend{Inputs: ins, Outputs: []*wire.TxOut{wire.NewTxOut(50_000, change)}, Change: change, FeeRate: 1}
			tx, _, _, err := sp.Build()
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if err := Sign(tx, ins); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
