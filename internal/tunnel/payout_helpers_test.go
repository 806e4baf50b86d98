package tunnel

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/tunnel/tunneltest"
)

// scriptVault is tunneltest's vault, built from txscript alone.
type scriptVault = tunneltest.ScriptVault

func testKeys(label string, count int) []*btcec.PrivateKey { return tunneltest.Keys(label, count) }

func newScriptVault(t testing.TB, signers []*btcec.PrivateKey, k int, recovery []*btcec.PrivateKey, m int, n uint16) *scriptVault {
	t.Helper()
	v, err := tunneltest.NewScriptVault(signers, k, recovery, m, n)
	if err != nil {
		t.Fatal(err)
	}
	return v
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
func testBatch(t testing.TB, v VaultScripts, number uint64, in uint64, outs int, amount uint64, rate uint64) *Batch {
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

// TestScriptVaultMatchesVault: the payout tests' vault (built by
// tunneltest from txscript alone) and NewVault agree byte for byte on the
// devnet's keys, so what the payout tests prove holds for *Vault.
func TestScriptVaultMatchesVault(t *testing.T) {
	cfg, err := genesis.DevTunnelConfig()
	if err != nil {
		t.Fatal(err)
	}
	signers, recovery, err := genesis.DevTunnelKeys()
	if err != nil {
		t.Fatal(err)
	}
	var sk, rk []*btcec.PrivateKey
	for _, s := range signers {
		sk = append(sk, s.Key)
	}
	for _, r := range recovery {
		rk = append(rk, r.Key)
	}
	ref := newScriptVault(t, sk, cfg.K, rk, cfg.M, cfg.RecoveryDelay)
	v, err := NewVault(cfg, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want []byte
	}{
		{"pkScript", v.PkScript(), ref.PkScript()},
		{"committee", v.CommitteeScript(), ref.CommitteeScript()},
		{"recovery", v.RecoveryScript(), ref.RecoveryScript()},
		{"merkle root", v.MerkleRoot(), ref.MerkleRoot()},
	} {
		if string(c.got) != string(c.want) {
			t.Fatalf("%s: %x, reference %x", c.name, c.got, c.want)
		}
	}
	for _, leaf := range [][]byte{v.CommitteeScript(), v.RecoveryScript()} {
		a, err1 := v.ControlBlock(leaf)
		b, err2 := ref.ControlBlock(leaf)
		if err1 != nil || err2 != nil || string(a) != string(b) {
			t.Fatalf("control block: %x %v, reference %x %v", a, err1, b, err2)
		}
	}
}
