package tunnel

import (
	"bytes"
	"errors"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

func txWeight(tx *wire.MsgTx) int64 {
	return int64(tx.SerializeSizeStripped()*3 + tx.SerializeSize())
}

func TestBuildPayoutShape(t *testing.T) {
	f := newFixture(t, 144)
	b := testBatch(t, f.vault, 0x0102030405060708, 10_000_000, 3, 1_000_000, 7)
	tx, err := BuildPayout(b, f.vault)
	if err != nil {
		t.Fatal(err)
	}
	if tx.Version != 2 || tx.LockTime != 0 {
		t.Fatalf("version %d locktime %d", tx.Version, tx.LockTime)
	}
	if len(tx.TxIn) != 1 || tx.TxIn[0].PreviousOutPoint != b.Inputs[0].OutPoint || tx.TxIn[0].Sequence != 0xfffffffd {
		t.Fatalf("input %+v", tx.TxIn[0])
	}
	if len(tx.TxOut) != 5 {
		t.Fatalf("%d outputs, want 3 + change + OP_RETURN", len(tx.TxOut))
	}
	wit, _ := CommitteeWitnessSize(f.vault)
	plan, err := PlanPayout(7, b.Inputs, b.Outputs, f.vault.PkScript(), wit)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range b.Outputs {
		if !bytes.Equal(tx.TxOut[i].PkScript, o.Script) || uint64(tx.TxOut[i].Value) != o.Amount-plan.Fees[i] {
			t.Fatalf("output %d = %d to %x", i, tx.TxOut[i].Value, tx.TxOut[i].PkScript)
		}
	}
	if !bytes.Equal(tx.TxOut[3].PkScript, f.vault.PkScript()) || uint64(tx.TxOut[3].Value) != 7_000_000 {
		t.Fatalf("change %d to %x", tx.TxOut[3].Value, tx.TxOut[3].PkScript)
	}
	want := []byte{0x6a, 0x0c, 'H', 'M', 'W', 'D', 1, 2, 3, 4, 5, 6, 7, 8}
	if !bytes.Equal(tx.TxOut[4].PkScript, want) || tx.TxOut[4].Value != 0 {
		t.Fatalf("OP_RETURN %x", tx.TxOut[4].PkScript)
	}
	if n, ok := ParsePayoutScript(tx.TxOut[4].PkScript); !ok || n != b.Number {
		t.Fatalf("ParsePayoutScript = %d %v", n, ok)
	}
	// Deterministic: the same batch gives the same txid.
	again, _ := BuildPayout(b, f.vault)
	if again.TxHash() != tx.TxHash() {
		t.Fatal("two builds of one batch differ")
	}
}

// TestPayoutSizeExact signs and assembles payouts of several sizes and
// checks the fee rule's weight against the real signed transaction's, and
// that every payout is valid under btcd's script engine.
func TestPayoutSizeExact(t *testing.T) {
	f := newFixture(t, 144)
	for _, outs := range []int{0, 1, 10, 25} {
		for _, rate := range []uint64{1, 3, 57} {
			b := testBatch(t, f.vault, 9, 50_000_000, outs, 1_000_000, rate)
			tx, err := BuildPayout(b, f.vault)
			if err != nil {
				t.Fatal(err)
			}
			prev := PayoutPrevouts(b, f.vault)
			signed, dropped, err := Assemble(tx, prev, f.vault, signAll(t, f, tx, prev))
			if err != nil || len(dropped) != 0 {
				t.Fatalf("outs %d: %v %v", outs, err, dropped)
			}
			wit, _ := CommitteeWitnessSize(f.vault)
			plan, _ := PlanPayout(rate, b.Inputs, b.Outputs, f.vault.PkScript(), wit)
			if got := txWeight(signed); got != plan.Weight {
				t.Fatalf("outs %d rate %d: signed weight %d, rule %d", outs, rate, got, plan.Weight)
			}
			var paid int64
			for _, o := range signed.TxOut {
				paid += o.Value
			}
			fee := int64(b.Inputs[0].Amount) - paid
			if uint64(fee) != plan.Fee {
				t.Fatalf("outs %d rate %d: fee %d, plan %d", outs, rate, fee, plan.Fee)
			}
			if vs := (txWeight(signed) + 3) / 4; fee < vs*int64(rate) {
				t.Fatalf("outs %d rate %d: fee %d under %d vB x rate", outs, rate, fee, vs)
			}
			if signed.TxHash() != tx.TxHash() {
				t.Fatal("signing changed the txid")
			}
		}
	}
}

// TestAssemble covers the committee's pairs, a bad signature among good
// ones, too few good signatures and foreign keys.
func TestAssemble(t *testing.T) {
	f := newFixture(t, 144)
	b := testBatch(t, f.vault, 3, 5_000_000, 2, 1_000_000, 2)
	b.Inputs = append(b.Inputs, BatchInput{OutPoint: wire.OutPoint{Index: 7}, Amount: 40_000, Height: 101})
	wit, _ := CommitteeWitnessSize(f.vault)
	plan, err := PlanPayout(b.FeeRate, b.Inputs, b.Outputs, f.vault.PkScript(), wit)
	if err != nil {
		t.Fatal(err)
	}
	b.Change = plan.Change
	tx, err := BuildPayout(b, f.vault)
	if err != nil {
		t.Fatal(err)
	}
	prev := PayoutPrevouts(b, f.vault)
	all := signAll(t, f, tx, prev)
	committee, err := parseLeaf(f.vault.CommitteeScript())
	if err != nil {
		t.Fatal(err)
	}
	keys := committee.keys // leaf order: assembly checks in this order
	pick := func(idx ...int) map[[32]byte][][]byte {
		m := map[[32]byte][][]byte{}
		for _, i := range idx {
			m[keys[i]] = all[keys[i]]
		}
		return m
	}
	corrupt := func(sigs [][]byte) [][]byte {
		out := make([][]byte, len(sigs))
		for i, s := range sigs {
			out[i] = append([]byte(nil), s...)
		}
		out[1][5] ^= 1 // second input's signature
		return out
	}
	other := testKeys("stranger", 1)[0]
	otherSigs, err := signLeaf(tx, prev, leaf{script: f.vault.CommitteeScript(), keys: [][32]byte{XOnly(other.PubKey())}, k: 1}, other)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name        string
		sigs        map[[32]byte][][]byte
		wantErr     error
		wantDropped int
	}{
		{"0+1", pick(0, 1), nil, 0},
		{"0+2", pick(0, 2), nil, 0},
		{"1+2", pick(1, 2), nil, 0},
		{"all three", pick(0, 1, 2), nil, 0},
		{"one alone", pick(2), ErrTooFewSignatures, 0},
		{"first bad, two good", func() map[[32]byte][][]byte { m := pick(0, 1, 2); m[keys[0]] = corrupt(m[keys[0]]); return m }(), nil, 1},
		{"short set", func() map[[32]byte][][]byte { m := pick(0, 1, 2); m[keys[1]] = m[keys[1]][:1]; return m }(), nil, 1},
		{"two bad", func() map[[32]byte][][]byte {
			m := pick(0, 1, 2)
			m[keys[0]] = corrupt(m[keys[0]])
			m[keys[2]] = corrupt(m[keys[2]])
			return m
		}(), ErrTooFewSignatures, 2},
		{"stranger", func() map[[32]byte][][]byte { m := pick(1); m[XOnly(other.PubKey())] = otherSigs; return m }(), ErrTooFewSignatures, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			signed, dropped, err := Assemble(tx, prev, f.vault, c.sigs)
			if !errors.Is(err, c.wantErr) || len(dropped) != c.wantDropped {
				t.Fatalf("err %v dropped %v, want %v and %d dropped", err, dropped, c.wantErr, c.wantDropped)
			}
			if err != nil {
				return
			}
			for in, txin := range signed.TxIn {
				nonEmpty := 0
				for _, item := range txin.Witness[:3] {
					if len(item) == SignatureSize {
						nonEmpty++
					} else if len(item) != 0 {
						t.Fatalf("input %d: witness item of %d bytes", in, len(item))
					}
				}
				if nonEmpty != 2 || len(txin.Witness) != 5 {
					t.Fatalf("input %d: %d signatures in %d items", in, nonEmpty, len(txin.Witness))
				}
			}
			engineCheck(t, signed, prev)
		})
	}
	// VerifySignature on each key alone.
	if err := VerifySignature(tx, prev, f.vault, keys[0], all[keys[0]]); err != nil {
		t.Fatal(err)
	}
	if err := VerifySignature(tx, prev, f.vault, keys[0], corrupt(all[keys[0]])); !errors.Is(err, ErrSignature) {
		t.Fatalf("corrupt: %v", err)
	}
	if err := VerifySignature(tx, prev, f.vault, keys[0], all[keys[1]]); !errors.Is(err, ErrSignature) {
		t.Fatalf("another key's signatures: %v", err)
	}
	if err := VerifySignature(tx, prev, f.vault, XOnly(other.PubKey()), otherSigs); !errors.Is(err, ErrNotSigner) {
		t.Fatalf("stranger: %v", err)
	}
	if _, err := SignPayout(tx, prev, f.vault, other); !errors.Is(err, ErrNotSigner) {
		t.Fatalf("stranger signs: %v", err)
	}
	if _, err := SignPayout(tx, prev[:1], f.vault, f.signers[0]); !errors.Is(err, ErrPrevouts) {
		t.Fatalf("short prevouts: %v", err)
	}
	// A signature over other prevout amounts (a lie about the fee) fails.
	lie := []*wire.TxOut{wire.NewTxOut(prev[0].Value+1, prev[0].PkScript), prev[1]}
	lied, _ := SignPayout(tx, lie, f.vault, f.signers[0])
	if err := VerifySignature(tx, prev, f.vault, keys[0], lied); !errors.Is(err, ErrSignature) {
		t.Fatalf("signature over other amounts: %v", err)
	}
}

// engineCheck runs btcd's script engine itself (not through CheckSpend).
func engineCheck(t *testing.T, tx *wire.MsgTx, prev []*wire.TxOut) {
	t.Helper()
	fetch := txscript.NewMultiPrevOutFetcher(nil)
	for i, in := range tx.TxIn {
		fetch.AddPrevOut(in.PreviousOutPoint, prev[i])
	}
	hashes := txscript.NewTxSigHashes(tx, fetch)
	for i := range tx.TxIn {
		e, err := txscript.NewEngine(prev[i].PkScript, tx, i, txscript.StandardVerifyFlags, nil, hashes, prev[i].Value, fetch)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Execute(); err != nil {
			t.Fatalf("input %d: %v", i, err)
		}
	}
}

func TestPlanPayoutErrors(t *testing.T) {
	f := newFixture(t, 144)
	wit, _ := CommitteeWitnessSize(f.vault)
	in := []BatchInput{{Amount: 1_000_000}}
	out := func(amount, maxFee uint64) []BatchOutput {
		return []BatchOutput{{Script: p2wpkh(0), Amount: amount, MaxFee: maxFee}}
	}
	cases := []struct {
		name string
		rate uint64
		in   []BatchInput
		out  []BatchOutput
		want error
	}{
		{"ok", 2, in, out(500_000, 10_000), nil},
		{"rate 0", 0, in, out(500_000, 10_000), ErrBatch},
		{"rate too high", MaxFeeRate + 1, in, out(500_000, 10_000), ErrBatch},
		{"no inputs", 2, nil, out(500_000, 10_000), ErrBatch},
		{"not covered", 2, in, out(1_000_001, 10_000), ErrBatch},
		{"fee above maxFee", 2, in, out(500_000, 100), ErrFeeAboveMax},
		{"dust after fee", 2, in, out(700, 700), ErrDust},
		{"zero amount", 2, in, out(0, 0), ErrBatch},
		{"refresh too small", 2, []BatchInput{{Amount: 500}}, nil, ErrBatch},
		{"26 outputs", 1, []BatchInput{{Amount: 100_000_000}}, func() []BatchOutput {
			var o []BatchOutput
			for i := 0; i < 26; i++ {
				o = append(o, out(100_000, 10_000)...)
			}
			return o
		}(), ErrBatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := PlanPayout(c.rate, c.in, c.out, f.vault.PkScript(), wit)
			if !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
		})
	}
	// Change under the vault's dust goes to the fee: no change output.
	p, err := PlanPayout(1, []BatchInput{{Amount: 500_100}}, out(500_000, 10_000), f.vault.PkScript(), wit)
	if err != nil || p.Change != 0 || p.Fee != p.Fees[0]+100 {
		t.Fatalf("small change: %+v %v", p, err)
	}
	// BuildPayout refuses a batch whose change disagrees with the rule.
	b := testBatch(t, f.vault, 1, 1_000_000, 1, 500_000, 2)
	b.Change++
	if _, err := BuildPayout(b, f.vault); !errors.Is(err, ErrBatch) {
		t.Fatalf("wrong change: %v", err)
	}
}

// TestBumpSchedule checks every re-derivation is a valid BIP-125
// replacement (higher rate, fee up by at least its vsize at 1 sat/vB) and
// that the cap keeps every output within its maxFee.
func TestBumpSchedule(t *testing.T) {
	f := newFixture(t, 144)
	wit, _ := CommitteeWitnessSize(f.vault)
	for _, outs := range []int{1, 3, 10, 25} {
		b := testBatch(t, f.vault, 1, 90_000_000, outs, 1_000_000, 1)
		for i := range b.Outputs {
			b.Outputs[i].MaxFee = 20_000 + uint64(i)*1000
		}
		maxRate := MaxRate(b.Inputs, b.Outputs, f.vault.PkScript(), wit)
		if maxRate == 0 {
			t.Fatal("no rate fits")
		}
		if _, err := PlanPayout(maxRate+1, b.Inputs, b.Outputs, f.vault.PkScript(), wit); !errors.Is(err, ErrFeeAboveMax) {
			t.Fatalf("above MaxRate: %v", err)
		}
		rate := uint64(1)
		prev, err := PlanPayout(rate, b.Inputs, b.Outputs, f.vault.PkScript(), wit)
		if err != nil {
			t.Fatal(err)
		}
		bumps := 0
		for {
			next := min(BumpRate(rate, 0), maxRate)
			if next <= rate {
				break
			}
			p, err := PlanPayout(next, b.Inputs, b.Outputs, f.vault.PkScript(), wit)
			if err != nil {
				t.Fatalf("outs %d rate %d: %v", outs, next, err)
			}
			if p.Fee < prev.Fee+uint64(p.VSize) {
				t.Fatalf("outs %d: bump %d->%d raises the fee %d->%d, under BIP-125's +%d", outs, rate, next, prev.Fee, p.Fee, p.VSize)
			}
			rate, prev = next, p
			bumps++
		}
		if bumps == 0 || rate != maxRate {
			t.Fatalf("outs %d: %d bumps ending at %d, max %d", outs, bumps, rate, maxRate)
		}
	}
	if BumpRate(10, 40) != 40 || BumpRate(10, 0) != 12 || BumpRate(100, 0) != 125 || BumpRate(MaxFeeRate, 0) != MaxFeeRate {
		t.Fatal("BumpRate")
	}
}

func TestParseLeaf(t *testing.T) {
	f := newFixture(t, 300)
	c, err := parseLeaf(f.vault.CommitteeScript())
	if err != nil || c.k != 2 || len(c.keys) != 3 || c.older != 0 {
		t.Fatalf("committee %+v %v", c, err)
	}
	r, err := parseLeaf(f.vault.RecoveryScript())
	if err != nil || r.k != 2 || len(r.keys) != 2 || r.older != 300 {
		t.Fatalf("recovery %+v %v", r, err)
	}
	for _, bad := range [][]byte{nil, {0x51}, f.vault.CommitteeScript()[:40], append(append([]byte{}, f.vault.CommitteeScript()...), 0x51)} {
		if _, err := parseLeaf(bad); !errors.Is(err, ErrVault) {
			t.Fatalf("%x: %v", bad, err)
		}
	}
}

func TestDustLimit(t *testing.T) {
	for _, c := range []struct {
		script []byte
		want   uint64
	}{
		{make([]byte, 25), 546},                                // P2PKH-sized
		{append([]byte{0x00, 0x14}, make([]byte, 20)...), 294}, // P2WPKH
		{append([]byte{0x00, 0x20}, make([]byte, 32)...), 330}, // P2WSH
		{append([]byte{0x51, 0x20}, make([]byte, 32)...), 330}, // P2TR
		{PayoutScript(1), 0},
	} {
		if got := DustLimit(c.script); got != c.want {
			t.Fatalf("%x: %d want %d", c.script, got, c.want)
		}
	}
}

func FuzzDecodeSignatures(f *testing.F) {
	fx := newFixture(f, 144)
	b := testBatch(f, fx.vault, 1, 1_000_000, 1, 500_000, 1)
	tx, _ := BuildPayout(b, fx.vault)
	prev := PayoutPrevouts(b, fx.vault)
	sigs, _ := SignPayout(tx, prev, fx.vault, fx.signers[0])
	f.Add(sigs[0], 1)
	f.Add(make([]byte, 64), 1)
	f.Add(append(sigs[0], 0), 1)
	f.Add([]byte{}, 2)
	f.Fuzz(func(t *testing.T, sig []byte, n int) {
		n = (n%4+4)%4 + 1
		in := make([][]byte, n)
		for i := range in {
			in[i] = sig
		}
		parsed, err := DecodeSignatures(in, n)
		if err != nil {
			if !errors.Is(err, ErrSignature) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		for _, p := range parsed {
			if !bytes.Equal(p.Serialize(), sig) {
				t.Fatal("decode/encode round trip differs")
			}
			if _, err := schnorr.ParseSignature(p.Serialize()); err != nil {
				t.Fatal(err)
			}
		}
		// A decoded signature over the payout either verifies under the
		// signer's key or is refused; never a crash.
		_ = VerifySignature(tx, prev, fx.vault, XOnly(fx.signers[0].PubKey()), in[:1])
	})
}

func FuzzParsePayoutScript(f *testing.F) {
	f.Add(PayoutScript(0))
	f.Add(PayoutScript(1<<63 + 5))
	f.Add([]byte{0x6a, 0x0c, 'H', 'M', 'W', 'X', 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, script []byte) {
		n, ok := ParsePayoutScript(script)
		if !ok {
			return
		}
		if !bytes.Equal(PayoutScript(n), script) {
			t.Fatalf("%x parses as batch %d, which encodes to %x", script, n, PayoutScript(n))
		}
	})
}
