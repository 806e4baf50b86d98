package hvm

import (
	"encoding/binary"
	"errors"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// Input sizes of 0x47-0x49, fixed as Hemi's current network takes them: a
// txid in display order followed by big-endian u16 fields.
const (
	inputQueryLen   = 32 + 2 + 2     // 0x47: txid, input index, max scriptSig size
	outputQueryLen  = 32 + 2 + 2     // 0x48: txid, output index, max script size
	witnessQueryLen = 32 + 2 + 2 + 2 // 0x49: txid, input index, element index, max length
)

// Largest answers of 0x47-0x49: every variable part is cut at a u16 max.
const (
	maxInputAnswer   = 2 + 8 + 32 + 2 + 2 + 0xffff + 4 // 65,585
	maxOutputAnswer  = 8 + 2 + 0xffff + 1              // 65,546
	maxWitnessAnswer = 2 + 0xffff                      // 65,537
)

// partQuery is a decoded 0x47, 0x48 or 0x49 input: one part of a
// transaction, selected by index (and, for 0x49, element), and the most
// bytes of its variable field the caller wants back.
type partQuery struct {
	txid    chainhash.Hash
	index   int // input (0x47, 0x49) or output (0x48) index
	element int // 0x49: witness element index
	max     int // 0 .. 65,535 bytes of the variable field
}

// parsePartQuery splits a 0x47 or 0x48 input: txid (display order), index
// (u16), max size (u16); exactly 36 bytes.
func parsePartQuery(input []byte) (partQuery, bool) {
	if len(input) != inputQueryLen {
		return partQuery{}, false
	}
	return partQuery{
		txid:  hashFromDisplay(input[:32]),
		index: int(binary.BigEndian.Uint16(input[32:])),
		max:   int(binary.BigEndian.Uint16(input[34:])),
	}, true
}

// parseWitnessQuery splits a 0x49 input: txid (display order), input
// index (u16), element index (u16), max length (u16); exactly 38 bytes.
func parseWitnessQuery(input []byte) (partQuery, bool) {
	if len(input) != witnessQueryLen {
		return partQuery{}, false
	}
	return partQuery{
		txid:    hashFromDisplay(input[:32]),
		index:   int(binary.BigEndian.Uint16(input[32:])),
		element: int(binary.BigEndian.Uint16(input[34:])),
		max:     int(binary.BigEndian.Uint16(input[36:])),
	}, true
}

// lookupTx returns transaction txid as of view; ok is false for a
// nil view, an unknown transaction or a failure of the view (which the
// view records, invariant 3).
func lookupTx(view BitcoinView, txid chainhash.Hash) (Tx, bool) {
	if view == nil {
		return Tx{}, false
	}
	t, err := view.Tx(txid)
	if err != nil || t.Tx == nil {
		return Tx{}, false
	}
	return t, true
}

// inputByTxid is 0x47: one input of a transaction, with the value of the
// output it spends.
type inputByTxid struct{ view BitcoinView }

func (c *inputByTxid) Name() string                    { return "BTC_INPUT_BY_TXID" }
func (c *inputByTxid) RequiredGas(input []byte) uint64 { return gasInput(input) }

func (c *inputByTxid) Run(input []byte) ([]byte, error) {
	q, ok := parsePartQuery(input)
	if !ok {
		return nil, nil
	}
	t, ok := lookupTx(c.view, q.txid)
	if !ok || q.index >= len(t.Tx.TxIn) {
		return nil, nil
	}
	in := t.Tx.TxIn[q.index]
	value, err := prevValue(c.view, map[chainhash.Hash]*wire.MsgTx{}, in.PreviousOutPoint)
	if err != nil {
		return nil, nil
	}
	out := make([]byte, 0, 2+8+32+2+2+min(len(in.SignatureScript), q.max)+4)
	out = binary.BigEndian.AppendUint16(out, sat16(uint64(len(in.Witness))))
	out = binary.BigEndian.AppendUint64(out, uint64(value))
	prev := hashDisplay(in.PreviousOutPoint.Hash)
	out = append(out, prev[:]...)
	out = binary.BigEndian.AppendUint16(out, sat16(uint64(in.PreviousOutPoint.Index)))
	out = appendCut(out, in.SignatureScript, q.max)
	return binary.BigEndian.AppendUint32(out, in.Sequence), nil
}

// outputByTxid is 0x48: one output of a transaction and whether it is
// spent as of the view.
type outputByTxid struct{ view BitcoinView }

func (c *outputByTxid) Name() string                    { return "BTC_OUTPUT_BY_TXID" }
func (c *outputByTxid) RequiredGas(input []byte) uint64 { return gasOutput(input) }

func (c *outputByTxid) Run(input []byte) ([]byte, error) {
	q, ok := parsePartQuery(input)
	if !ok {
		return nil, nil
	}
	t, ok := lookupTx(c.view, q.txid)
	if !ok || q.index >= len(t.Tx.TxOut) {
		return nil, nil
	}
	o := t.Tx.TxOut[q.index]
	spent, err := c.view.Spent(wire.OutPoint{Hash: q.txid, Index: uint32(q.index)})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	out := make([]byte, 0, 8+2+min(len(o.PkScript), q.max)+1)
	out = binary.BigEndian.AppendUint64(out, uint64(o.Value))
	out = appendCut(out, o.PkScript, q.max)
	b := byte(0)
	if spent {
		b = 1
	}
	return append(out, b), nil
}

// inputWitness is 0x49: one element of one input's witness.
type inputWitness struct{ view BitcoinView }

func (c *inputWitness) Name() string                    { return "BTC_INPUT_WITNESS" }
func (c *inputWitness) RequiredGas(input []byte) uint64 { return gasWitness(input) }

func (c *inputWitness) Run(input []byte) ([]byte, error) {
	q, ok := parseWitnessQuery(input)
	if !ok {
		return nil, nil
	}
	t, ok := lookupTx(c.view, q.txid)
	if !ok || q.index >= len(t.Tx.TxIn) || q.element >= len(t.Tx.TxIn[q.index].Witness) {
		return nil, nil
	}
	e := t.Tx.TxIn[q.index].Witness[q.element]
	return appendCut(make([]byte, 0, 2+min(len(e), q.max)), e, q.max), nil
}
