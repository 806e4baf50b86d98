package hvm

import (
	"encoding/binary"
	"errors"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// maxTxAnswer bounds a 0x42 answer: every field with 128 inputs of a
// 128-byte scriptSig and 128 outputs of a 128-byte script.
const maxTxAnswer = 32 + 4 + 4 + 4 + 4 +
	2 + 128*(8+32+2+2+128+4) +
	2 + 128*(8+2+128+1)

// encodeTx returns the 0x42 answer for tx under flags, asking view for
// input values and spent flags. Fields come in the ABI order: block hash,
// version, size and vsize, locktime, inputs, outputs. A non-nil error is a
// failure of the view (never a miss: a missing previous output has value
// 0).
func encodeTx(view BitcoinView, t Tx, f txFlags) ([]byte, error) {
	tx := t.Tx
	out := make([]byte, 0, 256)
	if f.blockHash {
		h := hashDisplay(t.BlockHash)
		out = append(out, h[:]...)
	}
	if f.version {
		out = binary.BigEndian.AppendUint32(out, uint32(tx.Version))
	}
	if f.sizes {
		out = binary.BigEndian.AppendUint32(out, uint32(tx.SerializeSize()))
		out = binary.BigEndian.AppendUint32(out, uint32(vsize(tx)))
	}
	if f.lockTime {
		out = binary.BigEndian.AppendUint32(out, tx.LockTime)
	}
	if f.inputs {
		out = binary.BigEndian.AppendUint16(out, sat16(uint64(len(tx.TxIn))))
		prevs := make(map[chainhash.Hash]*wire.MsgTx)
		for i, in := range tx.TxIn {
			if i >= f.maxInputs {
				break
			}
			v, err := prevValue(view, prevs, in.PreviousOutPoint)
			if err != nil {
				return nil, err
			}
			out = binary.BigEndian.AppendUint64(out, uint64(v))
			if f.inputSource {
				h := hashDisplay(in.PreviousOutPoint.Hash)
				out = append(out, h[:]...)
				out = binary.BigEndian.AppendUint16(out, sat16(uint64(in.PreviousOutPoint.Index)))
			}
			if f.scriptSig {
				out = appendCut(out, in.SignatureScript, f.maxScriptSig)
			}
			if f.sequence {
				out = binary.BigEndian.AppendUint32(out, in.Sequence)
			}
		}
	}
	if f.outputs {
		count := 0
		for _, o := range tx.TxOut {
			if f.unspendable || !unspendable(o.PkScript) {
				count++
			}
		}
		out = binary.BigEndian.AppendUint16(out, sat16(uint64(count)))
		txid := tx.TxHash()
		emitted := 0
		for vout, o := range tx.TxOut {
			if emitted >= f.maxOutputs {
				break
			}
			if !f.unspendable && unspendable(o.PkScript) {
				continue
			}
			emitted++
			out = binary.BigEndian.AppendUint64(out, uint64(o.Value))
			if f.outputScript {
				out = appendCut(out, o.PkScript, f.maxScript)
			}
			if f.spent {
				spent, err := view.Spent(wire.OutPoint{Hash: txid, Index: uint32(vout)})
				if err != nil && !errors.Is(err, ErrNotFound) {
					return nil, err
				}
				b := byte(0)
				if spent {
					b = 1
				}
				out = append(out, b)
			}
		}
	}
	return out, nil
}

// prevValue returns the value of the output op spends, as of the view: 0
// for a coinbase input, and 0 when the view does not hold the output (only
// possible on a chain whose transactions nobody validated, e.g. a
// hand-made regtest chain; the index trusts the most-work chain). prevs
// caches the previous transactions of one call.
func prevValue(view BitcoinView, prevs map[chainhash.Hash]*wire.MsgTx, op wire.OutPoint) (int64, error) {
	if isNullOutpoint(op) {
		return 0, nil
	}
	ptx, ok := prevs[op.Hash]
	if !ok {
		t, err := view.Tx(op.Hash)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return 0, err
		default:
			ptx = t.Tx
		}
		prevs[op.Hash] = ptx
	}
	if ptx == nil || op.Index >= uint32(len(ptx.TxOut)) {
		return 0, nil
	}
	return ptx.TxOut[op.Index].Value, nil
}
