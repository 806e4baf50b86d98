package vault_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/txscript/v2"

	"github.com/hemi-go/hemi/verify/vault"
)

func xonly(seed byte) [32]byte {
	k, _ := btcec.PrivKeyFromBytes(bytes.Repeat([]byte{seed}, 32))
	return [32]byte(schnorr.SerializePubKey(k.PubKey()))
}

func keys() vault.Keys {
	return vault.Keys{Signers: [][32]byte{xonly(3), xonly(1), xonly(2)}, K: 2, Recovery: [][32]byte{xonly(9), xonly(8)}, M: 1, RecoveryDelay: 144}
}

// TestDerive checks the descriptor's shape: P2TR, the committee leaf
// sorted (so the signers' order does not matter), the recovery leaf in
// the given order behind older(N), and each leaf committed to by the
// output key with the NUMS internal key.
func TestDerive(t *testing.T) {
	v, err := vault.Derive(keys())
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Script) != 34 || v.Script[0] != txscript.OP_1 || v.Script[1] != 32 || !bytes.Equal(v.Script[2:], v.OutputKey[:]) {
		t.Fatalf("script %x is not P2TR of %x", v.Script, v.OutputKey)
	}
	k := keys()
	k.Signers[0], k.Signers[2] = k.Signers[2], k.Signers[0]
	v2, _ := vault.Derive(k)
	if !bytes.Equal(v2.Script, v.Script) {
		t.Fatal("the committee's order changed the vault (sortedmulti_a)")
	}
	k = keys()
	k.Recovery[0], k.Recovery[1] = k.Recovery[1], k.Recovery[0]
	if v3, _ := vault.Derive(k); bytes.Equal(v3.Script, v.Script) {
		t.Fatal("the recovery set's order did not change the vault (multi_a keeps order)")
	}
	dis, _ := txscript.DisasmString(v.RecoveryLeaf)
	if want := "9000 OP_CHECKSEQUENCEVERIFY OP_VERIFY"; len(dis) < len(want) || dis[:len(want)] != want {
		t.Fatalf("recovery leaf %s", dis)
	}
	tree := txscript.AssembleTaprootScriptTree(txscript.NewBaseTapLeaf(v.CommitteeLeaf), txscript.NewBaseTapLeaf(v.RecoveryLeaf))
	out, _ := schnorr.ParsePubKey(v.OutputKey[:])
	for i, leaf := range [][]byte{v.CommitteeLeaf, v.RecoveryLeaf} {
		cb := tree.LeafMerkleProofs[i].ToControlBlock(vault.InternalKey())
		if err := txscript.VerifyTaprootLeafCommitment(&cb, schnorr.SerializePubKey(out), leaf); err != nil {
			t.Fatalf("leaf %d: %v", i, err)
		}
	}
}

func TestDeriveRefusesBadKeys(t *testing.T) {
	for name, edit := range map[string]func(*vault.Keys){
		"threshold 0":       func(k *vault.Keys) { k.K = 0 },
		"threshold above n": func(k *vault.Keys) { k.M = 3 },
		"repeated key":      func(k *vault.Keys) { k.Signers[1] = k.Signers[0] },
		"not a point":       func(k *vault.Keys) { k.Recovery[0] = [32]byte{} },
		"no delay":          func(k *vault.Keys) { k.RecoveryDelay = 0 },
		"no signers":        func(k *vault.Keys) { k.Signers = nil },
	} {
		k := keys()
		edit(&k)
		if _, err := vault.Derive(k); !errors.Is(err, vault.ErrKeys) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
