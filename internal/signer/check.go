package signer

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/tunnel"
)

// ErrRefused matches every RefusalError.
var ErrRefused = errors.New("signer: payout refused")

// Kind names why a signer refuses a payout (the log's and metric's reason).
type Kind string

// Refusal reasons (issue 11 "Signers verify alone").
const (
	// RefuseUnknownOutput: an output pays an id nobody burned or queued a
	// refund for on this node, or pays another script than the burn named.
	RefuseUnknownOutput Kind = "unknown_output"
	// RefuseOverBurn: an output pays more than was burned or deposited.
	RefuseOverBurn Kind = "more_than_burned"
	// RefuseNotSuperfinal: a withdrawal's burn is in an L2 block that is
	// not superfinal on this node.
	RefuseNotSuperfinal Kind = "not_superfinal"
	// RefuseAlreadyPaid: an id was paid (or is in another batch), or
	// appears twice.
	RefuseAlreadyPaid Kind = "already_paid"
	// RefuseFeeAboveMax: an output's fee exceeds the maxFee its owner set.
	RefuseFeeAboveMax Kind = "fee_above_max"
	// RefuseDerivation: the payout cannot be derived from the batch, or
	// differs from what this signer signed before for the same attempt.
	RefuseDerivation Kind = "derivation"
)

// RefusalError is a refused payout: the reason, and the output at fault
// (-1 when the whole payout is).
type RefusalError struct {
	Kind   Kind
	Output int
	ID     uint64
	Detail string
}

func (e *RefusalError) Error() string {
	if e.Output < 0 {
		return fmt.Sprintf("signer: refused (%s): %s", e.Kind, e.Detail)
	}
	return fmt.Sprintf("signer: refused (%s): output %d (id %d): %s", e.Kind, e.Output, e.ID, e.Detail)
}

// Is makes every refusal match ErrRefused.
func (e *RefusalError) Is(target error) bool { return target == ErrRefused }

// Claim is what the signer's own node records for one withdrawal or
// refund id: the burn (WithdrawalQueued) or the refund (RefundQueued) as
// its L2 log has it, and the item's status in its state.
type Claim struct {
	ID      uint64
	Refund  bool
	Script  []byte
	Amount  uint64 // burned (or refunded) satoshis
	MaxFee  uint64 // the most fee the owner accepts
	L2Block uint64 // the L2 block that queued it
	Paid    bool   // the node's state marks it paid
	Batch   uint64 // the batch the node's state puts it in (0: none)
}

// CheckPayout decides whether a signer may sign payout tx, which it
// derived itself from batch b (tunnel.BuildPayout), given the claims its
// own node holds for the batch's ids and its newest superfinal L2 block.
// It returns nil or a *RefusalError; it is pure.
func CheckPayout(b *tunnel.Batch, tx *wire.MsgTx, claims map[uint64]Claim, finalized uint64) error {
	refuse := func(k Kind, i int, id uint64, format string, args ...any) error {
		return &RefusalError{Kind: k, Output: i, ID: id, Detail: fmt.Sprintf(format, args...)}
	}
	if len(tx.TxOut) < len(b.Outputs) {
		return refuse(RefuseDerivation, -1, 0, "payout has %d outputs for %d withdrawals and refunds", len(tx.TxOut), len(b.Outputs))
	}
	seen := make(map[uint64]bool, len(b.Outputs))
	for i, o := range b.Outputs {
		out := tx.TxOut[i]
		if seen[o.ID] {
			return refuse(RefuseAlreadyPaid, i, o.ID, "id paid twice in one payout")
		}
		seen[o.ID] = true
		c, ok := claims[o.ID]
		what := "burn"
		if o.Refund {
			what = "refund"
		}
		if !ok || c.Refund != o.Refund {
			return refuse(RefuseUnknownOutput, i, o.ID, "no %s with this id on this node", what)
		}
		if !bytes.Equal(c.Script, out.PkScript) {
			return refuse(RefuseUnknownOutput, i, o.ID, "pays script %x, the %s names %x", out.PkScript, what, c.Script)
		}
		if out.Value < 0 || uint64(out.Value) > c.Amount || o.Amount > c.Amount {
			return refuse(RefuseOverBurn, i, o.ID, "pays %d sat (amount %d) of a %s of %d sat", out.Value, o.Amount, what, c.Amount)
		}
		if !c.Refund && c.L2Block > finalized {
			return refuse(RefuseNotSuperfinal, i, o.ID, "burn in L2 block %d, superfinal only through %d", c.L2Block, finalized)
		}
		if c.Paid {
			return refuse(RefuseAlreadyPaid, i, o.ID, "already paid")
		}
		if c.Batch != 0 && c.Batch != b.Number {
			return refuse(RefuseAlreadyPaid, i, o.ID, "belongs to batch %d, not %d", c.Batch, b.Number)
		}
		if fee := c.Amount - uint64(out.Value); fee > c.MaxFee {
			return refuse(RefuseFeeAboveMax, i, o.ID, "fee %d sat above maxFee %d sat", fee, c.MaxFee)
		}
	}
	return nil
}
