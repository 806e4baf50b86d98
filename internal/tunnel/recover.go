package tunnel

// The recovery-leaf spend (DESIGN 6 "Vault", `hemi tunnel recover
// --psbt`): if the committee stops signing, the recovery set (m of its
// keys) sweeps vault outputs to a destination of its choice, but only N
// blocks after each output was created: every input carries nSequence = N
// (BIP-68, blocks), which the leaf's <N> OP_CHECKSEQUENCEVERIFY checks, so
// Bitcoin itself refuses the spend before that. Signing, verification and
// assembly are the committee's (sign.go) on the other leaf.

import (
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// RecoveryInput is one vault output the recovery set sweeps.
type RecoveryInput struct {
	OutPoint wire.OutPoint
	Amount   uint64 // satoshis
}

// BuildRecovery makes the unsigned recovery spend of ins (all vault
// outputs) to dest, paying rate sat/vB of the final signed size (m
// signatures), and returns it with its prevouts.
func BuildRecovery(ins []RecoveryInput, dest []byte, rate uint64, v VaultScripts) (*wire.MsgTx, []*wire.TxOut, error) {
	l, err := vaultLeaf(v, v.RecoveryScript())
	if err != nil {
		return nil, nil, err
	}
	if l.older <= 0 || l.older > 0xffff {
		return nil, nil, fmt.Errorf("%w: recovery leaf delay %d is not a block count", ErrVault, l.older)
	}
	switch {
	case len(ins) == 0:
		return nil, nil, fmt.Errorf("%w: nothing to recover", ErrBatch)
	case len(ins) > MaxPayoutInputs:
		return nil, nil, fmt.Errorf("%w: %d inputs, at most %d per recovery transaction", ErrBatch, len(ins), MaxPayoutInputs)
	case rate < 1 || rate > MaxFeeRate:
		return nil, nil, fmt.Errorf("%w: fee rate %d sat/vB outside 1..%d", ErrBatch, rate, MaxFeeRate)
	case len(dest) == 0 || len(dest) > 10_000:
		return nil, nil, fmt.Errorf("%w: destination script of %d bytes", ErrBatch, len(dest))
	}
	tx := wire.NewMsgTx(PayoutVersion)
	prevouts := make([]*wire.TxOut, len(ins))
	var total uint64
	for i, in := range ins {
		if in.Amount == 0 || in.Amount > maxMoney {
			return nil, nil, fmt.Errorf("%w: input %d amount %d", ErrBatch, i, in.Amount)
		}
		total += in.Amount
		// Relative lock in blocks: type flag (bit 22) clear, disable
		// flag (bit 31) clear, value N.
		tx.AddTxIn(&wire.TxIn{PreviousOutPoint: in.OutPoint, Sequence: uint32(l.older)})
		prevouts[i] = wire.NewTxOut(int64(in.Amount), v.PkScript())
	}
	if total > maxMoney {
		return nil, nil, fmt.Errorf("%w: amounts above 21M BTC", ErrBatch)
	}
	w := payoutWeight(len(ins), l.witnessSize(), [][]byte{dest})
	fee := uint64((w+3)/4) * rate
	if total < fee || total-fee < DustLimit(dest) {
		return nil, nil, fmt.Errorf("%w: %d sat cannot pay the %d sat fee and stay above dust", ErrDust, total, fee)
	}
	tx.AddTxOut(wire.NewTxOut(int64(total-fee), dest))
	return tx, prevouts, nil
}

// RecoveryPSBT is the unsigned recovery spend as a PSBT for the recovery
// leaf, for the recovery set's own (hardware) signers.
func RecoveryPSBT(ins []RecoveryInput, dest []byte, rate uint64, v VaultScripts) (*PSBT, error) {
	tx, prev, err := BuildRecovery(ins, dest, rate, v)
	if err != nil {
		return nil, err
	}
	return NewVaultPSBT(tx, prev, v, v.RecoveryScript())
}

// SignRecovery signs every input of a recovery spend on the recovery leaf.
func SignRecovery(tx *wire.MsgTx, prevouts []*wire.TxOut, v VaultScripts, priv *btcec.PrivateKey) ([][]byte, error) {
	l, err := vaultLeaf(v, v.RecoveryScript())
	if err != nil {
		return nil, err
	}
	return signLeaf(tx, prevouts, l, priv)
}

// AssembleRecovery verifies the recovery keys' signatures and builds the
// witnesses (m signatures, empty items for the other recovery keys, in
// the leaf's key order), checked with btcd's script engine. Bitcoin
// accepts the result only once every input is N blocks deep.
func AssembleRecovery(tx *wire.MsgTx, prevouts []*wire.TxOut, v VaultScripts, sigsByKey map[[32]byte][][]byte) (*wire.MsgTx, []Dropped, error) {
	l, err := vaultLeaf(v, v.RecoveryScript())
	if err != nil {
		return nil, nil, err
	}
	out, dropped, err := assembleLeaf(tx, prevouts, l, sigsByKey)
	if err != nil {
		return nil, dropped, err
	}
	if err := CheckSpend(out, prevouts); err != nil {
		return nil, dropped, err
	}
	return out, dropped, nil
}
