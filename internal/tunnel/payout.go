package tunnel

// Payouts (DESIGN 6 "Withdrawal"): the one Bitcoin transaction that pays a
// batch of withdrawals and refunds out of the vault. The L2 state holds the
// open batch (twd's deriver chooses it by consensus); BuildPayout turns it
// into a transaction deterministically, so every node and every signer
// derives the same txid without talking to anyone, and the paid-marker
// deriver finds it in the Bitcoin index by that txid.
//
// Shape of a payout, fixed so the txid is a function of the batch alone:
//   - version 2, locktime 0;
//   - inputs: the batch's vault outputs in batch order, empty scriptSig,
//     nSequence 0xfffffffd (BIP-125 replaceable, no relative lock: the
//     committee leaf has no timelock);
//   - outputs: one per withdrawal or refund in batch order, each paying its
//     amount less its fee (payout_fee.go), then the change to the vault
//     (present when at least the vault script's dust limit), then
//     OP_RETURN "HMWD" || batch number (u64 big-endian);
//   - witness per input (script path of the committee leaf): one item per
//     committee key, the key's 64-byte BIP-340 signature (SIGHASH_DEFAULT)
//     for exactly k of them and an empty item for the rest, then the leaf
//     script, then the control block (sign.go).
//
// The Batch, its inputs and outputs are twd's batch.go.

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// Errors of payout building, signing and assembly; callers use errors.Is.
var (
	// ErrBatch is a batch that cannot become a valid payout (no inputs,
	// too many outputs, inputs that do not cover the outputs, a change
	// that disagrees with the fee rule).
	ErrBatch = errors.New("tunnel: invalid batch")
	// ErrFeeAboveMax is an output whose fee share exceeds its maxFee.
	ErrFeeAboveMax = errors.New("tunnel: fee above the output's maxFee")
	// ErrDust is an output that would pay less than its script's dust limit.
	ErrDust = errors.New("tunnel: output below dust")
)

const (
	// PayoutVersion is every payout's transaction version (2: BIP-68
	// relative locks are defined, as the recovery leaf needs).
	PayoutVersion = 2
	// PayoutSequence is every committee input's nSequence: below
	// 0xfffffffe, so the payout signals BIP-125 replaceability and can be
	// re-derived at a higher fee; bit 31 set (0xfffffffd has it), so no
	// BIP-68 relative lock applies.
	PayoutSequence = wire.MaxTxInSequenceNum - 2
	// MaxPayoutOutputs is the most withdrawals and refunds one payout pays.
	MaxPayoutOutputs = 25
	// MaxPayoutInputs bounds a batch's vault inputs so a payout stays far
	// under the standard weight limit (400,000 WU) even with a large
	// committee.
	MaxPayoutInputs = 100
)

// PayoutMagic starts the data of a payout's OP_RETURN; the batch number
// (u64 big-endian) follows.
var PayoutMagic = [4]byte{'H', 'M', 'W', 'D'}

// VaultScripts is what a payout and its signing need of the vault
// (*Vault implements it; tests also use a vault built by tunneltest). Only the scripts: the payout code
// reads the committee's keys and k out of the leaf script itself, so it
// spends exactly what the output commits to.
type VaultScripts interface {
	// PkScript is the vault's P2TR output script (inputs' prevouts, change).
	PkScript() []byte
	// CommitteeScript is the sortedmulti_a(k, signers) leaf.
	CommitteeScript() []byte
	// RecoveryScript is the and_v(v:older(N), multi_a(m, recovery)) leaf.
	RecoveryScript() []byte
	// ControlBlock is the BIP-341 control block proving leafScript.
	ControlBlock(leafScript []byte) ([]byte, error)
	// InternalKey is the NUMS internal key (PSBT tap_internal_key).
	InternalKey() *btcec.PublicKey
	// MerkleRoot is the script tree's root (PSBT tap_merkle_root).
	MerkleRoot() []byte
}

// PayoutData is the OP_RETURN data of batch number's payout.
func PayoutData(number uint64) []byte {
	d := make([]byte, 12)
	copy(d, PayoutMagic[:])
	binary.BigEndian.PutUint64(d[4:], number)
	return d
}

// PayoutScript is the OP_RETURN output script of batch number's payout.
func PayoutScript(number uint64) []byte {
	s, err := txscript.NullDataScript(PayoutData(number))
	if err != nil { // 12 bytes are always within the limit
		panic(fmt.Sprintf("tunnel: payout OP_RETURN: %v", err))
	}
	return s
}

// ParsePayoutScript returns the batch number of a payout OP_RETURN script,
// false for any other script.
func ParsePayoutScript(script []byte) (uint64, bool) {
	if len(script) != 14 || script[0] != txscript.OP_RETURN || script[1] != 12 {
		return 0, false
	}
	if [4]byte(script[2:6]) != PayoutMagic {
		return 0, false
	}
	return binary.BigEndian.Uint64(script[6:]), true
}

// BuildPayout makes batch b's payout transaction (unsigned: empty
// witnesses) for vault v. It refuses a batch the fee rule does not accept
// (ErrBatch, ErrFeeAboveMax, ErrDust): a signer that re-derives a payout
// from its own node's state gets the same transaction or an error, never
// a different transaction.
func BuildPayout(b *Batch, v VaultScripts) (*wire.MsgTx, error) {
	if b == nil || v == nil {
		return nil, fmt.Errorf("%w: nil batch or vault", ErrBatch)
	}
	wit, err := CommitteeWitnessSize(v)
	if err != nil {
		return nil, err
	}
	plan, err := PlanPayout(b.FeeRate, b.Inputs, b.Outputs, v.PkScript(), wit)
	if err != nil {
		return nil, fmt.Errorf("batch %d attempt %d: %w", b.Number, b.Attempt, err)
	}
	if plan.Change != b.Change {
		return nil, fmt.Errorf("%w: batch %d attempt %d: change %d, the fee rule gives %d", ErrBatch, b.Number, b.Attempt, b.Change, plan.Change)
	}
	tx := wire.NewMsgTx(PayoutVersion)
	for _, in := range b.Inputs {
		op := in.OutPoint
		tx.AddTxIn(&wire.TxIn{PreviousOutPoint: op, Sequence: PayoutSequence})
	}
	for i, o := range b.Outputs {
		tx.AddTxOut(wire.NewTxOut(int64(o.Amount-plan.Fees[i]), o.Script))
	}
	if plan.Change > 0 {
		tx.AddTxOut(wire.NewTxOut(int64(plan.Change), v.PkScript()))
	}
	tx.AddTxOut(wire.NewTxOut(0, PayoutScript(b.Number)))
	return tx, nil
}

// PayoutPrevouts are the outputs a batch's payout spends, in input order
// (every one pays the vault script), for sighashes and PSBT witness UTXOs.
func PayoutPrevouts(b *Batch, v VaultScripts) []*wire.TxOut {
	outs := make([]*wire.TxOut, len(b.Inputs))
	for i, in := range b.Inputs {
		outs[i] = wire.NewTxOut(int64(in.Amount), v.PkScript())
	}
	return outs
}
