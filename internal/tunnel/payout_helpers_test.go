package tunnel

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// numsKey is BIP-341's provably unspendable internal key H.
const numsKey = "0250929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0"

// scriptVault is a vault built straight from txscript's taproot helpers:
// tr(NUMS,{sortedmulti_a(k,signers),and_v(v:older(N),multi_a(m,recovery))}).
// It is this package's own reference for the Vault interface, independent
// of tvault's vault.go (whose golden vectors pin the same scripts).
type scriptVault struct {
	committee, recovery []byte
	tree                *txscript.IndexedTapScriptTree
	internal            *btcec.PublicKey
	output              *btcec.PublicKey
	pkScript            []byte
}

func (v *scriptVault) PkScript() []byte              { return v.pkScript }
func (v *scriptVault) CommitteeScript() []byte       { return v.committee }
func (v *scriptVault) RecoveryScript() []byte        { return v.recovery }
func (v *scriptVault) InternalKey() *btcec.PublicKey { return v.internal }
func (v *scriptVault) MerkleRoot() []byte            { h := v.tree.RootNode.TapHash(); return h[:] }
func (v *scriptVault) ControlBlock(s []byte) ([]byte, error) {
	idx, ok := v.tree.LeafProofIndex[txscript.NewBaseTapLeaf(s).TapHash()]
	if !ok {
		return nil, fmt.Errorf("not a leaf of the vault")
	}
	cb := v.tree.LeafMerkleProofs[idx].ToControlBlock(v.internal)
	return cb.ToBytes()
}

// testKeys derives count deterministic keys from a label.
func testKeys(label string, count int) []*btcec.PrivateKey {
	keys := make([]*btcec.PrivateKey, count)
	for i := range keys {
		sum := sha256.Sum256([]byte(fmt.Sprintf("%s-%d", label, i)))
		keys[i], _ = btcec.PrivKeyFromBytes(sum[:])
	}
	return keys
}

func multiA(keys [][32]byte, k int) *txscript.ScriptBuilder {
	b := txscript.NewScriptBuilder()
	for i, key := range keys {
		b.AddData(key[:])
		if i == 0 {
			b.AddOp(txscript.OP_CHECKSIG)
		} else {
			b.AddOp(txscript.OP_CHECKSIGADD)
		}
	}
	return b.AddInt64(int64(k)).AddOp(txscript.OP_NUMEQUAL)
}

func newScriptVault(t testing.TB, signers []*btcec.PrivateKey, k int, recovery []*btcec.PrivateKey, m int, n uint16) *scriptVault {
	t.Helper()
	var sk [][32]byte
	for _, s := range signers {
		sk = append(sk, XOnly(s.PubKey()))
	}
	sort.Slice(sk, func(i, j int) bool { return bytes.Compare(sk[i][:], sk[j][:]) < 0 })
	committee, err := multiA(sk, k).Script()
	if err != nil {
		t.Fatal(err)
	}
	var rk [][32]byte
	for _, r := range recovery {
		rk = append(rk, XOnly(r.PubKey()))
	}
	rb := txscript.NewScriptBuilder().AddInt64(int64(n)).AddOp(txscript.OP_CHECKSEQUENCEVERIFY).AddOp(txscript.OP_VERIFY)
	rs, err := rb.Script()
	if err != nil {
		t.Fatal(err)
	}
	tail, err := multiA(rk, m).Script()
	if err != nil {
		t.Fatal(err)
	}
	recoveryScript := append(rs, tail...)
	raw, _ := hex.DecodeString(numsKey)
	internal, err := btcec.ParsePubKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	tree := txscript.AssembleTaprootScriptTree(txscript.NewBaseTapLeaf(committee), txscript.NewBaseTapLeaf(recoveryScript))
	root := tree.RootNode.TapHash()
	out := txscript.ComputeTaprootOutputKey(internal, root[:])
	pk, err := txscript.PayToTaprootScript(out)
	if err != nil {
		t.Fatal(err)
	}
	return &scriptVault{committee: committee, recovery: recoveryScript, tree: tree, internal: internal, output: out, pkScript: pk}
}

// fixture is a 2-of-3 committee with a 2-of-2 recovery set.
type fixture struct {
	signers  []*btcec.PrivateKey
	recovery []*btcec.PrivateKey
	vault    *scriptVault
}

func newFixture(t testing.TB, delay uint16) *fixture {
	f := &fixture{signers: testKeys("signer", 3), recovery: testKeys("recovery", 2)}
	f.vault = newScriptVault(t, f.signers, 2, f.recovery, 2, delay)
	return f
}

// p2wpkh is a deterministic P2WPKH script for output i.
func p2wpkh(i int) []byte {
	h := sha256.Sum256([]byte(fmt.Sprintf("recipient-%d", i)))
	return append([]byte{0x00, 0x14}, h[:20]...)
}

// testBatch is a batch of outs withdrawals of amount each spending one
// vault input of in satoshis, with the change the fee rule gives.
func testBatch(t testing.TB, v Vault, number uint64, in uint64, outs int, amount uint64, rate uint64) *Batch {
	t.Helper()
	b := &Batch{Number: number, FeeRate: rate}
	b.Inputs = []BatchInput{{OutPoint: wire.OutPoint{Hash: chainhash.Hash(sha256.Sum256([]byte(fmt.Sprint("in", number)))), Index: 1}, Amount: in, Height: 100}}
	for i := 0; i < outs; i++ {
		b.Outputs = append(b.Outputs, BatchOutput{ID: uint64(i), Script: p2wpkh(i), Amount: amount, MaxFee: amount / 2})
	}
	wit, err := CommitteeWitnessSize(v)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := PlanPayout(rate, b.Inputs, b.Outputs, v.PkScript(), wit)
	if err != nil {
		t.Fatal(err)
	}
	b.Change = plan.Change
	return b
}

// signAll returns every committee key's signatures over tx.
func signAll(t testing.TB, f *fixture, tx *wire.MsgTx, prev []*wire.TxOut) map[[32]byte][][]byte {
	t.Helper()
	m := map[[32]byte][][]byte{}
	for _, s := range f.signers {
		sigs, err := SignPayout(tx, prev, f.vault, s)
		if err != nil {
			t.Fatal(err)
		}
		m[XOnly(s.PubKey())] = sigs
	}
	return m
}
