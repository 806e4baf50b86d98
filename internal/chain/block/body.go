package block

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
)

// ErrBodyEncoding: a body's RLP is malformed.
var ErrBodyEncoding = errors.New("block: malformed body")

// Body is what a Hemi block carries besides its header: the system
// transactions (first, in Bitcoin order: the view update, tunnel deposits,
// PoP rewards) and then the user transactions. Block order is
// SystemTxs[0..] then Txs[0..]; transaction index i in receipts, logs and
// JSON-RPC counts in that order. A Hemi block has no uncles and no
// withdrawals.
//
// RLP: [[systx_0, ...], [tx_0, ...]] where each systx is a byte string
// holding its MarshalBinary and each user tx is encoded as in an Ethereum
// block body (legacy as a list, typed as a byte string).
type Body struct {
	SystemTxs []*SystemTx
	Txs       types.Transactions
}

type bodyRLP struct {
	SystemTxs [][]byte
	Txs       []*types.Transaction
}

// EncodeRLP implements rlp.Encoder.
func (b *Body) EncodeRLP(w io.Writer) error {
	enc := bodyRLP{SystemTxs: make([][]byte, len(b.SystemTxs)), Txs: b.Txs}
	if enc.Txs == nil {
		enc.Txs = []*types.Transaction{}
	}
	for i, tx := range b.SystemTxs {
		bin, err := tx.MarshalBinary()
		if err != nil {
			return fmt.Errorf("block: body system tx %d: %w", i, err)
		}
		enc.SystemTxs[i] = bin
	}
	return rlp.Encode(w, &enc)
}

// DecodeRLP implements rlp.Decoder. Each system transaction is decoded
// strictly (SystemTx.UnmarshalBinary); user transactions as go-ethereum
// decodes them (which refuses type 0x7E: a system transaction can never
// hide among the user transactions).
func (b *Body) DecodeRLP(s *rlp.Stream) error {
	var dec bodyRLP
	if err := s.Decode(&dec); err != nil {
		return fmt.Errorf("%w: %w", ErrBodyEncoding, err)
	}
	out := Body{SystemTxs: make([]*SystemTx, len(dec.SystemTxs)), Txs: dec.Txs}
	for i, bin := range dec.SystemTxs {
		tx := new(SystemTx)
		if err := tx.UnmarshalBinary(bin); err != nil {
			return fmt.Errorf("%w: system tx %d: %w", ErrBodyEncoding, i, err)
		}
		out.SystemTxs[i] = tx
	}
	if len(out.SystemTxs) == 0 {
		out.SystemTxs = nil
	}
	if len(out.Txs) == 0 {
		out.Txs = nil
	}
	*b = out
	return nil
}

// EncodeBody returns the RLP of b.
func EncodeBody(b *Body) ([]byte, error) {
	return rlp.EncodeToBytes(b)
}

// DecodeBody decodes the RLP of a body; nothing may follow it.
func DecodeBody(data []byte) (*Body, error) {
	b := new(Body)
	if err := rlp.DecodeBytes(data, b); err != nil {
		if errors.Is(err, ErrBodyEncoding) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrBodyEncoding, err)
	}
	return b, nil
}

// Len is the number of transactions of both kinds.
func (b *Body) Len() int { return len(b.SystemTxs) + len(b.Txs) }

// TxList returns the body's transactions in block order as a
// types.DerivableList.
func (b *Body) TxList() TxList { return TxList{System: b.SystemTxs, User: b.Txs} }

// TxHashes are the hashes of every transaction in block order.
func (b *Body) TxHashes() []common.Hash {
	out := make([]common.Hash, 0, b.Len())
	for _, tx := range b.SystemTxs {
		out = append(out, tx.Hash())
	}
	for _, tx := range b.Txs {
		out = append(out, tx.Hash())
	}
	return out
}

// TxList is a block's transactions in block order (system, then user) as
// the types.DerivableList that DeriveSha hashes into the header's TxHash.
// EncodeIndex writes a system transaction's MarshalBinary and a user
// transaction's canonical (typed or legacy) encoding: exactly what an OP
// Stack block's transactionsRoot commits to.
type TxList struct {
	System []*SystemTx
	User   types.Transactions
}

// Len implements types.DerivableList.
func (l TxList) Len() int { return len(l.System) + len(l.User) }

// EncodeIndex implements types.DerivableList. A system transaction that
// does not validate writes nothing; the root then matches no block, the
// same convention go-ethereum uses for unknown receipt types.
func (l TxList) EncodeIndex(i int, w *bytes.Buffer) {
	if i < len(l.System) {
		bin, err := l.System[i].MarshalBinary()
		if err == nil {
			w.Write(bin)
		}
		return
	}
	l.User.EncodeIndex(i-len(l.System), w)
}

// TxRoot is the header TxHash committing to the body: the Merkle-Patricia
// root over the transactions in block order (types.EmptyTxsHash for none).
func TxRoot(b *Body) common.Hash {
	return types.DeriveSha(b.TxList(), trie.NewStackTrie(nil))
}

// Validate checks every system transaction's bounds (Mint, Value, data).
func (b *Body) Validate() error {
	for i, tx := range b.SystemTxs {
		if tx == nil {
			return fmt.Errorf("%w: system tx %d is nil", ErrBodyEncoding, i)
		}
		if err := tx.Validate(); err != nil {
			return fmt.Errorf("system tx %d: %w", i, err)
		}
	}
	for i, tx := range b.Txs {
		if tx == nil {
			return fmt.Errorf("%w: tx %d is nil", ErrBodyEncoding, i)
		}
	}
	return nil
}
