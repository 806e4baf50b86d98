package index

import (
	"encoding/binary"
	"math/big"
	"math/bits"

	"github.com/btcsuite/btcd/blockchain"
)

// work is a 128-bit unsigned amount of proof of work. Bitcoin's total chain
// work is below 2^96 today; sums saturate at 2^128-1 instead of wrapping so a
// pathological header cannot make a chain look lighter than it is.
type work struct{ hi, lo uint64 }

var maxWork = work{hi: ^uint64(0), lo: ^uint64(0)}

// workFromBits returns the expected work of one header with the given
// compact target.
func workFromBits(b uint32) work {
	w := blockchain.CalcWork(b)
	return workFromBig(w)
}

func workFromBig(w *big.Int) work {
	if w.Sign() <= 0 {
		return work{}
	}
	if w.BitLen() > 128 {
		return maxWork
	}
	var buf [16]byte
	w.FillBytes(buf[:])
	return work{hi: binary.BigEndian.Uint64(buf[:8]), lo: binary.BigEndian.Uint64(buf[8:])}
}

func (a work) add(b work) work {
	lo, c := bits.Add64(a.lo, b.lo, 0)
	hi, c2 := bits.Add64(a.hi, b.hi, c)
	if c2 != 0 {
		return maxWork
	}
	return work{hi: hi, lo: lo}
}

// sub is a-b for a >= b.
func (a work) sub(b work) work {
	lo, borrow := bits.Sub64(a.lo, b.lo, 0)
	hi, _ := bits.Sub64(a.hi, b.hi, borrow)
	return work{hi: hi, lo: lo}
}

func (a work) cmp(b work) int {
	switch {
	case a.hi < b.hi:
		return -1
	case a.hi > b.hi:
		return 1
	case a.lo < b.lo:
		return -1
	case a.lo > b.lo:
		return 1
	}
	return 0
}

func (a work) big() *big.Int {
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], a.hi)
	binary.BigEndian.PutUint64(buf[8:], a.lo)
	return new(big.Int).SetBytes(buf[:])
}
