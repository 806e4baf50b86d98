package chain

import (
	"bytes"
	"testing"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/pop"
)

// FuzzPublisherOf feeds arbitrary first inputs and spent scripts: no
// panic, the same answer twice, and an identified P2WPKH or P2PKH
// publisher is the address of a key whose HASH160 the script commits to.
func FuzzPublisherOf(f *testing.F) {
	k := txgen.DeriveKey([]byte("fuzz publisher"), 0)
	ks := pop.Keystone{Version: pop.KeystoneVersion}
	for _, kind := range []txgen.Kind{txgen.P2WPKH, txgen.P2TR} {
		script, _ := k.PkScript(kind)
		tx, _ := popSpend(f, txgen.UTXO{Value: 50_000, Key: k, Kind: kind}, ks)
		var w0, w1 []byte
		if wit := tx.TxIn[0].Witness; len(wit) > 0 {
			w0 = wit[0]
			if len(wit) > 1 {
				w1 = wit[1]
			}
		}
		f.Add(script, []byte(nil), w0, w1, uint8(len(tx.TxIn[0].Witness)))
	}
	f.Add([]byte{0x76, 0xa9, 0x14}, []byte{0x01, 0x02}, []byte(nil), []byte(nil), uint8(0))
	f.Fuzz(func(t *testing.T, prev, sigScript, w0, w1 []byte, n uint8) {
		tx := wire.NewMsgTx(2)
		in := wire.NewTxIn(&wire.OutPoint{Hash: chainhash.Hash{1}}, sigScript, nil)
		switch n % 4 {
		case 1:
			in.Witness = wire.TxWitness{w0}
		case 2:
			in.Witness = wire.TxWitness{w0, w1}
		case 3:
			in.Witness = wire.TxWitness{w0, w1, w0}
		}
		tx.AddTxIn(in)
		a, ok := pop.PublisherOf(tx, prev)
		b, ok2 := pop.PublisherOf(tx, prev)
		if a != b || ok != ok2 {
			t.Fatal("not deterministic")
		}
		if !ok {
			return
		}
		var key, hash []byte
		switch {
		case txscript.IsPayToWitnessPubKeyHash(prev):
			key, hash = w1, prev[2:22]
		case txscript.IsPayToPubKeyHash(prev):
			pushes, err := txscript.PushedData(sigScript)
			if err != nil || len(pushes) != 2 {
				t.Fatalf("p2pkh publisher %s from scriptSig %x", a, sigScript)
			}
			key, hash = pushes[1], prev[3:23]
		case txscript.IsPayToTaproot(prev):
			pub, err := schnorr.ParsePubKey(prev[2:34])
			if err != nil || crypto.PubkeyToAddress(*pub.ToECDSA()) != a {
				t.Fatalf("p2tr publisher %s is not the output key", a)
			}
			return
		default:
			t.Fatalf("identified %s from an unrecognised script %x", a, prev)
		}
		pub, err := btcec.ParsePubKey(key)
		if err != nil || !bytes.Equal(address.Hash160(key), hash) || crypto.PubkeyToAddress(*pub.ToECDSA()) != a {
			t.Fatalf("publisher %s does not match the key the script commits to", a)
		}
	})
}
