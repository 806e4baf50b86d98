package vault

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/txscript/v2"
)

// NUMS is BIP-341's provably unspendable internal key H (x-only):
// lift_x(SHA256(uncompressed secp256k1 generator)).
const NUMS = "50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0"

// MaxKeys is Bitcoin Core's MAX_PUBKEYS_PER_MULTI_A.
const MaxKeys = 999

// Keys are a vault's parameters.
type Keys struct {
	Signers       [][32]byte // committee, x-only
	K             int
	Recovery      [][32]byte // recovery set, x-only, leaf order
	M             int
	RecoveryDelay uint16 // N, relative blocks
}

// ErrKeys: the parameters do not make a vault.
var ErrKeys = errors.New("vault: invalid keys")

// Vault is a derived vault.
type Vault struct {
	// Script is the P2TR output script (OP_1 <32-byte output key>).
	Script []byte
	// OutputKey is the tweaked x-only output key.
	OutputKey [32]byte
	// CommitteeLeaf and RecoveryLeaf are the two leaf scripts.
	CommitteeLeaf, RecoveryLeaf []byte
	// MerkleRoot is the script tree's root (the taproot tweak's input).
	MerkleRoot [32]byte
}

func checkSet(name string, keys [][32]byte, t int) error {
	if len(keys) == 0 || len(keys) > MaxKeys {
		return fmt.Errorf("%w: %d %s keys, want 1 to %d", ErrKeys, len(keys), name, MaxKeys)
	}
	if t < 1 || t > len(keys) {
		return fmt.Errorf("%w: %s threshold %d of %d keys", ErrKeys, name, t, len(keys))
	}
	seen := map[[32]byte]bool{}
	for i, k := range keys {
		if seen[k] {
			return fmt.Errorf("%w: %s key %d (%x) repeated", ErrKeys, name, i, k)
		}
		seen[k] = true
		if _, err := schnorr.ParsePubKey(k[:]); err != nil {
			return fmt.Errorf("%w: %s key %d (%x): %v", ErrKeys, name, i, k, err)
		}
	}
	return nil
}

// multiA is multi_a(t, keys...) in tapscript.
func multiA(b *txscript.ScriptBuilder, t int, keys [][32]byte) {
	for i, k := range keys {
		b.AddData(k[:])
		if i == 0 {
			b.AddOp(txscript.OP_CHECKSIG)
		} else {
			b.AddOp(txscript.OP_CHECKSIGADD)
		}
	}
	b.AddInt64(int64(t)).AddOp(txscript.OP_NUMEQUAL)
}

// CommitteeLeaf is sortedmulti_a(k, signers...).
func CommitteeLeaf(signers [][32]byte, k int) ([]byte, error) {
	if err := checkSet("signer", signers, k); err != nil {
		return nil, err
	}
	sorted := slices.Clone(signers)
	slices.SortFunc(sorted, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	b := txscript.NewScriptBuilder()
	multiA(b, k, sorted)
	return b.Script()
}

// RecoveryLeaf is and_v(v:older(N), multi_a(m, recovery...)).
func RecoveryLeaf(recovery [][32]byte, m int, n uint16) ([]byte, error) {
	if err := checkSet("recovery", recovery, m); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: recovery delay 0", ErrKeys)
	}
	b := txscript.NewScriptBuilder()
	b.AddInt64(int64(n)).AddOp(txscript.OP_CHECKSEQUENCEVERIFY).AddOp(txscript.OP_VERIFY)
	multiA(b, m, recovery)
	return b.Script()
}

// Derive derives the vault of keys.
func Derive(keys Keys) (*Vault, error) {
	cl, err := CommitteeLeaf(keys.Signers, keys.K)
	if err != nil {
		return nil, err
	}
	rl, err := RecoveryLeaf(keys.Recovery, keys.M, keys.RecoveryDelay)
	if err != nil {
		return nil, err
	}
	tree := txscript.AssembleTaprootScriptTree(txscript.NewBaseTapLeaf(cl), txscript.NewBaseTapLeaf(rl))
	root := tree.RootNode.TapHash()
	nb, _ := hex.DecodeString(NUMS) // a constant
	internal, err := schnorr.ParsePubKey(nb)
	if err != nil {
		return nil, fmt.Errorf("vault: NUMS key: %w", err) // cannot happen: a constant point
	}
	out := txscript.ComputeTaprootOutputKey(internal, root[:])
	script, err := txscript.PayToTaprootScript(out)
	if err != nil {
		return nil, err
	}
	v := &Vault{Script: script, CommitteeLeaf: cl, RecoveryLeaf: rl, MerkleRoot: root}
	copy(v.OutputKey[:], schnorr.SerializePubKey(out))
	return v, nil
}

// InternalKey is the NUMS point, for callers building control blocks.
func InternalKey() *btcec.PublicKey {
	nb, _ := hex.DecodeString(NUMS)
	k, _ := schnorr.ParsePubKey(nb)
	return k
}
