package tunnel

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/txscript/v2"

	"github.com/hemi-go/hemi/internal/chain/genesis"
)

// Errors of the vault.
var (
	// ErrNoTunnel: the genesis has no tunnel (Config.Tunnel is nil).
	ErrNoTunnel = errors.New("tunnel: the genesis has no tunnel")
	// ErrVault: a vault cannot be built from the configuration, or a
	// script is not one of its leaves.
	ErrVault = errors.New("tunnel: vault")
)

// NUMSKeyX is the x coordinate of BIP-341's provably unspendable
// internal key H = lift_x(SHA256(G)) ("Nothing Up My Sleeve"): nobody
// knows its discrete logarithm, so the vault has no key path and every
// spend goes through a leaf.
const NUMSKeyX = "50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0"

// numsKey is lift_x(NUMSKeyX), the even-y point.
var numsKey = func() *btcec.PublicKey {
	x, err := hex.DecodeString(NUMSKeyX)
	if err != nil {
		panic(err)
	}
	k, err := schnorr.ParsePubKey(x)
	if err != nil {
		panic(err) // a constant that is a valid x coordinate
	}
	return k
}()

// Vault is the tunnel's Taproot vault on one Bitcoin network (DESIGN 6):
// internal key H (no key path) and two leaves of depth 1, the committee
// (sortedmulti_a(K, Signers)) and the recovery set
// (and_v(v:older(N), multi_a(M, Recovery))). Immutable; safe for
// concurrent use.
type Vault struct {
	cfg        *genesis.TunnelConfig
	net        *chaincfg.Params
	committee  []byte
	recovery   []byte
	tree       *txscript.IndexedTapScriptTree
	root       []byte
	output     *btcec.PublicKey
	pkScript   []byte
	address    string
	descriptor string
}

// NewVault derives the vault of cfg on net. cfg is validated (a
// *genesis.FieldError when it is wrong); nil is ErrNoTunnel.
func NewVault(cfg *genesis.TunnelConfig, net *chaincfg.Params) (*Vault, error) {
	if cfg == nil {
		return nil, ErrNoTunnel
	}
	if net == nil {
		return nil, fmt.Errorf("%w: no Bitcoin network", ErrVault)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	v := &Vault{cfg: cfg.Clone(), net: net}
	v.committee = CommitteeScript(cfg.Signers, cfg.K)
	v.recovery = RecoveryScript(cfg.Recovery, cfg.M, cfg.RecoveryDelay)
	v.tree = txscript.AssembleTaprootScriptTree(txscript.NewBaseTapLeaf(v.committee), txscript.NewBaseTapLeaf(v.recovery))
	root := v.tree.RootNode.TapHash()
	v.root = root[:]
	v.output = txscript.ComputeTaprootOutputKey(numsKey, v.root)
	var err error
	if v.pkScript, err = txscript.PayToTaprootScript(v.output); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVault, err)
	}
	a, err := address.NewAddressTaproot(schnorr.SerializePubKey(v.output), net)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVault, err)
	}
	v.address = a.EncodeAddress()
	v.descriptor = WithChecksum(descriptorBody(v.cfg))
	return v, nil
}

// Config is the tunnel configuration the vault was built from (a copy).
func (v *Vault) Config() *genesis.TunnelConfig { return v.cfg.Clone() }

// Net is the vault's Bitcoin network.
func (v *Vault) Net() *chaincfg.Params { return v.net }

// PkScript is the vault's output script: OP_1 <32-byte output key>.
func (v *Vault) PkScript() []byte { return slices.Clone(v.pkScript) }

// IsVault reports whether pkScript pays the vault.
func (v *Vault) IsVault(pkScript []byte) bool { return bytes.Equal(pkScript, v.pkScript) }

// Address is the vault's bech32m address on its network.
func (v *Vault) Address() string { return v.address }

// CommitteeScript is the committee leaf's script.
func (v *Vault) CommitteeScript() []byte { return slices.Clone(v.committee) }

// RecoveryScript is the recovery leaf's script.
func (v *Vault) RecoveryScript() []byte { return slices.Clone(v.recovery) }

// InternalKey is the BIP-341 NUMS point H.
func (v *Vault) InternalKey() *btcec.PublicKey { return numsKey }

// OutputKey is the tweaked key the output commits to.
func (v *Vault) OutputKey() *btcec.PublicKey { return v.output }

// MerkleRoot is the script tree's root: the TapBranch of the two leaves.
func (v *Vault) MerkleRoot() []byte { return slices.Clone(v.root) }

// Descriptor is the vault's output descriptor with its BIP-380 checksum
// (descriptor.go), importable into Bitcoin Core 26+ as watch-only.
func (v *Vault) Descriptor() string { return v.descriptor }

// ControlBlock is the BIP-341 control block that spends leafScript,
// which must be CommitteeScript or RecoveryScript (ErrVault otherwise):
// leaf version 0xc0 with the output key's parity, H, and the other
// leaf's hash.
func (v *Vault) ControlBlock(leafScript []byte) ([]byte, error) {
	i, ok := v.tree.LeafProofIndex[txscript.NewBaseTapLeaf(leafScript).TapHash()]
	if !ok {
		return nil, fmt.Errorf("%w: the script is neither of the vault's leaves", ErrVault)
	}
	proof := v.tree.LeafMerkleProofs[i]
	cb := proof.ToControlBlock(numsKey)
	b, err := cb.ToBytes()
	if err != nil {
		return nil, fmt.Errorf("%w: control block: %w", ErrVault, err)
	}
	return b, nil
}

// CommitteeScript is sortedmulti_a(k, keys): the keys sorted by their
// bytes, `<key_1> OP_CHECKSIG <key_2> OP_CHECKSIGADD ... <k> OP_NUMEQUAL`
// (Bitcoin Core's and rust-miniscript's encoding; numbers minimally
// pushed). The keys' order in the genesis does not change the vault.
func CommitteeScript(keys [][32]byte, k int) []byte {
	sorted := slices.Clone(keys)
	slices.SortFunc(sorted, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	return multiA(nil, sorted, int64(k))
}

// RecoveryScript is and_v(v:older(n), multi_a(m, keys)): `<n>
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
