package chain

import (
	"testing"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/pop"
)

// ethOf is the Ethereum address of a Bitcoin private key, computed by
// go-ethereum from the key bytes.
func ethOf(t testing.TB, priv *btcec.PrivateKey) common.Address {
	t.Helper()
	k, err := crypto.ToECDSA(priv.Serialize())
	if err != nil {
		t.Fatal(err)
	}
	return crypto.PubkeyToAddress(k.PublicKey)
}

// popSpend is a signed PoP transaction spending u: the OP_RETURN
// publishing ks, change back to u's script. It returns the fee too.
func popSpend(t testing.TB, u txgen.UTXO, ks pop.Keystone) (*wire.MsgTx, int64) {
	t.Helper()
	change, err := u.PkScript()
	if err != nil {
		t.Fatal(err)
	}
	s := txgen.Spend{Inputs: []txgen.UTXO{u}, Outputs: []*wire.TxOut{wire.NewTxOut(0, ks.Script())}, Change: change, FeeRate: 2}
	tx, fee, _, err := s.Build()
	if err != nil {
		t.Fatal(err)
	}
	if err := txgen.Sign(tx, s.Inputs); err != nil {
		t.Fatal(err)
	}
	if err := txgen.Verify(tx, s.Inputs); err != nil {
		t.Fatal(err)
	}
	return tx, fee
}

// p2pkhSpend is a PoP transaction spending a P2PKH output of priv,
// signed with a compressed or uncompressed key and checked by the script
// engine.
func p2pkhSpend(t *testing.T, priv *btcec.PrivateKey, compress bool) (*wire.MsgTx, []byte) {
	t.Helper()
	pk := priv.PubKey().SerializeUncompressed()
	if compress {
		pk = priv.PubKey().SerializeCompressed()
	}
	prev, err := txscript.NewScriptBuilder().AddOp(txscript.OP_DUP).AddOp(txscript.OP_HASH160).
		AddData(address.Hash160(pk)).AddOp(txscript.OP_EQUALVERIFY).AddOp(txscript.OP_CHECKSIG).Script()
	if err != nil {
		t.Fatal(err)
	}
	ks := pop.Keystone{Version: pop.KeystoneVersion, L2Number: 50}
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(wire.NewTxIn(&wire.OutPoint{Hash: chainhash.Hash{9}, Index: 1}, nil, nil))
	tx.AddTxOut(wire.NewTxOut(0, ks.Script()))
	tx.AddTxOut(wire.NewTxOut(90_000, prev))
	const value = 100_000
	if tx.TxIn[0].SignatureScript, err = txscript.SignatureScript(tx, 0, prev, txscript.SigHashAll, priv, compress); err != nil {
		t.Fatal(err)
	}
	fetch := txscript.NewCannedPrevOutputFetcher(prev, value)
	vm, err := txscript.NewEngine(prev, tx, 0, txscript.StandardVerifyFlags, nil, txscript.NewTxSigHashes(tx, fetch), value, fetch)
	if err != nil {
		t.Fatal(err)
	}
	if err := vm.Execute(); err != nil {
		t.Fatalf("p2pkh spend does not verify: %v", err)
	}
	return tx, prev
}

func TestPublisherOf(t *testing.T) {
	w := txgen.NewWallet([]byte("publisher test"))
	k0, k1 := w.Key(0), w.Key(1)
	utxo := func(k *txgen.Key, kind txgen.Kind) txgen.UTXO {
		return txgen.UTXO{OutPoint: wire.OutPoint{Hash: chainhash.Hash{byte(kind), byte(k.Index)}}, Value: 100_000, Key: k, Kind: kind}
	}
	script := func(k *txgen.Key, kind txgen.Kind) []byte {
		s, err := k.PkScript(kind)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tap := tapPriv(k0)
	ks := pop.Keystone{Version: pop.KeystoneVersion, L2Number: 25}
	wpkh, _ := popSpend(t, utxo(k0, txgen.P2WPKH), ks)
	tr, _ := popSpend(t, utxo(k0, txgen.P2TR), ks)
	pkhC, pkhScriptC := p2pkhSpend(t, k0.Priv, true)
	pkhU, pkhScriptU := p2pkhSpend(t, k0.Priv, false)

	withAnnex := tr.Copy()
	withAnnex.TxIn[0].Witness = append(withAnnex.TxIn[0].Witness, []byte{txscript.TaprootAnnexTag, 1})
	scriptPath := tr.Copy()
	scriptPath.TxIn[0].Witness = wire.TxWitness{{1}, {txscript.OP_TRUE}, make([]byte, 33)}
	otherKey := wpkh.Copy()
	otherKey.TxIn[0].Witness[1] = k1.Pub.SerializeCompressed()
	noWitness := wpkh.Copy()
	noWitness.TxIn[0].Witness = nil
	p2sh := []byte{txscript.OP_HASH160, txscript.OP_DATA_20}
	p2sh = append(append(p2sh, make([]byte, 20)...), txscript.OP_EQUAL)

	tests := []struct {
		name string
		tx   *wire.MsgTx
		prev []byte
		want *common.Address
	}{
		{"p2wpkh", wpkh, script(k0, txgen.P2WPKH), addrPtr(ethOf(t, k0.Priv))},
		{"p2pkh compressed", pkhC, pkhScriptC, addrPtr(ethOf(t, k0.Priv))},
		{"p2pkh uncompressed: same key, same address", pkhU, pkhScriptU, addrPtr(ethOf(t, k0.Priv))},
		{"p2tr key path: the even-Y output key", tr, script(k0, txgen.P2TR), addrPtr(ethOf(t, tap))},
		{"p2tr key path with annex", withAnnex, script(k0, txgen.P2TR), addrPtr(ethOf(t, tap))},
		{"p2tr script path: not identified", scriptPath, script(k0, txgen.P2TR), nil},
		{"p2wpkh witness key of another program", otherKey, script(k0, txgen.P2WPKH), nil},
		{"p2wpkh without witness", noWitness, script(k0, txgen.P2WPKH), nil},
		{"p2wpkh prevout, p2pkh-style input", pkhC, script(k0, txgen.P2WPKH), nil},
		{"p2pkh prevout of another key", pkhC, pkhScriptU, nil},
		{"p2sh prevout", wpkh, p2sh, nil},
		{"empty prevout script", wpkh, nil, nil},
		{"no inputs", wire.NewMsgTx(2), script(k0, txgen.P2WPKH), nil},
		{"nil tx", nil, script(k0, txgen.P2WPKH), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := pop.PublisherOf(tc.tx, tc.prev)
			switch {
			case tc.want == nil && ok:
				t.Fatalf("identified %s, want none", got)
			case tc.want != nil && (!ok || got != *tc.want):
				t.Fatalf("got %s %v, want %s", got, ok, *tc.want)
			}
		})
	}
}

func addrPtr(a common.Address) *common.Address { return &a }

// tapPriv is the private key of k's BIP 86 P2TR output key: the tweaked
// key, negated if its point has odd Y (BIP 340 keys have even Y).
func tapPriv(k *txgen.Key) *btcec.PrivateKey {
	tap := txscript.TweakTaprootPrivKey(*k.Priv, nil)
	if tap.PubKey().SerializeCompressed()[0] == 0x03 {
		tap.Key.Negate()
	}
	return tap
}
