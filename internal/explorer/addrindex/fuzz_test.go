package addrindex

import (
	"bytes"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// FuzzDecodeTip: the tip record decoder refuses every wrong length with
// an error and round-trips what it accepts.
func FuzzDecodeTip(f *testing.F) {
	f.Add(encodeTip(Tip{0, common.Hash{}}))
	f.Add(encodeTip(Tip{1 << 40, common.Hash{1, 2, 3}}))
	f.Add([]byte{1, 2, 3})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		tip, err := decodeTip(b)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeTip(tip), b) {
			t.Fatalf("%x decodes to %+v, which encodes differently", b, tip)
		}
	})
}

// FuzzDecodeTxRecord: the transaction record decoder refuses what
// appendTxRecord cannot write (short, unknown flags, a value too long or
// with a leading zero) with an error and round-trips what it accepts.
func FuzzDecodeTxRecord(f *testing.F) {
	to := common.Address{9}
	f.Add(appendTxRecord(nil, &TxInfo{Hash: common.Hash{1}, From: common.Address{2}, To: &to, Value: big.NewInt(1000), Success: true}))
	f.Add(appendTxRecord(nil, &TxInfo{Hash: common.Hash{3}, System: true, From: common.Address{4}, Value: new(big.Int)}))
	max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
	f.Add(appendTxRecord(nil, &TxInfo{From: common.Address{5}, To: &to, Value: max}))
	f.Add([]byte{recHasTo})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := decodeTxRecord(b)
		if err != nil {
			return
		}
		if got := appendTxRecord(nil, &tx); !bytes.Equal(got, b) {
			t.Fatalf("%x decodes to %+v, which encodes to %x", b, tx, got)
		}
	})
}

// FuzzDecodeEntry: the entry decoder refuses no flag, unknown flags and
// every record decodeTxRecord refuses, with an error, and round-trips
// what it accepts.
func FuzzDecodeEntry(f *testing.F) {
	to := common.Address{9}
	f.Add(appendEntry(nil, FlagFrom|FlagTokenOut, appendTxRecord(nil, &TxInfo{Hash: common.Hash{1}, From: common.Address{2}, To: &to, Value: big.NewInt(1000), Success: true})))
	f.Add(appendEntry(nil, FlagTokenEmit, appendTxRecord(nil, &TxInfo{Hash: common.Hash{3}, System: true, From: common.Address{4}, Value: new(big.Int)})))
	f.Add(appendEntry(nil, 0, appendTxRecord(nil, &TxInfo{From: common.Address{5}})))
	f.Add(appendEntry(nil, 0x80, appendTxRecord(nil, &TxInfo{From: common.Address{5}})))
	f.Add([]byte{FlagTo})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		flags, tx, err := decodeEntry(b)
		if err != nil {
			return
		}
		if flags == 0 || flags&^flagsKnown != 0 {
			t.Fatalf("%x: accepted flags %#x", b, flags)
		}
		if got := appendEntry(nil, flags, appendTxRecord(nil, &tx)); !bytes.Equal(got, b) {
			t.Fatalf("%x decodes to %#x %+v, which encodes to %x", b, flags, tx, got)
		}
	})
}

// FuzzDecodeBlockRecord: the block record decoder takes exactly 40 bytes
// and round-trips them.
func FuzzDecodeBlockRecord(f *testing.F) {
	f.Add(encodeBlockRecord(common.Hash{1}, 1_700_000_000))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, tm, err := decodeBlockRecord(b)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeBlockRecord(h, tm), b) {
			t.Fatalf("%x does not round-trip", b)
		}
	})
}
