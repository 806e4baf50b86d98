package tunnel

// Batches (DESIGN 6, the withdrawal side): the consensus choice of the one
// payout in flight. Every node derives the same Batch from L2 state and
// the block's Bitcoin view (SelectBatch, Rederive), writes it into the
// tunnel predeploy by a system transaction (l2wd.go) and reads it back
// (ReadBatch); tpayout's BuildPayout turns it into the Bitcoin
// transaction, so every node knows each attempt's txid. Everything here
// is a pure function of its arguments.
//
// The payout's shape, which the vsize arithmetic below assumes and
// BuildPayout must produce: version 2, locktime 0; the batch's inputs in
// order, each a script-path spend of the committee leaf (empty
// scriptSig, witness = k 64-byte BIP-340 signatures and n-k empty items,
// the leaf script, the control block of a two-leaf tree); outputs: one
// per batch output in order, then the change to the vault (P2TR), then
// the OP_RETURN `HMWD` || batch number (u64 big-endian).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/btcsuite/btcd/wire/v2"
)

// Batch limits and constants (DESIGN 6).
const (
	// MaxBatchOutputs is the most withdrawals and refunds one payout pays.
	MaxBatchOutputs = 25
	// MaxBatchInputs bounds the vault outputs one payout spends, so a
	// flood of dust deposits cannot make a payout too large to relay.
	MaxBatchInputs = 50
	// MaxQueueScan bounds the queue items one selection looks at, so a
	// queue of withdrawals waiting on their maxFee costs bounded work per
	// block.
	MaxQueueScan = 500
	// VaultDustSat is the dust limit of the vault's P2TR output: the
	// change must stay at or above it.
	VaultDustSat = 330
	// PayoutMarker prefixes the payout's OP_RETURN data (then the batch
	// number, u64 big-endian).
	PayoutMarker = "HMWD"
)

// Queue item kinds and statuses, as TunnelWithdrawals.sol stores them.
const (
	KindWithdrawal uint8 = 1
	KindRefund     uint8 = 2

	StatusQueued  uint8 = 1
	StatusInBatch uint8 = 2
	StatusPaid    uint8 = 3
)

// ErrBatch: a batch that cannot be built from its arguments.
var ErrBatch = errors.New("tunnel: invalid batch")

// QueueItem is one withdrawal or refund of the predeploy's queue.
type QueueItem struct {
	ID        uint64
	Kind      uint8
	Status    uint8
	Script    []byte // the output script it is paid to
	AmountSat uint64 // burned (withdrawal) or deposited (refund)
	MaxFeeSat uint64 // the most of the payout fee it pays
	L2Block   uint64 // the L2 block that queued it
	Batch     uint64 // the batch paying it (0: none)
	From      [20]byte
	// Refunds only: the deposit's outpoint (txid in wire order).
	DepositTxid [32]byte
	DepositVout uint32
}

// BatchInput is a vault output a batch spends.
type BatchInput struct {
	Outpoint  wire.OutPoint
	AmountSat uint64
	Height    int32 // the Bitcoin block holding it
}

// BatchOutput is one payout output: queue item ID paid ValueSat
// (= AmountSat - its fee share) to Script.
type BatchOutput struct {
	ID        uint64
	Kind      uint8
	Script    []byte
	AmountSat uint64
	MaxFeeSat uint64
	ValueSat  uint64
}

// FeeSat is what the output pays of the payout's fee.
func (o *BatchOutput) FeeSat() uint64 { return o.AmountSat - o.ValueSat }

// Batch is the consensus payout batch held in L2 state: the one payout
// in flight (Open) or the last one.
type Batch struct {
	Number  uint64 // from 1
	Attempt uint32 // 0, then one more per re-derivation
	FeeRate uint64 // sat/vB of this attempt
	// BtcHeight is the Bitcoin view height at which this attempt was
	// derived; RederiveBlocks after it an unconfirmed payout is re-derived.
	BtcHeight int32
	Open      bool
	// Refresh: no outputs, the inputs are vault outputs past half the
	// recovery delay re-spent to the vault; the fee comes from the change.
	Refresh bool
	Inputs  []BatchInput
	Outputs []BatchOutput
	// ChangeSat goes back to the vault; FeeSat is the transaction's fee.
	ChangeSat uint64
	FeeSat    uint64
	// AttemptRates are the fee rates of attempts 0..Attempt: every one
	// of them may confirm, so the paid marker looks for each one's txid.
	AttemptRates []uint64
	// RefreshFeesSat is the total the vault paid for refresh-only batches
	// (a running figure of the predeploy, kept with the batch).
	RefreshFeesSat uint64
}

// AtAttempt returns b as attempt a (a <= b.Attempt): the same inputs and
// outputs with the values and fee of that attempt's rate, for the txid of
// an earlier attempt, which may be the one that confirms.
func (b *Batch) AtAttempt(a uint32, shape PayoutShape) (*Batch, error) {
	if int(a) >= len(b.AttemptRates) {
		return nil, fmt.Errorf("%w: attempt %d of batch %d has no recorded rate", ErrBatch, a, b.Number)
	}
	cp := *b
	cp.Attempt = a
	cp.Inputs = slices.Clone(b.Inputs)
	cp.Outputs = slices.Clone(b.Outputs)
	cp.AttemptRates = slices.Clone(b.AttemptRates[:a+1])
	if err := applyFees(&cp, shape, b.AttemptRates[a]); err != nil {
		return nil, err
	}
	return &cp, nil
}

// PayoutShape is what the payout's size depends on besides the batch: the
// committee leaf's n (signers) and k.
type PayoutShape struct {
	Signers int
	K       int
}

func varIntLen(n int) int {
	return wire.VarIntSerializeSize(uint64(n))
}

// committeeScriptLen is the length of `<key_1> OP_CHECKSIG <key_2>
// OP_CHECKSIGADD ... <k> OP_NUMEQUAL`.
func (s PayoutShape) committeeScriptLen() int {
	kPush := 1 // OP_1..OP_16
	if s.K > 16 {
		kPush = 1 + len(minimalInt(s.K))
	}
	return s.Signers*(1+32+1) + kPush + 1
}

// minimalInt is the script number encoding of a positive v.
func minimalInt(v int) []byte {
	var out []byte
	for v > 0 {
		out = append(out, byte(v&0xff))
		v >>= 8
	}
	if out[len(out)-1]&0x80 != 0 {
		out = append(out, 0)
	}
	return out
}

// inputWitnessLen is one committee script-path input's witness bytes:
// the item count, k signatures of 64 bytes, n-k empty items, the leaf
// script and the 65-byte control block (two leaves: depth 1).
func (s PayoutShape) inputWitnessLen() int {
	sl := s.committeeScriptLen()
	return varIntLen(s.Signers+2) + s.K*(1+64) + (s.Signers - s.K) + varIntLen(sl) + sl + 1 + 65
}

// outputLen is the serialized size of an output paying script.
func outputLen(script []byte) int { return 8 + varIntLen(len(script)) + len(script) }

// vaultOutputLen: the change output (P2TR, 34-byte script).
const vaultOutputLen = 8 + 1 + 34

// markerOutputLen: the OP_RETURN `6a 0c HMWD <u64>`.
const markerOutputLen = 8 + 1 + 14

// PayoutVSize is the virtual size of the payout of nIn inputs paying
// scripts (then change and marker), under shape.
func PayoutVSize(shape PayoutShape, nIn int, scripts [][]byte) int {
	nOut := len(scripts) + 2
	base := 4 + varIntLen(nIn) + nIn*(32+4+1+4) + varIntLen(nOut) + vaultOutputLen + markerOutputLen + 4
	for _, s := range scripts {
		base += outputLen(s)
	}
	weight := base*4 + 2 + nIn*shape.inputWitnessLen()
	return (weight + 3) / 4
}

// MarkerScript is the payout's OP_RETURN script for batch number.
func MarkerScript(number uint64) []byte {
	out := make([]byte, 0, 14)
	out = append(out, 0x6a, 0x0c)
	out = append(out, PayoutMarker...)
	return binary.BigEndian.AppendUint64(out, number)
}

// FeeShares applies DESIGN 6's fee rule at rate (sat/vB) to a payout of
// nIn inputs paying scripts: output i pays its own vsize times the rate
// plus an equal share, rounded up, of the rest of the transaction's fee
// (inputs, change, marker, overhead). With no outputs it returns nil and
// the whole fee, which the change pays.
func FeeShares(shape PayoutShape, rate uint64, nIn int, scripts [][]byte) (shares []uint64, total uint64) {
	total = rate * uint64(PayoutVSize(shape, nIn, scripts))
	if len(scripts) == 0 {
		return nil, total
	}
	var own uint64
	shares = make([]uint64, len(scripts))
	for i, s := range scripts {
		shares[i] = rate * uint64(outputLen(s))
		own += shares[i]
	}
	rest := total - own
	n := uint64(len(scripts))
	each := (rest + n - 1) / n
	total = 0
	for i := range shares {
		shares[i] += each
		total += shares[i]
	}
	return shares, total
}

// applyFees sets b's output values, change and fee at rate; it fails when
// an output's share exceeds its MaxFeeSat or the inputs do not cover.
func applyFees(b *Batch, shape PayoutShape, rate uint64) error {
	scripts := make([][]byte, len(b.Outputs))
	var amounts uint64
	for i := range b.Outputs {
		scripts[i] = b.Outputs[i].Script
		amounts += b.Outputs[i].AmountSat
	}
	var in uint64
	for _, x := range b.Inputs {
		in += x.AmountSat
	}
	shares, total := FeeShares(shape, rate, len(b.Inputs), scripts)
	if in < amounts || (len(b.Outputs) == 0 && in < total) {
		return fmt.Errorf("%w: inputs %d sat do not cover %d sat", ErrBatch, in, max(amounts, total))
	}
	change := in - amounts
	if len(b.Outputs) == 0 {
		change = in - total
	}
	if change < VaultDustSat {
		return fmt.Errorf("%w: change %d sat under the vault's dust %d", ErrBatch, change, VaultDustSat)
	}
	for i := range b.Outputs {
		o := &b.Outputs[i]
		if shares[i] > o.MaxFeeSat || shares[i] >= o.AmountSat {
			return fmt.Errorf("%w: item %d's fee share %d sat exceeds its max fee %d", ErrBatch, o.ID, shares[i], o.MaxFeeSat)
		}
		o.ValueSat = o.AmountSat - shares[i]
	}
	b.FeeRate, b.ChangeSat, b.FeeSat = rate, change, total
	return nil
}

// Selection is what SelectBatch chooses from.
type Selection struct {
	Shape PayoutShape
	// Number is the batch's number (the last one's + 1).
	Number uint64
	// FeeRate is the consensus fee rate recorded for the view (sat/vB, at
	// least 1).
	FeeRate uint64
	// ViewHeight is the Bitcoin view's height.
	ViewHeight int32
	// RefreshAge: a vault output with at least this many confirmations
	// (half the recovery delay) must be re-spent to the vault. 0: never.
	RefreshAge int32
	// Eligible are the payable queue items in id order: queued refunds,
	// and queued withdrawals whose L2 block is superfinal as of the view.
	Eligible []QueueItem
	// Vault are the spendable vault outputs, oldest first (Bitcoin
	// order).
	Vault []BatchInput
}

// age is an output's confirmations as of the view.
func (s *Selection) age(in *BatchInput) int32 { return s.ViewHeight - in.Height + 1 }

// SelectBatch derives the batch to open, if any (DESIGN 6):
//
//  1. Items are taken greedily in id order: an item joins when, with
//     it, every output's fee share at FeeRate stays within its maxFee and
//     the vault outputs cover the amounts plus a change at the vault's
//     dust; otherwise it waits (a later, cheaper item may still join).
//     At most MaxBatchOutputs join.
//  2. Inputs are the vault outputs oldest first until covered, and every
//     output past RefreshAge besides (the payout refreshes them, its
//     outputs share their cost), at most MaxBatchInputs.
//  3. With no item payable, a refresh batch re-spends the outputs past
//     RefreshAge alone, the fee taken from the change; none when they
//     cannot pay it.
//
// It returns nil when there is nothing to open.
func SelectBatch(s *Selection) *Batch {
	var chosen []BatchOutput
	var best *Batch
	for i := range s.Eligible {
		if len(chosen) == MaxBatchOutputs {
			break
		}
		it := &s.Eligible[i]
		try := append(slices.Clone(chosen), BatchOutput{ID: it.ID, Kind: it.Kind, Script: slices.Clone(it.Script),
			AmountSat: it.AmountSat, MaxFeeSat: it.MaxFeeSat})
		if b := s.build(try); b != nil {
			chosen, best = try, b
		}
	}
	if best != nil {
		return best
	}
	return s.refresh()
}

// build makes the batch paying outs, or nil when it cannot be paid.
func (s *Selection) build(outs []BatchOutput) *Batch {
	var need uint64 = VaultDustSat
	for i := range outs {
		need += outs[i].AmountSat
	}
	var ins []BatchInput
	var have uint64
	for i := range s.Vault {
		in := &s.Vault[i]
		old := s.RefreshAge > 0 && s.age(in) >= s.RefreshAge
		if have >= need && !old {
			continue
		}
		if len(ins) == MaxBatchInputs {
			break
		}
		ins = append(ins, *in)
		have += in.AmountSat
	}
	if have < need {
		return nil
	}
	b := &Batch{Number: s.Number, BtcHeight: s.ViewHeight, Open: true, Inputs: ins, Outputs: outs}
	if err := applyFees(b, s.Shape, s.FeeRate); err != nil {
		return nil
	}
	b.AttemptRates = []uint64{s.FeeRate}
	return b
}

// refresh is the refresh-only batch, or nil.
func (s *Selection) refresh() *Batch {
	if s.RefreshAge <= 0 {
		return nil
	}
	var ins []BatchInput
	for i := range s.Vault {
		if s.age(&s.Vault[i]) >= s.RefreshAge && len(ins) < MaxBatchInputs {
			ins = append(ins, s.Vault[i])
		}
	}
	if len(ins) == 0 {
		return nil
	}
	b := &Batch{Number: s.Number, BtcHeight: s.ViewHeight, Open: true, Refresh: true, Inputs: ins}
	if err := applyFees(b, s.Shape, s.FeeRate); err != nil {
		return nil
	}
	b.AttemptRates = []uint64{s.FeeRate}
	return b
}

// Rederive returns the next attempt of open batch b, unconfirmed at
// viewHeight, or nil when it is not due or cannot be bumped (DESIGN 6):
// due rederiveBlocks Bitcoin blocks after the current attempt was
// derived; the new rate is the highest of the view's rate, the old rate
// plus 1 sat/vB (BIP-125 rule 4 at the default incremental relay fee:
// the same size, so +1 sat/vB pays for the replacement's own bytes) and
// the old rate plus a quarter. It must keep every output's share within
// its maxFee (so the payout never pays more than the sum of the maxFees)
// and a refresh's change at the vault's dust; when the target rate
// breaks that, the highest rate above the old one that does not is
// used, and none when even old+1 breaks it.
func Rederive(b *Batch, shape PayoutShape, viewRate uint64, viewHeight int32, rederiveBlocks uint32) *Batch {
	if !b.Open || rederiveBlocks == 0 || int64(viewHeight)-int64(b.BtcHeight) < int64(rederiveBlocks) {
		return nil
	}
	target := max(viewRate, b.FeeRate+1, b.FeeRate+b.FeeRate/4)
	try := func(rate uint64) *Batch {
		cp := *b
		cp.Inputs = slices.Clone(b.Inputs)
		cp.Outputs = slices.Clone(b.Outputs)
		if applyFees(&cp, shape, rate) != nil {
			return nil
		}
		cp.Attempt = b.Attempt + 1
		cp.BtcHeight = viewHeight
		cp.AttemptRates = append(slices.Clone(b.AttemptRates), rate)
		return &cp
	}
	if nb := try(target); nb != nil {
		return nb
	}
	// The fee shares grow with the rate: find the highest affordable rate
	// in (old, target) by bisection.
	lo, hi := b.FeeRate, target // lo affordable (current), hi not
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if try(mid) != nil {
			lo = mid
		} else {
			hi = mid
		}
	}
	if lo == b.FeeRate {
		return nil
	}
	return try(lo)
}
