package block

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
)

// ErrReceiptEncoding: a receipt's encoding is malformed.
var ErrReceiptEncoding = errors.New("block: malformed receipt")

// ReceiptList is a block's receipts in block order as a
// types.DerivableList. It exists because types.Receipts.EncodeIndex writes
// only the type byte for a type go-ethereum does not know: a system
// transaction's receipt (Type SystemTxType) is written here as 0x7E ||
// RLP([status, cumulativeGasUsed, bloom, logs]), the generic typed form
// types.Receipt.MarshalBinary produces; every other receipt exactly as
// types.Receipts writes it.
type ReceiptList types.Receipts

// Len implements types.DerivableList.
func (l ReceiptList) Len() int { return len(l) }

// EncodeIndex implements types.DerivableList.
func (l ReceiptList) EncodeIndex(i int, w *bytes.Buffer) {
	if l[i].Type == SystemTxType {
		bin, err := l[i].MarshalBinary()
		if err == nil {
			w.Write(bin)
		}
		return
	}
	types.Receipts(l).EncodeIndex(i, w)
}

// ReceiptRoot is the header ReceiptHash over receipts in block order
// (system transactions' receipts first), types.EmptyReceiptsHash for none.
func ReceiptRoot(receipts types.Receipts) common.Hash {
	return types.DeriveSha(ReceiptList(receipts), trie.NewStackTrie(nil))
}

type receiptRLP struct {
	PostStateOrStatus []byte
	CumulativeGasUsed uint64
	Bloom             types.Bloom
	Logs              []*types.Log
}

// UnmarshalReceipt decodes the consensus encoding of a receipt (what
// types.Receipt.MarshalBinary writes), including type 0x7E, which
// go-ethereum's UnmarshalBinary refuses. Only the consensus fields are set
// (Type, Status or PostState, CumulativeGasUsed, Bloom, Logs); the rest are
// derived from the block as go-ethereum's DeriveFields does.
func UnmarshalReceipt(b []byte) (*types.Receipt, error) {
	if len(b) == 0 || b[0] != SystemTxType {
		r := new(types.Receipt)
		if err := r.UnmarshalBinary(b); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrReceiptEncoding, err)
		}
		return r, nil
	}
	var dec receiptRLP
	if err := rlp.DecodeBytes(b[1:], &dec); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrReceiptEncoding, err)
	}
	r := &types.Receipt{Type: SystemTxType, CumulativeGasUsed: dec.CumulativeGasUsed, Bloom: dec.Bloom, Logs: dec.Logs}
	switch {
	case bytes.Equal(dec.PostStateOrStatus, []byte{0x01}):
		r.Status = types.ReceiptStatusSuccessful
	case len(dec.PostStateOrStatus) == 0:
		r.Status = types.ReceiptStatusFailed
	default:
		// A typed receipt always carries a status (EIP-658 predates
		// every typed transaction).
		return nil, fmt.Errorf("%w: status %x", ErrReceiptEncoding, dec.PostStateOrStatus)
	}
	return r, nil
}
