package hvm

import (
	"encoding/binary"
	"math"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// Input and output sizes of the ABI (v0).
const (
	// MaxAddressLen is the longest address string accepted (a bech32
	// string is at most 90 characters); longer input is invalid.
	MaxAddressLen = 90

	// HeaderRecordLen is the size of the 0x44/0x45 header record.
	HeaderRecordLen = 116

	txQueryLen     = 32 + 4 // 0x42: txid, 4 flag bytes
	utxoSuffixLen  = 3 + 1  // 0x41: page (u24), page size (u8)
	defaultPageLen = 10     // 0x41: page size 0 means 10
)

// hashDisplay returns h in Bitcoin's display byte order (reversed).
func hashDisplay(h chainhash.Hash) [32]byte {
	var out [32]byte
	for i := range 32 {
		out[i] = h[31-i]
	}
	return out
}

// hashFromDisplay parses a hash given in display byte order.
func hashFromDisplay(b []byte) chainhash.Hash {
	var h chainhash.Hash
	for i := range 32 {
		h[i] = b[31-i]
	}
	return h
}

// sat16 saturates n into a u16: counts and indexes above 65,535 read as
// 65,535 (a caller seeing 0xffff knows it may be more).
func sat16(n uint64) uint16 {
	if n > math.MaxUint16 {
		return math.MaxUint16
	}
	return uint16(n)
}

// addressScript decodes an ASCII address of one of the five standard types
// for params and returns its output script; ok is false for anything else
// (other networks, bare public keys, pay-to-anchor, unknown witness
// versions, non-ASCII, too long).
func addressScript(input []byte, params *chaincfg.Params) ([]byte, bool) {
	if params == nil || len(input) == 0 || len(input) > MaxAddressLen {
		return nil, false
	}
	for _, c := range input {
		if c < 0x21 || c > 0x7e {
			return nil, false
		}
	}
	a, err := address.DecodeAddress(string(input), params)
	if err != nil || !a.IsForNet(params) {
		return nil, false
	}
	switch a.(type) {
	case *address.AddressPubKeyHash, *address.AddressScriptHash,
		*address.AddressWitnessPubKeyHash, *address.AddressWitnessScriptHash,
		*address.AddressTaproot:
	default:
		return nil, false
	}
	s, err := txscript.PayToAddrScript(a)
	if err != nil {
		return nil, false
	}
	return s, true
}

// utxoQuery is a decoded 0x41 input.
type utxoQuery struct {
	addr     []byte
	page     int // 0 .. 2^24-1
	pageSize int // 1 .. 255
}

// parseUTXOQuery splits a 0x41 input: address, page (u24), page size (u8).
func parseUTXOQuery(input []byte) (utxoQuery, bool) {
	if len(input) <= utxoSuffixLen {
		return utxoQuery{}, false
	}
	n := len(input) - utxoSuffixLen
	s := input[n:]
	q := utxoQuery{
		addr:     input[:n],
		page:     int(s[0])<<16 | int(s[1])<<8 | int(s[2]),
		pageSize: int(s[3]),
	}
	if q.pageSize == 0 {
		q.pageSize = defaultPageLen
	}
	return q, true
}

// txFlags are the decoded 0x42 flag bytes. Per-input fields are only
// emitted with inputs, per-output fields only with outputs.
type txFlags struct {
	blockHash    bool // byte 1 bit 6
	version      bool // byte 1 bit 5
	sizes        bool // byte 1 bit 4: size and vsize
	lockTime     bool // byte 1 bit 3
	inputs       bool // byte 1 bit 2: input count and each value
	inputSource  bool // byte 1 bit 1: prev txid and vout
	scriptSig    bool // byte 1 bit 0
	sequence     bool // byte 2 bit 7
	outputs      bool // byte 2 bit 6: output count and each value
	outputScript bool // byte 2 bit 5
	unspendable  bool // byte 2 bit 3: include unspendable outputs
	spent        bool // byte 2 bit 2

	maxInputs    int // byte 3 bits 5..3: 2^n
	maxOutputs   int // byte 3 bits 2..0: 2^n
	maxScriptSig int // byte 4 bits 3..2: 2^(4+n)
	maxScript    int // byte 4 bits 1..0: 2^(4+n)
}

func bit(b byte, n uint) bool { return b&(1<<n) != 0 }

// decodeTxFlags decodes the four 0x42 flag bytes. Reserved bits (byte 1
// bit 7, byte 2 bits 4, 1, 0, byte 3 bits 7..6, byte 4 bits 7..4) are
// ignored.
func decodeTxFlags(f [4]byte) txFlags {
	return txFlags{
		blockHash:    bit(f[0], 6),
		version:      bit(f[0], 5),
		sizes:        bit(f[0], 4),
		lockTime:     bit(f[0], 3),
		inputs:       bit(f[0], 2),
		inputSource:  bit(f[0], 1),
		scriptSig:    bit(f[0], 0),
		sequence:     bit(f[1], 7),
		outputs:      bit(f[1], 6),
		outputScript: bit(f[1], 5),
		unspendable:  bit(f[1], 3),
		spent:        bit(f[1], 2),
		maxInputs:    1 << (f[2] >> 3 & 7),
		maxOutputs:   1 << (f[2] & 7),
		maxScriptSig: 1 << (4 + (f[3] >> 2 & 3)),
		maxScript:    1 << (4 + (f[3] & 3)),
	}
}

// txQuery is a decoded 0x42 input.
type txQuery struct {
	txid  chainhash.Hash
	flags [4]byte
}

// parseTxQuery splits a 0x42 input: txid (display order) and 4 flag bytes.
func parseTxQuery(input []byte) (txQuery, bool) {
	if len(input) != txQueryLen {
		return txQuery{}, false
	}
	q := txQuery{txid: hashFromDisplay(input[:32])}
	copy(q.flags[:], input[32:])
	return q, true
}

// parseTxid reads a 0x43 input: exactly one txid in display order.
func parseTxid(input []byte) (chainhash.Hash, bool) {
	if len(input) != 32 {
		return chainhash.Hash{}, false
	}
	return hashFromDisplay(input), true
}

// parseHeight reads a 0x45 input: exactly one u32. Heights above the
// int32 range cannot exist.
func parseHeight(input []byte) (int32, bool) {
	if len(input) != 4 {
		return 0, false
	}
	h := binary.BigEndian.Uint32(input)
	if h > math.MaxInt32 {
		return 0, false
	}
	return int32(h), true
}

// encodeHeader returns the 116-byte header record of 0x44 and 0x45.
func encodeHeader(h Header) []byte {
	out := make([]byte, 0, HeaderRecordLen)
	out = binary.BigEndian.AppendUint32(out, uint32(h.Height))
	hash := hashDisplay(h.Hash)
	out = append(out, hash[:]...)
	out = binary.BigEndian.AppendUint32(out, uint32(h.Header.Version))
	prev := hashDisplay(h.Header.PrevBlock)
	out = append(out, prev[:]...)
	root := hashDisplay(h.Header.MerkleRoot)
	out = append(out, root[:]...)
	out = binary.BigEndian.AppendUint32(out, uint32(h.Header.Timestamp.Unix()))
	out = binary.BigEndian.AppendUint32(out, h.Header.Bits)
	out = binary.BigEndian.AppendUint32(out, h.Header.Nonce)
	return out
}

// encodeUTXOs returns the 0x41 answer: count (u8), then per UTXO txid
// (display order), vout (u16, saturated), value (u64).
func encodeUTXOs(us []UTXO) []byte {
	out := make([]byte, 0, 1+len(us)*(32+2+8))
	out = append(out, byte(len(us)))
	for _, u := range us {
		id := hashDisplay(u.Outpoint.Hash)
		out = append(out, id[:]...)
		out = binary.BigEndian.AppendUint16(out, sat16(uint64(u.Outpoint.Index)))
		out = binary.BigEndian.AppendUint64(out, uint64(u.Value))
	}
	return out
}

// isNullOutpoint reports a coinbase input's previous outpoint.
func isNullOutpoint(op wire.OutPoint) bool {
	return op.Index == wire.MaxPrevOutIndex && op.Hash == (chainhash.Hash{})
}

// unspendable reports an output the 0x42 flag byte 2 bit 3 governs:
// btcd's txscript.IsUnspendable, i.e. a script that starts with
// OP_RETURN, is longer than 10,000 bytes, or does not parse as a script.
func unspendable(pkScript []byte) bool { return txscript.IsUnspendable(pkScript) }

// vsize is the BIP 141 virtual size: weight / 4 rounded up.
func vsize(tx *wire.MsgTx) int {
	weight := tx.SerializeSizeStripped()*3 + tx.SerializeSize()
	return (weight + 3) / 4
}

// appendCut appends len (u16, saturated) then at most max bytes of b.
func appendCut(out, b []byte, max int) []byte {
	out = binary.BigEndian.AppendUint16(out, sat16(uint64(len(b))))
	if len(b) > max {
		b = b[:max]
	}
	return append(out, b...)
}
