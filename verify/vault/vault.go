package vault

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"

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

// CommitteeLeaf is sortedmulti_a(k, signers...), after checking the
// keys and the threshold.
func CommitteeLeaf(signers [][32]byte, k int) ([]byte, error) {
	if err := checkSet("signer", signers, k); err != nil {
		return nil, err
	}
	return CommitteeScript(signers, k), nil
}

// RecoveryLeaf is and_v(v:older(N), multi_a(m, recovery...)), after
// checking the keys, the threshold and the delay.
func RecoveryLeaf(recovery [][32]byte, m int, n uint16) ([]byte, error) {
	if err := checkSet("recovery", recovery, m); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: recovery delay 0", ErrKeys)
	}
	return RecoveryScript(recovery, m, n), nil
}

// CommitteeScript is sortedmulti_a(k, keys) unchecked: the keys sorted by
// their bytes, `<key_1> OP_CHECKSIG <key_2> OP_CHECKSIGADD ... <k>
// OP_NUMEQUAL` (Bitcoin Core's and rust-miniscript's encoding; numbers
// minimally pushed). The keys' order in the genesis does not change the
// vault.
func CommitteeScript(keys [][32]byte, k int) []byte {
	sorted := slices.Clone(keys)
	slices.SortFunc(sorted, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	return multiA(nil, sorted, int64(k))
}

// RecoveryScript is and_v(v:older(n), multi_a(m, keys)) unchecked: `<n>
// OP_CHECKSEQUENCEVERIFY OP_VERIFY <key_1> OP_CHECKSIG <key_2>
// OP_CHECKSIGADD ... <m> OP_NUMEQUAL`, keys in the given order (multi_a
// is not sorted).
func RecoveryScript(keys [][32]byte, m int, n uint16) []byte {
	s := scriptInt(int64(n))
	s = append(s, txscript.OP_CHECKSEQUENCEVERIFY, txscript.OP_VERIFY)
	return multiA(s, keys, int64(m))
}

// multiA appends multi_a(k, keys) to s. Written by hand rather than
// with txscript.ScriptBuilder, which refuses scripts over 10,000 bytes
// (a legacy limit tapscript does not have: 999 keys are ~34 KB).
func multiA(s []byte, keys [][32]byte, k int64) []byte {
	for i, key := range keys {
		s = append(s, txscript.OP_DATA_32)
		s = append(s, key[:]...)
		if i == 0 {
			s = append(s, txscript.OP_CHECKSIG)
		} else {
			s = append(s, txscript.OP_CHECKSIGADD)
		}
	}
	s = append(s, scriptInt(k)...)
	return append(s, txscript.OP_NUMEQUAL)
}

// scriptInt is n as a minimal push (OP_1..OP_16 or a script number).
func scriptInt(n int64) []byte {
	s, err := txscript.NewScriptBuilder().AddInt64(n).Script()
	if err != nil {
		panic(err) // a few bytes never exceed the builder's limit
	}
	return s
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
	out := txscript.ComputeTaprootOutputKey(InternalKey(), root[:])
	script, err := txscript.PayToTaprootScript(out)
	if err != nil {
		return nil, err
	}
	v := &Vault{Script: script, CommitteeLeaf: cl, RecoveryLeaf: rl, MerkleRoot: root}
	copy(v.OutputKey[:], schnorr.SerializePubKey(out))
	return v, nil
}

// InternalKey is the NUMS point, for callers building control blocks.
// It is lifted from its x coordinate once (a square root) and shared: a
// btcec.PublicKey is immutable.
func InternalKey() *btcec.PublicKey { return numsKey() }

var numsKey = sync.OnceValue(func() *btcec.PublicKey {
	nb, _ := hex.DecodeString(NUMS)
	k, err := schnorr.ParsePubKey(nb)
	if err != nil {
		panic("vault: the NUMS constant is not a point: " + err.Error()) // a broken constant
	}
	return k
})
