package addrindex

import (
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
)

// TxInfo is what the index keeps of every indexed transaction: what a
// row of an address's history shows, so a page of history is read from
// the index alone (no block, receipt or signature recovery per row).
type TxInfo struct {
	Hash   common.Hash
	System bool // a system transaction (DESIGN 3.3): From is its envelope's
	From   common.Address
	To     *common.Address // nil: a contract creation
	Value  *big.Int        // wei, never nil once decoded
	// Success is the receipt's status.
	Success bool
}

// Transaction record flags (its first byte).
const (
	recSystem  = 1 << iota // TxInfo.System
	recHasTo               // To follows From
	recSuccess             // TxInfo.Success
	recKnown   = recSystem | recHasTo | recSuccess
)

// maxValueLen bounds a record's value: a uint256.
const maxValueLen = 32

// appendTxRecord appends t's record to b:
//
//	flags (1) | hash (32) | from (20) | [to (20)] | value (0 to 32, big-endian, no leading zero)
func appendTxRecord(b []byte, t *TxInfo) []byte {
	var flags byte
	if t.System {
		flags |= recSystem
	}
	if t.To != nil {
		flags |= recHasTo
	}
	if t.Success {
		flags |= recSuccess
	}
	b = append(b, flags)
	b = append(b, t.Hash[:]...)
	b = append(b, t.From[:]...)
	if t.To != nil {
		b = append(b, t.To[:]...)
	}
	if t.Value != nil && t.Value.Sign() > 0 {
		b = append(b, t.Value.Bytes()...)
	}
	return b
}

// decodeTxRecord decodes a record of appendTxRecord, refusing unknown
// flags, a short record, a value of more than 32 bytes or with a leading
// zero (so every accepted record re-encodes to itself).
func decodeTxRecord(v []byte) (TxInfo, error) {
	var t TxInfo
	fixed := 1 + common.HashLength + common.AddressLength
	if len(v) < fixed {
		return t, fmt.Errorf("%w: transaction record of %d bytes", ErrCorrupt, len(v))
	}
	flags := v[0]
	if flags&^recKnown != 0 {
		return t, fmt.Errorf("%w: transaction record flags %#x", ErrCorrupt, flags)
	}
	t.System, t.Success = flags&recSystem != 0, flags&recSuccess != 0
	t.Hash = common.BytesToHash(v[1 : 1+common.HashLength])
	t.From = common.BytesToAddress(v[1+common.HashLength : fixed])
	rest := v[fixed:]
	if flags&recHasTo != 0 {
		if len(rest) < common.AddressLength {
			return t, fmt.Errorf("%w: transaction record of %d bytes cut in its recipient", ErrCorrupt, len(v))
		}
		to := common.BytesToAddress(rest[:common.AddressLength])
		t.To, rest = &to, rest[common.AddressLength:]
	}
	if len(rest) > maxValueLen || (len(rest) > 0 && rest[0] == 0) {
		return t, fmt.Errorf("%w: transaction record value of %d bytes", ErrCorrupt, len(rest))
	}
	t.Value = new(big.Int).SetBytes(rest)
	return t, nil
}

// appendEntry appends an entry's value to b: the address's flags
// (Flag*, at least one) | rec, the transaction's record (appendTxRecord).
func appendEntry(b []byte, flags byte, rec []byte) []byte {
	return append(append(b, flags), rec...)
}

// decodeEntry decodes an entry's value, refusing no flag, unknown flags
// or a record decodeTxRecord refuses.
func decodeEntry(v []byte) (byte, TxInfo, error) {
	if len(v) == 0 {
		return 0, TxInfo{}, fmt.Errorf("%w: empty entry", ErrCorrupt)
	}
	if v[0] == 0 || v[0]&^flagsKnown != 0 {
		return 0, TxInfo{}, fmt.Errorf("%w: entry flags %#x", ErrCorrupt, v[0])
	}
	t, err := decodeTxRecord(v[1:])
	return v[0], t, err
}

// encodeBlockRecord is an indexed block's record: hash (32) | time (u64).
func encodeBlockRecord(hash common.Hash, time uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), hash[:]...), time)
}

func decodeBlockRecord(v []byte) (common.Hash, uint64, error) {
	if len(v) != common.HashLength+8 {
		return common.Hash{}, 0, fmt.Errorf("%w: block record of %d bytes", ErrCorrupt, len(v))
	}
	return common.BytesToHash(v[:common.HashLength]), binary.BigEndian.Uint64(v[common.HashLength:]), nil
}
