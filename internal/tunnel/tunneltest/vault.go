package tunneltest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/txscript/v2"
)

// NUMSKey is BIP-341's provably unspendable internal key H (compressed).
const NUMSKey = "0250929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0"

// ScriptVault is tr(NUMS,{sortedmulti_a(k,signers),and_v(v:older(N),
// multi_a(m,recovery))}) built with txscript; it implements tunnel.Vault.
type ScriptVault struct {
	committee, recovery []byte
	tree                *txscript.IndexedTapScriptTree
	internal            *btcec.PublicKey
	output              *btcec.PublicKey
	pkScript            []byte
}

func (v *ScriptVault) PkScript() []byte              { return v.pkScript }
func (v *ScriptVault) CommitteeScript() []byte       { return v.committee }
func (v *ScriptVault) RecoveryScript() []byte        { return v.recovery }
func (v *ScriptVault) InternalKey() *btcec.PublicKey { return v.internal }
func (v *ScriptVault) OutputKey() *btcec.PublicKey   { return v.output }
func (v *ScriptVault) MerkleRoot() []byte            { h := v.tree.RootNode.TapHash(); return h[:] }

// ControlBlock is the BIP-341 control block of one of the two leaves.
func (v *ScriptVault) ControlBlock(s []byte) ([]byte, error) {
	idx, ok := v.tree.LeafProofIndex[txscript.NewBaseTapLeaf(s).TapHash()]
	if !ok {
		return nil, fmt.Errorf("tunneltest: not a leaf of the vault")
	}
	cb := v.tree.LeafMerkleProofs[idx].ToControlBlock(v.internal)
	return cb.ToBytes()
}

// Keys derives count deterministic keys from a label.
func Keys(label string, count int) []*btcec.PrivateKey {
	keys := make([]*btcec.PrivateKey, count)
	for i := range keys {
		sum := sha256.Sum256([]byte(fmt.Sprintf("%s-%d", label, i)))
		keys[i], _ = btcec.PrivKeyFromBytes(sum[:])
	}
	return keys
}

func xonly(k *btcec.PrivateKey) [32]byte { return [32]byte(schnorr.SerializePubKey(k.PubKey())) }

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

// NewScriptVault builds the vault of signers (k of them sign; keys
// sorted) and recovery (m of them, genesis order, after n blocks).
func NewScriptVault(signers []*btcec.PrivateKey, k int, recovery []*btcec.PrivateKey, m int, n uint16) (*ScriptVault, error) {
	var sk [][32]byte
	for _, s := range signers {
		sk = append(sk, xonly(s))
	}
	sort.Slice(sk, func(i, j int) bool { return bytes.Compare(sk[i][:], sk[j][:]) < 0 })
	committee, err := multiA(sk, k).Script()
	if err != nil {
		return nil, err
	}
	var rk [][32]byte
	for _, r := range recovery {
		rk = append(rk, xonly(r))
	}
	head, err := txscript.NewScriptBuilder().AddInt64(int64(n)).AddOp(txscript.OP_CHECKSEQUENCEVERIFY).AddOp(txscript.OP_VERIFY).Script()
	if err != nil {
		return nil, err
	}
	tail, err := multiA(rk, m).Script()
	if err != nil {
		return nil, err
	}
	recoveryScript := append(head, tail...)
	raw, _ := hex.DecodeString(NUMSKey)
	internal, err := btcec.ParsePubKey(raw)
	if err != nil {
		return nil, err
	}
	tree := txscript.AssembleTaprootScriptTree(txscript.NewBaseTapLeaf(committee), txscript.NewBaseTapLeaf(recoveryScript))
	root := tree.RootNode.TapHash()
	out := txscript.ComputeTaprootOutputKey(internal, root[:])
	pk, err := txscript.PayToTaprootScript(out)
	if err != nil {
		return nil, err
	}
	return &ScriptVault{committee: committee, recovery: recoveryScript, tree: tree, internal: internal, output: out, pkScript: pk}, nil
}
