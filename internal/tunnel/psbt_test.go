package tunnel

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"reflect"
	"testing"

	"github.com/btcsuite/btcd/txscript/v2"

	"github.com/hemi-go/hemi/internal/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// psbtGolden pins one payout PSBT: the 2-of-3 fixture, 2 withdrawals
// at 3 sat/vB, batch 42. Any change to the payout shape, the fee rule or
// the PSBT encoding shows here.
type psbtGolden struct {
	Txid   string
	PSBT   string // base64
	Signed string // hex of the assembled transaction (signers 0 and 1)
}

func goldenPayout(t *testing.T) (*fixture, *Batch) {
	f := newFixture(t, 144)
	return f, testBatch(t, f.vault, 42, 3_000_000, 2, 1_000_000, 3)
}

func TestPayoutPSBTGolden(t *testing.T) {
	f, b := goldenPayout(t)
	p, err := PayoutPSBT(b, f.vault)
	if err != nil {
		t.Fatal(err)
	}
	b64, err := p.Base64()
	if err != nil {
		t.Fatal(err)
	}
	tx, _ := BuildPayout(b, f.vault)
	prev := PayoutPrevouts(b, f.vault)
	sigs := map[[32]byte][][]byte{}
	for _, s := range f.signers[:2] {
		ss, err := SignPayout(tx, prev, f.vault, s)
		if err != nil {
			t.Fatal(err)
		}
		sigs[XOnly(s.PubKey())] = ss
	}
	signed, _, err := Assemble(tx, prev, f.vault, sigs)
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	if err := signed.Serialize(&raw); err != nil {
		t.Fatal(err)
	}
	got := psbtGolden{Txid: tx.TxHash().String(), PSBT: b64, Signed: hex.EncodeToString(raw.Bytes())}
	want := golden.JSON(t, "testdata/payout_psbt.json", got, *update)
	if got != want {
		t.Fatalf("payout changed:\n got %+v\nwant %+v", got, want)
	}

	// The fields BIP-371 asks for, on every input.
	back, err := ParsePSBTBase64(b64)
	if err != nil {
		t.Fatal(err)
	}
	for i, in := range back.Inputs {
		if in.WitnessUTXO == nil || !bytes.Equal(in.WitnessUTXO.PkScript, f.vault.PkScript()) || in.WitnessUTXO.Value != int64(b.Inputs[i].Amount) {
			t.Fatalf("input %d witness utxo %+v", i, in.WitnessUTXO)
		}
		if len(in.TapLeafScripts) != 1 || !bytes.Equal(in.TapLeafScripts[0].Script, f.vault.CommitteeScript()) || in.TapLeafScripts[0].LeafVersion != 0xc0 {
			t.Fatalf("input %d leaf %+v", i, in.TapLeafScripts)
		}
		cb, _ := f.vault.ControlBlock(f.vault.CommitteeScript())
		if !bytes.Equal(in.TapLeafScripts[0].ControlBlock, cb) {
			t.Fatal("control block")
		}
		if ik := XOnly(f.vault.InternalKey()); !bytes.Equal(in.TapInternalKey, ik[:]) || !bytes.Equal(in.TapMerkleRoot, f.vault.MerkleRoot()) {
			t.Fatal("internal key / merkle root")
		}
	}
	if back.Tx.TxHash() != tx.TxHash() {
		t.Fatal("PSBT's unsigned tx is not the payout")
	}
	change := back.Outputs[2]
	if change.TapInternalKey == nil || !validTapTree(change.TapTree) {
		t.Fatalf("change output map %+v", change)
	}
	if back.Outputs[0].TapInternalKey != nil {
		t.Fatal("a withdrawal output got vault fields")
	}
}

// TestPSBTSigningRoundTrip signs through PSBTs as external signers would:
// each adds its signatures to its own copy, the copies are parsed and
// their signatures collected, and the assembly is valid.
func TestPSBTSigningRoundTrip(t *testing.T) {
	f, b := goldenPayout(t)
	tx, _ := BuildPayout(b, f.vault)
	prev := PayoutPrevouts(b, f.vault)
	collected := map[[32]byte][][]byte{}
	for _, s := range []int{2, 0} {
		p, _ := PayoutPSBT(b, f.vault)
		sigs, err := SignPayout(p.Tx, prev, f.vault, f.signers[s])
		if err != nil {
			t.Fatal(err)
		}
		if err := p.AddLeafSignatures(f.vault.CommitteeScript(), XOnly(f.signers[s].PubKey()), sigs); err != nil {
			t.Fatal(err)
		}
		enc, _ := p.Encode()
		back, err := ParsePSBT(enc)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := back.Encode()
		if !bytes.Equal(enc, again) {
			t.Fatal("encode(parse(x)) != x")
		}
		for k, v := range back.LeafSignatures(f.vault.CommitteeScript()) {
			collected[k] = v
		}
		if len(back.LeafSignatures(f.vault.RecoveryScript())) != 0 {
			t.Fatal("signatures for the wrong leaf")
		}
	}
	if len(collected) != 2 {
		t.Fatalf("%d signers collected", len(collected))
	}
	signed, _, err := Assemble(tx, prev, f.vault, collected)
	if err != nil {
		t.Fatal(err)
	}
	engineCheck(t, signed, prev)
}

func TestParsePSBTErrors(t *testing.T) {
	f, b := goldenPayout(t)
	p, _ := PayoutPSBT(b, f.vault)
	good, _ := p.Encode()
	mutate := func(fn func([]byte) []byte) []byte { return fn(append([]byte(nil), good...)) }
	tx := []byte{}
	{
		var buf bytes.Buffer
		_ = p.Tx.SerializeNoWitness(&buf)
		tx = buf.Bytes()
	}
	for _, c := range []struct {
		name string
		raw  []byte
	}{
		{"empty", nil},
		{"no magic", mutate(func(b []byte) []byte { b[0] = 'x'; return b })},
		{"truncated", good[:len(good)-1]},
		{"trailing", append(append([]byte(nil), good...), 0)},
		{"no tx", append(append([]byte(nil), psbtMagic...), 0)},
		{"version 2", func() []byte {
			var bb bytes.Buffer
			bb.Write(psbtMagic)
			writePair(&bb, []byte{psbtGlobalUnsignedTx}, tx)
			writePair(&bb, []byte{psbtGlobalVersion}, []byte{2, 0, 0, 0})
			bb.WriteByte(0)
			return bb.Bytes()
		}()},
		{"duplicate key", func() []byte {
			var bb bytes.Buffer
			bb.Write(psbtMagic)
			writePair(&bb, []byte{psbtGlobalUnsignedTx}, tx)
			writePair(&bb, []byte{psbtGlobalUnsignedTx}, tx)
			bb.WriteByte(0)
			return bb.Bytes()
		}()},
		{"huge length", append(append([]byte(nil), psbtMagic...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ParsePSBT(c.raw); !errors.Is(err, ErrPSBT) {
				t.Fatalf("err %v", err)
			}
		})
	}
	bad := *p
	bad.Inputs = append([]PSBTInput(nil), p.Inputs...)
	bad.Inputs[0].TapInternalKey = []byte{1, 2, 3}
	enc, _ := bad.Encode()
	if _, err := ParsePSBT(enc); !errors.Is(err, ErrPSBT) {
		t.Fatalf("short internal key: %v", err)
	}
	if _, err := ParsePSBTBase64("not base64!"); !errors.Is(err, ErrPSBT) {
		t.Fatalf("base64: %v", err)
	}
}

func FuzzParsePSBT(f *testing.F) {
	fx := newFixture(f, 144)
	b := testBatch(f, fx.vault, 42, 3_000_000, 2, 1_000_000, 3)
	p, _ := PayoutPSBT(b, fx.vault)
	enc, _ := p.Encode()
	f.Add(enc)
	tx, _ := BuildPayout(b, fx.vault)
	prev := PayoutPrevouts(b, fx.vault)
	sigs, _ := SignPayout(tx, prev, fx.vault, fx.signers[1])
	_ = p.AddLeafSignatures(fx.vault.CommitteeScript(), XOnly(fx.signers[1].PubKey()), sigs)
	p.Unknown = append(p.Unknown, PSBTPair{Key: []byte{0x70, 1}, Value: []byte{9}})
	signedEnc, _ := p.Encode()
	f.Add(signedEnc)
	f.Add(psbtMagic)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := ParsePSBT(raw)
		if err != nil {
			if !errors.Is(err, ErrPSBT) {
				t.Fatalf("error without ErrPSBT: %v", err)
			}
			return
		}
		enc, err := p.Encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParsePSBT(enc)
		if err != nil {
			t.Fatalf("re-parse of an encoded PSBT: %v", err)
		}
		again, _ := back.Encode()
		if !bytes.Equal(enc, again) {
			t.Fatal("encoding is not stable")
		}
		if !reflect.DeepEqual(back.Tx, p.Tx) && back.Tx.TxHash() != p.Tx.TxHash() {
			t.Fatal("tx changed")
		}
		_ = back.LeafSignatures([]byte{txscript.OP_TRUE})
	})
}
