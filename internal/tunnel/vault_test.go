package tunnel

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/chain/genesis"
)

// vaultVector is testdata/vault_dev.json.
type vaultVector struct {
	CommitteeScript  string `json:"committee_script"`
	RecoveryScript   string `json:"recovery_script"`
	PkScript         string `json:"pk_script"`
	MultiADescriptor string `json:"multi_a_descriptor"`
	Address          string `json:"address"`
	Descriptor       string `json:"descriptor"`
}

func devVault(t testing.TB) (*Vault, []genesis.DevTunnelKey, []genesis.DevTunnelKey) {
	t.Helper()
	cfg, err := genesis.DevTunnelConfig()
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVault(cfg, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	s, r, err := genesis.DevTunnelKeys()
	if err != nil {
		t.Fatal(err)
	}
	return v, s, r
}

// TestVaultGolden: the devnet vault's scripts, output and descriptor are
// byte for byte what rust-miniscript computes for the same descriptor
// (testdata/vault_dev.json says how the vector was made).
func TestVaultGolden(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "vault_dev.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want vaultVector
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	v, _, _ := devVault(t)
	for name, got := range map[string][2]string{
		"committee": {hex.EncodeToString(v.CommitteeScript()), want.CommitteeScript},
		"recovery":  {hex.EncodeToString(v.RecoveryScript()), want.RecoveryScript},
		"pkScript":  {hex.EncodeToString(v.PkScript()), want.PkScript},
		"address":   {v.Address(), want.Address},
		"desc":      {v.Descriptor(), want.Descriptor},
	} {
		if got[0] != got[1] {
			t.Errorf("%s:\n got %s\nwant %s", name, got[0], got[1])
		}
	}
	// The checksum of the multi_a form rust-miniscript printed is ours.
	body, sum, _ := strings.Cut(want.MultiADescriptor, "#")
	if got, _ := Checksum(body); got != sum {
		t.Errorf("checksum of rust-miniscript's descriptor: %s, it says %s", got, sum)
	}
	// Our descriptor is that one with sortedmulti_a for the committee.
	if d, err := VerifyChecksum(v.Descriptor()); err != nil || strings.Replace(d, "sortedmulti_a(", "multi_a(", 1) != body {
		t.Errorf("descriptor %s (%v) is not the multi_a form %s with sortedmulti_a", d, err, body)
	}
	if !strings.HasPrefix(v.Address(), "bcrt1p") {
		t.Errorf("address %s is not a regtest P2TR address", v.Address())
	}
	if got := schnorr.SerializePubKey(v.InternalKey()); hex.EncodeToString(got) != NUMSKeyX {
		t.Errorf("internal key %x", got)
	}
	if !bytes.Equal(v.PkScript()[2:], schnorr.SerializePubKey(v.OutputKey())) || !v.IsVault(v.PkScript()) {
		t.Error("pkScript does not hold the output key")
	}
	// The output key is H tweaked by the merkle root of the two leaves.
	root := txscript.NewTapBranch(txscript.NewBaseTapLeaf(v.RecoveryScript()), txscript.NewBaseTapLeaf(v.CommitteeScript())).TapHash()
	if !bytes.Equal(root[:], v.MerkleRoot()) {
		t.Error("merkle root")
	}
}

// TestVaultNUMS: H is lift_x(SHA256(G)), BIP-341's suggested point.
func TestVaultNUMS(t *testing.T) {
	g := btcec.Generator() // compressed: 02 || x(G)
	sum := chainhash.HashB(g.SerializeUncompressed())
	if hex.EncodeToString(sum) != NUMSKeyX {
		t.Fatalf("SHA256(G) = %x, NUMSKeyX %s", sum, NUMSKeyX)
	}
}

// TestVaultIndependentOfSignerOrder: sortedmulti_a makes the vault the
// same for any order of Signers; the recovery keys' order matters
// (multi_a); every parameter changes the address.
func TestVaultIndependentOfSignerOrder(t *testing.T) {
	v, _, _ := devVault(t)
	cfg := v.Config()
	slices.Reverse(cfg.Signers)
	w, err := NewVault(cfg, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	if w.Address() != v.Address() || w.Descriptor() != v.Descriptor() {
		t.Fatal("the signers' order changes the vault")
	}
	for name, mut := range map[string]func(c *genesis.TunnelConfig){
		"recovery order": func(c *genesis.TunnelConfig) { slices.Reverse(c.Recovery) },
		"k":              func(c *genesis.TunnelConfig) { c.K = 3 },
		"m":              func(c *genesis.TunnelConfig) { c.M = 1 },
		"N":              func(c *genesis.TunnelConfig) { c.RecoveryDelay++ },
		"a signer":       func(c *genesis.TunnelConfig) { c.Signers = c.Signers[:2]; c.K = 2 },
	} {
		c := v.Config()
		mut(c)
		w, err := NewVault(c, &chaincfg.RegressionNetParams)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if w.Address() == v.Address() || w.Descriptor() == v.Descriptor() {
			t.Errorf("%s: same vault", name)
		}
	}
	main, err := NewVault(v.Config(), &chaincfg.MainNetParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(main.Address(), "bc1p") || !bytes.Equal(main.PkScript(), v.PkScript()) {
		t.Fatalf("mainnet vault %s", main.Address())
	}
}

func TestNewVaultErrors(t *testing.T) {
	if _, err := NewVault(nil, &chaincfg.RegressionNetParams); !errors.Is(err, ErrNoTunnel) {
		t.Fatalf("nil config: %v", err)
	}
	v, _, _ := devVault(t)
	c := v.Config()
	c.K = 4
	var fe *genesis.FieldError
	if _, err := NewVault(c, &chaincfg.RegressionNetParams); !errors.As(err, &fe) || fe.Field != "tunnel.k" {
		t.Fatalf("k 4 of 3: %v", err)
	}
	if _, err := v.ControlBlock([]byte{txscript.OP_TRUE}); !errors.Is(err, ErrVault) {
		t.Fatalf("control block of another script: %v", err)
	}
}

// TestVaultLargeSets: 999 keys (the multi_a limit) build a vault whose
// leaf is larger than txscript's legacy 10,000-byte builder limit.
func TestVaultLargeSets(t *testing.T) {
	keys := make([][32]byte, genesis.MaxTunnelKeys)
	for i := range keys {
		k, err := btcec.NewPrivateKey()
		if err != nil {
			t.Fatal(err)
		}
		copy(keys[i][:], schnorr.SerializePubKey(k.PubKey()))
	}
	c := genesis.DefaultTunnelConfig(keys, 600, keys[:20], 11)
	v, err := NewVault(c, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(v.CommitteeScript()); n != 999*34+3+1 {
		t.Fatalf("committee script %d bytes", n)
	}
	if _, err := v.ControlBlock(v.CommitteeScript()); err != nil {
		t.Fatal(err)
	}
}

// spend builds a transaction spending a vault output of value through
// leaf with the witness the leaf's multi_a wants: one item per key, the
// last key's first (the first key's signature is on top of the stack),
// empty for keys that do not sign.
func spend(t *testing.T, v *Vault, leaf []byte, keys []genesis.DevTunnelKey, signing []int, sequence uint32) (*wire.MsgTx, error) {
	t.Helper()
	const value = 100_000_000
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: chainhash.Hash{1}, Index: 3}, Sequence: sequence})
	tx.AddTxOut(wire.NewTxOut(value-1000, v.PkScript()))
	fetcher := txscript.NewCannedPrevOutputFetcher(v.PkScript(), value)
	hashes := txscript.NewTxSigHashes(tx, fetcher)
	tapLeaf := txscript.NewBaseTapLeaf(leaf)
	witness := make(wire.TxWitness, len(keys))
	for i, k := range keys {
		if !slices.Contains(signing, i) {
			continue
		}
		sig, err := txscript.RawTxInTapscriptSignature(tx, hashes, 0, value, v.PkScript(), tapLeaf, txscript.SigHashDefault, k.Key)
		if err != nil {
			t.Fatal(err)
		}
		witness[len(keys)-1-i] = sig
	}
	cb, err := v.ControlBlock(leaf)
	if err != nil {
		t.Fatal(err)
	}
	tx.TxIn[0].Witness = append(witness, leaf, cb)
	vm, err := txscript.NewEngine(v.PkScript(), tx, 0, txscript.StandardVerifyFlags, nil, hashes, value, fetcher)
	if err != nil {
		t.Fatal(err)
	}
	return tx, vm.Execute()
}

// sortedKeys orders keys as sortedmulti_a does.
func sortedKeys(keys []genesis.DevTunnelKey) []genesis.DevTunnelKey {
	s := slices.Clone(keys)
	slices.SortFunc(s, func(a, b genesis.DevTunnelKey) int { return bytes.Compare(a.XOnly[:], b.XOnly[:]) })
	return s
}

// TestVaultSpends: btcd's script engine (standard flags) accepts k
// committee signatures through the control block, refuses k-1, and
// accepts the recovery set only once the input's relative lock reaches
// N blocks.
func TestVaultSpends(t *testing.T) {
	v, signers, recovery := devVault(t)
	committee := sortedKeys(signers)
	if _, err := spend(t, v, v.CommitteeScript(), committee, []int{0, 2}, wire.MaxTxInSequenceNum); err != nil {
		t.Fatalf("2 of 3 signers: %v", err)
	}
	if _, err := spend(t, v, v.CommitteeScript(), committee, []int{1, 2}, wire.MaxTxInSequenceNum); err != nil {
		t.Fatalf("2 of 3 signers: %v", err)
	}
	if _, err := spend(t, v, v.CommitteeScript(), committee, []int{1}, wire.MaxTxInSequenceNum); err == nil {
		t.Fatal("1 of 3 signers spent the vault")
	}
	if _, err := spend(t, v, v.CommitteeScript(), signers, []int{0, 1}, wire.MaxTxInSequenceNum); err == nil && !slices.Equal(committee, signers) {
		t.Fatal("signatures in genesis order, not sorted order, were accepted")
	}
	if _, err := spend(t, v, v.RecoveryScript(), recovery, []int{0, 2}, genesis.DevRecoveryDelay); err != nil {
		t.Fatalf("recovery after N: %v", err)
	}
	if _, err := spend(t, v, v.RecoveryScript(), recovery, []int{0, 2}, genesis.DevRecoveryDelay-1); err == nil {
		t.Fatal("recovery before N blocks")
	}
	if _, err := spend(t, v, v.RecoveryScript(), recovery, []int{2}, genesis.DevRecoveryDelay); err == nil {
		t.Fatal("recovery with 1 of 2 required keys")
	}
	if _, err := spend(t, v, v.RecoveryScript(), committee, []int{0, 1}, genesis.DevRecoveryDelay); err == nil {
		t.Fatal("committee keys spent the recovery leaf")
	}
}
