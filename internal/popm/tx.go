package popm

import (
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/pop"
)

// ErrFunds: the chosen coin cannot pay the outputs, the fee and a change
// output above dust.
var ErrFunds = errors.New("popm: coin too small")

// RBFSequence is the input sequence of every PoP transaction: below
// 0xfffffffe, so it signals BIP-125 replaceability; its bit 31 is set,
// which turns BIP-68 relative locks off.
const RBFSequence = wire.MaxTxInSequenceNum - 2

// Coin is an output the wallet can spend.
type Coin struct {
	OutPoint wire.OutPoint `json:"outpoint"`
	Value    int64         `json:"value"`
}

// Transaction sizes in weight units. A PoP transaction is version, input
// and output counts, locktime (10 bytes), one input (outpoint 36, empty
// scriptSig 1, sequence 4), the 83-byte OP_RETURN output (8 + 1 + 83) and
// the change output; plus the segwit marker and flag (2 WU) and the
// witness: P2WPKH 1 + (1 + 72) + (1 + 33) = 108 WU at most (a DER
// signature is 71 or 72 bytes with its sighash byte), P2TR 1 + 1 + 64 =
// 66 WU (SIGHASH_DEFAULT).
const (
	baseFixed      = 10 + 41 + 8 + 1 + pop.ScriptSize
	p2wpkhOut      = 8 + 1 + 22
	p2trOut        = 8 + 1 + 34
	p2wpkhWitness  = 108
	p2trWitness    = 66
	segwitOverhead = 2
)

// PoPVSize is the virtual size fees are paid for: an upper bound of the
// signed transaction's vsize (P2WPKH 202 vB, P2TR 203 vB).
func PoPVSize(kind Kind) int64 {
	var w int64
	switch kind {
	case P2TR:
		w = int64((baseFixed+p2trOut)*4 + segwitOverhead + p2trWitness)
	default:
		w = int64((baseFixed+p2wpkhOut)*4 + segwitOverhead + p2wpkhWitness)
	}
	return (w + 3) / 4
}

// MinCoin is the smallest coin that can pay a PoP transaction at feeRate
// (sat/vB) and keep a change output above dust.
func (w *Wallet) MinCoin(feeRate int64) int64 {
	return feeRate*PoPVSize(w.kind) + txgen.DustLimit(w.script)
}

// BuildPoP returns the signed PoP transaction spending coin, publishing
// the keystone whose output script is ksScript and paying the rest, less
// fee, back to the wallet. Output 0 is the OP_RETURN, output 1 the change.
// It is deterministic (RFC 6979 / BIP-340 nonces from the key and
// message), so it has no I/O and can run inside the state machine.
func (w *Wallet) BuildPoP(coin Coin, ksScript []byte, fee int64) (*wire.MsgTx, error) {
	if _, err := pop.ParseScript(ksScript); err != nil {
		return nil, fmt.Errorf("popm: keystone script: %w", err)
	}
	change := coin.Value - fee
	if fee < 0 || change < txgen.DustLimit(w.script) {
		return nil, fmt.Errorf("%w: coin %s of %d sat cannot pay fee %d and change above dust", ErrFunds, coin.OutPoint, coin.Value, fee)
	}
	tx := wire.NewMsgTx(2)
	op := coin.OutPoint
	in := wire.NewTxIn(&op, nil, nil)
	in.Sequence = RBFSequence
	tx.AddTxIn(in)
	tx.AddTxOut(wire.NewTxOut(0, ksScript))
	tx.AddTxOut(wire.NewTxOut(change, w.script))
	if err := w.sign(tx, coin.Value); err != nil {
		return nil, err
	}
	return tx, nil
}

// sign fills the witness of input 0, which spends value sat from the
// wallet's script.
func (w *Wallet) sign(tx *wire.MsgTx, value int64) error {
	prev := wire.NewTxOut(value, w.script)
	fetcher := txscript.NewCannedPrevOutputFetcher(w.script, value)
	hashes := txscript.NewTxSigHashes(tx, fetcher)
	switch w.kind {
	case P2WPKH:
		h, err := txscript.CalcWitnessSigHash(prev.PkScript, hashes, txscript.SigHashAll, tx, 0, value)
		if err != nil {
			return fmt.Errorf("popm: sighash: %w", err)
		}
		sig := append(ecdsa.Sign(w.priv, h).Serialize(), byte(txscript.SigHashAll))
		tx.TxIn[0].Witness = wire.TxWitness{sig, w.pub.SerializeCompressed()}
	case P2TR:
		h, err := txscript.CalcTaprootSignatureHash(hashes, txscript.SigHashDefault, tx, 0, fetcher)
		if err != nil {
			return fmt.Errorf("popm: taproot sighash: %w", err)
		}
		sig, err := schnorr.Sign(w.tapPriv, h)
		if err != nil {
			return fmt.Errorf("popm: schnorr sign: %w", err)
		}
		tx.TxIn[0].Witness = wire.TxWitness{sig.Serialize()}
	default:
		return fmt.Errorf("popm: unknown wallet kind %d", w.kind)
	}
	return nil
}

// VerifyPoP runs the script engine over tx's input spending value sat from
// the wallet's script, under the standard verification flags.
func (w *Wallet) VerifyPoP(tx *wire.MsgTx, value int64) error {
	fetcher := txscript.NewCannedPrevOutputFetcher(w.script, value)
	vm, err := txscript.NewEngine(w.script, tx, 0, txscript.StandardVerifyFlags, nil,
		txscript.NewTxSigHashes(tx, fetcher), value, fetcher)
	if err != nil {
		return fmt.Errorf("popm: script engine: %w", err)
	}
	if err := vm.Execute(); err != nil {
		return fmt.Errorf("popm: input does not verify: %w", err)
	}
	return nil
}
