package tunnel

// The payout fee rule (DESIGN 6), a pure function shared by twd's batch
// deriver (which outputs fit, what the change is) and BuildPayout (the
// transaction), so both always agree:
//
//   - the size is the FINAL signed transaction's, computed exactly: per
//     input k 64-byte Schnorr signatures, n-k empty items, the committee
//     leaf script and its control block (SIGHASH_DEFAULT signatures have a
//     fixed size, so the signed size is known before anyone signs);
//   - each output pays its own vsize times the rate, plus an equal share,
//     rounded up, of the rest of the transaction (inputs, change,
//     OP_RETURN, header) times the rate; its fee must not exceed its maxFee
//     and what it pays must stay at or above its script's dust limit;
//   - the change (inputs less the outputs' amounts) returns to the vault
//     when it is at least the vault script's dust limit, else it goes to
//     the fee; a batch with no outputs (a refresh of old vault outputs)
//     pays the whole fee out of the change.
//
// Re-derivation (BumpRate, MaxRate): the same inputs and outputs at a
// higher rate. Every attempt's rate is at least the previous one plus
// max(2, a quarter): a fee increase of at least 2 sat/vB times the vsize
// covers BIP-125's "replacement pays for its own bandwidth" (1 sat/vB
// incremental relay fee) even after the per-output rounding. The rate is
// capped where every output's fee still fits its maxFee, so a bump never
// takes more than an owner accepted (and so never more than the sum).

import (
	"fmt"
	"math"

	"github.com/btcsuite/btcd/wire/v2"
)

const (
	// MaxFeeRate bounds the fee rate (sat/vB) the rule accepts, so no
	// product overflows and a corrupted rate is an error, not a payout.
	MaxFeeRate = 100_000
	// maxMoney is 21 million BTC in satoshis.
	maxMoney = 21_000_000 * 100_000_000
	// inputBaseSize is one input's non-witness bytes: outpoint (36),
	// empty scriptSig (1), sequence (4).
	inputBaseSize = 41
)

// Plan is a payout's fee split, as PlanPayout computes it.
type Plan struct {
	Fees   []uint64 // each output's fee (Amount - Fees[i] is what it pays)
	Change uint64   // satoshis back to the vault, 0 for no change output
	Fee    uint64   // total fee: inputs - outputs paid - change
	Weight int64    // the final signed transaction's weight
	VSize  int64    // ceil(Weight / 4)
}

// outputSize is one output's serialized bytes.
func outputSize(script []byte) int64 {
	return int64(8 + wire.VarIntSerializeSize(uint64(len(script))) + len(script))
}

// payoutWeight is the weight of a signed payout with inputs inputs of
// witness witSize bytes each and the given output scripts.
func payoutWeight(inputs int, witSize int, scripts [][]byte) int64 {
	base := int64(4 + wire.VarIntSerializeSize(uint64(inputs)) + inputs*inputBaseSize +
		wire.VarIntSerializeSize(uint64(len(scripts))) + 4)
	for _, s := range scripts {
		base += outputSize(s)
	}
	// Witness bytes count once; the segwit marker and flag are 2 of them.
	return base*4 + 2 + int64(inputs)*int64(witSize)
}

// PlanPayout applies the fee rule to a batch's inputs and outputs at rate
// (sat/vB). vaultScript is the change's script and witSize one input's
// witness bytes (CommitteeWitnessSize). Errors: ErrBatch for a batch no
// payout can have, ErrFeeAboveMax and ErrDust naming the output at fault.
func PlanPayout(rate uint64, inputs []BatchInput, outputs []BatchOutput, vaultScript []byte, witSize int) (Plan, error) {
	switch {
	case rate < 1 || rate > MaxFeeRate:
		return Plan{}, fmt.Errorf("%w: fee rate %d sat/vB outside 1..%d", ErrBatch, rate, MaxFeeRate)
	case len(inputs) == 0:
		return Plan{}, fmt.Errorf("%w: no vault inputs", ErrBatch)
	case len(inputs) > MaxPayoutInputs:
		return Plan{}, fmt.Errorf("%w: %d vault inputs, at most %d", ErrBatch, len(inputs), MaxPayoutInputs)
	case len(outputs) > MaxPayoutOutputs:
		return Plan{}, fmt.Errorf("%w: %d outputs, at most %d", ErrBatch, len(outputs), MaxPayoutOutputs)
	case witSize <= 0:
		return Plan{}, fmt.Errorf("%w: witness size %d", ErrVault, witSize)
	}
	var in, out uint64
	for i, x := range inputs {
		if x.Amount == 0 || x.Amount > maxMoney {
			return Plan{}, fmt.Errorf("%w: input %d amount %d", ErrBatch, i, x.Amount)
		}
		in += x.Amount
	}
	for i, o := range outputs {
		if o.Amount == 0 || o.Amount > maxMoney {
			return Plan{}, fmt.Errorf("%w: output %d amount %d", ErrBatch, i, o.Amount)
		}
		if len(o.Script) == 0 || len(o.Script) > 10_000 {
			return Plan{}, fmt.Errorf("%w: output %d script of %d bytes", ErrBatch, i, len(o.Script))
		}
		out += o.Amount
	}
	if in > maxMoney || out > maxMoney {
		return Plan{}, fmt.Errorf("%w: amounts above 21M BTC", ErrBatch)
	}
	if in < out {
		return Plan{}, fmt.Errorf("%w: inputs %d sat do not cover outputs %d sat", ErrBatch, in, out)
	}
	opret := PayoutScript(0) // the number does not change the size
	scripts := make([][]byte, 0, len(outputs)+2)
	for _, o := range outputs {
		scripts = append(scripts, o.Script)
	}
	vaultDust := DustLimit(vaultScript)

	if len(outputs) == 0 {
		// A refresh: the change pays everything.
		w := payoutWeight(len(inputs), witSize, append(scripts, vaultScript, opret))
		vsize := (w + 3) / 4
		fee := uint64(vsize) * rate
		if in < fee || in-fee < vaultDust {
			return Plan{}, fmt.Errorf("%w: refresh of %d sat cannot pay its fee %d sat and keep %d sat", ErrBatch, in, fee, vaultDust)
		}
		return Plan{Fees: []uint64{}, Change: in - fee, Fee: fee, Weight: w, VSize: vsize}, nil
	}

	change := in - out
	if change < vaultDust {
		change = 0
	} else {
		scripts = append(scripts, vaultScript)
	}
	w := payoutWeight(len(inputs), witSize, append(scripts, opret))
	vsize := (w + 3) / 4
	var ownV int64
	for _, o := range outputs {
		ownV += outputSize(o.Script)
	}
	rest := uint64(vsize-ownV) * rate
	n := uint64(len(outputs))
	share := (rest + n - 1) / n
	plan := Plan{Fees: make([]uint64, len(outputs)), Change: change, Weight: w, VSize: vsize}
	for i, o := range outputs {
		fee := uint64(outputSize(o.Script))*rate + share
		if fee > o.MaxFee {
			return Plan{}, fmt.Errorf("%w: output %d (id %d) fee %d sat > maxFee %d sat at %d sat/vB", ErrFeeAboveMax, i, o.ID, fee, o.MaxFee, rate)
		}
		if fee >= o.Amount || o.Amount-fee < DustLimit(o.Script) {
			return Plan{}, fmt.Errorf("%w: output %d (id %d) pays %d sat - fee %d sat, under dust %d", ErrDust, i, o.ID, o.Amount, fee, DustLimit(o.Script))
		}
		plan.Fees[i] = fee
		plan.Fee += fee
	}
	plan.Fee += in - out - change // a change under dust goes to the fee
	return plan, nil
}

// BumpRate is the fee rate of the next re-derivation of a payout whose
// current attempt pays prev sat/vB, given the view's current fee statistic:
// the higher of the statistic and prev + max(2, prev/4). Callers cap it
// with MaxRate; a capped rate not above prev means no bump is possible.
func BumpRate(prev, current uint64) uint64 {
	step := max(prev/4, 2)
	next := prev + step
	if next < prev { // overflow
		next = math.MaxUint64
	}
	return min(max(next, current), MaxFeeRate)
}

// MaxRate is the highest fee rate (up to MaxFeeRate) at which PlanPayout
// accepts the batch, 0 if none does. Fees grow with the rate, so a binary
// search finds it.
func MaxRate(inputs []BatchInput, outputs []BatchOutput, vaultScript []byte, witSize int) uint64 {
	ok := func(r uint64) bool {
		_, err := PlanPayout(r, inputs, outputs, vaultScript, witSize)
		return err == nil
	}
	if !ok(1) {
		return 0
	}
	lo, hi := uint64(1), uint64(MaxFeeRate)
	if ok(hi) {
		return hi
	}
	for hi-lo > 1 { // ok(lo) && !ok(hi)
		mid := lo + (hi-lo)/2
		if ok(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}
