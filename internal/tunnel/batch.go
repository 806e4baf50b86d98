package tunnel

// Batches (DESIGN 6, the withdrawal side): the consensus choice of the one
// payout in flight. Every node derives the same Batch from L2 state and
// the block's Bitcoin view (SelectBatch, Rederive), writes it into the
// tunnel predeploy by a system transaction (l2wd.go) and reads it back
// (ReadBatch); BuildPayout (payout.go) turns it into the Bitcoin
// transaction, so every node knows each attempt's txid. The fee rule is
// PlanPayout's (payout_fee.go), the one BuildPayout checks, so the
// deriver and the payout always agree. Everything here is a pure
// function of its arguments.

import (
	"fmt"
	"slices"

	"github.com/btcsuite/btcd/wire/v2"
)

// MaxQueueScan bounds the queue items one selection looks at, so a queue
// of withdrawals waiting on their maxFee costs bounded work per block.
const MaxQueueScan = 500

// Queue item kinds and statuses, as TunnelWithdrawals.sol stores them.
const (
	KindWithdrawal uint8 = 1
	KindRefund     uint8 = 2

	StatusQueued  uint8 = 1
	StatusInBatch uint8 = 2
	StatusPaid    uint8 = 3
)

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

// output is the item as a payout output.
func (it *QueueItem) output() BatchOutput {
	return BatchOutput{ID: it.ID, Refund: it.Kind == KindRefund, Script: slices.Clone(it.Script), Amount: it.AmountSat, MaxFee: it.MaxFeeSat}
}

// BatchInput is one vault output a batch spends.
type BatchInput struct {
	OutPoint wire.OutPoint
	Amount   uint64 // satoshis
	Height   uint32 // Bitcoin height of the block that created it
}

// BatchOutput is one withdrawal or refund a batch pays.
type BatchOutput struct {
	ID     uint64 // withdrawal or refund id
	Refund bool   // a queued refund rather than a withdrawal
	Script []byte // the recipient's standard output script
	Amount uint64 // burned (or refunded) satoshis; the output pays Amount - fee
	MaxFee uint64 // the most fee this output accepts
	// Value is what the output pays at the batch's current attempt
	// (Amount less its fee share), as the predeploy records it.
	Value uint64
}

// Batch is the consensus payout batch held in L2 state: the one payout
// in flight (Open) or the last one.
type Batch struct {
	// Number is the batch number, committed in the payout's OP_RETURN
	// (from 1).
	Number uint64
	// Attempt counts re-derivations at a higher fee (0 first).
	Attempt uint32
	// FeeRate is this attempt's fee rate in sat/vB.
	FeeRate uint64
	// Inputs are the vault outputs spent, oldest first.
	Inputs []BatchInput
	// Outputs are the withdrawals and refunds paid, in id order.
	Outputs []BatchOutput
	// Change is what returns to the vault (0: no change output).
	Change uint64
	// Fee is the payout's fee at this attempt.
	Fee uint64
	// BtcHeight is the Bitcoin view height at which this attempt was
	// derived; RederiveBlocks after it an unconfirmed payout is
	// re-derived.
	BtcHeight uint32
	// Open: the payout is in flight (not yet marked paid or cancelled).
	Open bool
	// Refresh: no outputs; vault outputs past half the recovery delay
	// re-spent to the vault, the fee taken from the change.
	Refresh bool
	// AttemptRates are the fee rates of attempts 0..Attempt: any of them
	// may confirm, so the paid marker looks for each one's txid.
	AttemptRates []uint64
	// RefreshFees is the total the vault paid for refresh-only batches
	// (a running figure of the predeploy, read with the batch).
	RefreshFees uint64
}

// Fees describes where a vault's payouts are sized: its change script and
// one committee input's witness bytes (CommitteeWitnessSize).
type Fees struct {
	VaultScript []byte
	WitSize     int
}

// NewFees reads v's change script and input witness size.
func NewFees(v VaultScripts) (Fees, error) {
	w, err := CommitteeWitnessSize(v)
	if err != nil {
		return Fees{}, err
	}
	return Fees{VaultScript: v.PkScript(), WitSize: w}, nil
}

// plan applies the fee rule to b at rate and sets its values, change
// and fee (b's own rate, attempt and rates untouched).
func (f Fees) plan(b *Batch, rate uint64) error {
	p, err := PlanPayout(rate, b.Inputs, b.Outputs, f.VaultScript, f.WitSize)
	if err != nil {
		return err
	}
	for i := range b.Outputs {
		b.Outputs[i].Value = b.Outputs[i].Amount - p.Fees[i]
	}
	b.FeeRate, b.Change, b.Fee = rate, p.Change, p.Fee
	return nil
}

func (b *Batch) clone() *Batch {
	cp := *b
	cp.Inputs = slices.Clone(b.Inputs)
	cp.Outputs = slices.Clone(b.Outputs)
	cp.AttemptRates = slices.Clone(b.AttemptRates)
	return &cp
}

// AtAttempt returns b as attempt a (a <= b.Attempt): the same inputs and
// outputs with the values, change and fee of that attempt's rate, whose
// payout (BuildPayout) may be the one that confirms.
func (b *Batch) AtAttempt(a uint32, f Fees) (*Batch, error) {
	if int(a) >= len(b.AttemptRates) || a > b.Attempt {
		return nil, fmt.Errorf("%w: attempt %d of batch %d has no recorded rate", ErrBatch, a, b.Number)
	}
	cp := b.clone()
	cp.Attempt = a
	cp.AttemptRates = cp.AttemptRates[:a+1]
	if err := f.plan(cp, b.AttemptRates[a]); err != nil {
		return nil, err
	}
	return cp, nil
}

// Selection is what SelectBatch chooses from.
type Selection struct {
	Fees Fees
	// Number is the batch's number (the last one's + 1).
	Number uint64
	// FeeRate is the consensus fee rate recorded for the view (sat/vB, at
	// least 1).
	FeeRate uint64
	// ViewHeight is the Bitcoin view's height.
	ViewHeight uint32
	// RefreshAge: a vault output with at least this many confirmations
	// (half the recovery delay) must be re-spent to the vault. 0: never.
	RefreshAge uint32
	// Eligible are the payable queue items in id order: queued refunds,
	// and queued withdrawals whose L2 block is superfinal as of the view.
	Eligible []QueueItem
	// Vault are the spendable vault outputs, oldest first (Bitcoin
	// order).
	Vault []BatchInput
}

// old reports whether a vault output is due for refresh.
func (s *Selection) old(in *BatchInput) bool {
	return s.RefreshAge > 0 && in.Height <= s.ViewHeight && s.ViewHeight-in.Height+1 >= s.RefreshAge
}

// SelectBatch derives the batch to open, if any (DESIGN 6):
//
//  1. Items are taken greedily in id order: an item joins when, with
//     it, the fee rule (PlanPayout) accepts the batch at FeeRate (every
//     output's share within its maxFee, above its dust) and the vault
//     outputs cover the amounts; otherwise it waits (a later, cheaper
//     item may still join). At most MaxPayoutOutputs join.
//  2. Inputs are the vault outputs oldest first until covered, and every
//     output past RefreshAge besides (the payout refreshes them; its
//     outputs share their cost), at most MaxPayoutInputs.
//  3. With no item payable, a refresh batch re-spends the outputs past
//     RefreshAge alone, the fee taken from the change; none when they
//     cannot pay it.
//
// It returns nil when there is nothing to open.
func SelectBatch(s *Selection) *Batch {
	var chosen []BatchOutput
	var best *Batch
	for i := range s.Eligible {
		if len(chosen) == MaxPayoutOutputs {
			break
		}
		try := append(slices.Clone(chosen), s.Eligible[i].output())
		if b := s.build(try); b != nil {
			chosen, best = try, b
		}
	}
	if best != nil {
		return best
	}
	return s.refresh()
}

// build makes the batch paying outs, or nil when it cannot be paid. The
// inputs cover the amounts plus the vault's dust, so the change output is
// always there and the vault gives up exactly the amounts (the balance
// sheet of the shortfall flag stays exact to the satoshi).
func (s *Selection) build(outs []BatchOutput) *Batch {
	need := DustLimit(s.Fees.VaultScript)
	for i := range outs {
		need += outs[i].Amount
	}
	var ins []BatchInput
	var have uint64
	for i := range s.Vault {
		in := &s.Vault[i]
		if have >= need && !s.old(in) {
			continue
		}
		if len(ins) == MaxPayoutInputs {
			break
		}
		ins = append(ins, *in)
		have += in.Amount
	}
	if have < need {
		return nil
	}
	b := &Batch{Number: s.Number, BtcHeight: s.ViewHeight, Open: true, Inputs: ins, Outputs: outs}
	if s.Fees.plan(b, s.FeeRate) != nil {
		return nil
	}
	b.AttemptRates = []uint64{s.FeeRate}
	return b
}

// refresh is the refresh-only batch, or nil.
func (s *Selection) refresh() *Batch {
	var ins []BatchInput
	for i := range s.Vault {
		if s.old(&s.Vault[i]) && len(ins) < MaxPayoutInputs {
			ins = append(ins, s.Vault[i])
		}
	}
	if len(ins) == 0 {
		return nil
	}
	b := &Batch{Number: s.Number, BtcHeight: s.ViewHeight, Open: true, Refresh: true, Inputs: ins}
	if s.Fees.plan(b, s.FeeRate) != nil {
		return nil
	}
	b.AttemptRates = []uint64{s.FeeRate}
	return b
}

// Rederive returns the next attempt of open batch b, unconfirmed at
// viewHeight, or nil when it is not due or cannot be bumped (DESIGN 6):
// due rederiveBlocks Bitcoin blocks after the current attempt was
// derived, at BumpRate(b.FeeRate, viewRate) (BIP-125: at least +2 sat/vB
// or a quarter more), capped by MaxRate, the highest rate at which every
// output's fee still fits its maxFee (so never above the sum of the
// maxFees; a refresh's cap is its change). A cap not above the current
// rate means no re-derivation: the payout waits as it is.
func Rederive(b *Batch, f Fees, viewRate uint64, viewHeight uint32, rederiveBlocks uint32) *Batch {
	if !b.Open || rederiveBlocks == 0 || viewHeight < b.BtcHeight || viewHeight-b.BtcHeight < rederiveBlocks {
		return nil
	}
	rate := min(BumpRate(b.FeeRate, viewRate), MaxRate(b.Inputs, b.Outputs, f.VaultScript, f.WitSize))
	if rate <= b.FeeRate {
		return nil
	}
	nb := b.clone()
	if f.plan(nb, rate) != nil {
		return nil
	}
	nb.Attempt = b.Attempt + 1
	nb.BtcHeight = viewHeight
	nb.AttemptRates = append(nb.AttemptRates, rate)
	return nb
}
