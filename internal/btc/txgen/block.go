package txgen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// Errors returned by the block builder.
var (
	ErrBlock = errors.New("txgen: cannot build block")
	ErrPoW   = errors.New("txgen: proof of work not found")
)

// witnessMagic opens the BIP 141 witness commitment in a coinbase output.
var witnessMagic = []byte{0xaa, 0x21, 0xa9, 0xed}

// medianTimeBlocks is how many previous timestamps the median time past
// covers.
const medianTimeBlocks = 11

// StartTime is the earliest timestamp NewChain gives block 1, fixed so
// chains are reproducible. It lies after the BIP 16 switch time (btcd
// enables P2SH, and with it witness verification, by block time) and
// before any time a test runs.
var StartTime = time.Unix(1704067200, 0).UTC() // 2024-01-01

// BlockVersion is the header version of built blocks (BIP 9 top bits, no
// signalled deployments).
const BlockVersion = 0x20000000

// Subsidy returns the block subsidy at height under params: 50 BTC halved
// every SubsidyReductionInterval blocks.
func Subsidy(params *chaincfg.Params, height int32) int64 {
	const base = 50 * 100_000_000
	if params.SubsidyReductionInterval == 0 {
		return base
	}
	halvings := uint64(height) / uint64(params.SubsidyReductionInterval)
	if height < 0 || halvings >= 64 {
		return 0
	}
	return base >> halvings
}

// Coinbase returns a coinbase transaction for height paying value to
// payTo. Its scriptSig starts with the BIP 34 height followed by
// extraNonce, so coinbases of different heights or nonces never share a
// txid. It carries no witness commitment; AddWitnessCommitment adds it.
func Coinbase(height int32, value int64, payTo []byte, extraNonce uint64) (*wire.MsgTx, error) {
	if height < 0 || value < 0 {
		return nil, fmt.Errorf("%w: coinbase height %d value %d", ErrBlock, height, value)
	}
	var nonce [8]byte
	binary.LittleEndian.PutUint64(nonce[:], extraNonce)
	sigScript, err := txscript.NewScriptBuilder().AddInt64(int64(height)).AddData(nonce[:]).Script()
	if err != nil {
		return nil, fmt.Errorf("%w: coinbase script: %w", ErrBlock, err)
	}
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{
		PreviousOutPoint: wire.OutPoint{Index: wire.MaxPrevOutIndex},
		SignatureScript:  sigScript,
		Sequence:         wire.MaxTxInSequenceNum,
	})
	tx.AddTxOut(wire.NewTxOut(value, payTo))
	return tx, nil
}

// AddWitnessCommitment sets the coinbase witness reserved value (32 zero
// bytes) and appends the BIP 141 commitment to the witness merkle root of
// coinbase followed by txs. It must be the last change to the coinbase.
func AddWitnessCommitment(coinbase *wire.MsgTx, txs []*wire.MsgTx) {
	var reserved [32]byte
	coinbase.TxIn[0].Witness = wire.TxWitness{reserved[:]}
	leaves := make([]chainhash.Hash, 1, len(txs)+1) // coinbase wtxid is zero
	for _, tx := range txs {
		leaves = append(leaves, tx.WitnessHash())
	}
	root := MerkleRoot(leaves)
	var pre [64]byte
	copy(pre[:32], root[:])
	copy(pre[32:], reserved[:])
	commitment := chainhash.DoubleHashB(pre[:])
	script := make([]byte, 0, 38)
	script = append(script, txscript.OP_RETURN, txscript.OP_DATA_36)
	script = append(script, witnessMagic...)
	script = append(script, commitment...)
	coinbase.AddTxOut(wire.NewTxOut(0, script))
}

// MerkleRoot returns the Bitcoin merkle root of leaves (the last node of an
// odd level is paired with itself). The root of no leaves is zero.
func MerkleRoot(leaves []chainhash.Hash) chainhash.Hash {
	if len(leaves) == 0 {
		return chainhash.Hash{}
	}
	level := slices.Clone(leaves)
	var buf [64]byte
	for len(level) > 1 {
		if len(level)%2 == 1 {
			level = append(level, level[len(level)-1])
		}
		for i := 0; i < len(level); i += 2 {
			copy(buf[:32], level[i][:])
			copy(buf[32:], level[i+1][:])
			level[i/2] = chainhash.DoubleHashH(buf[:])
		}
		level = level[:len(level)/2]
	}
	return level[0]
}

// TxMerkleRoot returns the merkle root of the txids of txs.
func TxMerkleRoot(txs []*wire.MsgTx) chainhash.Hash {
	leaves := make([]chainhash.Hash, len(txs))
	for i, tx := range txs {
		leaves[i] = tx.TxHash()
	}
	return MerkleRoot(leaves)
}

// Solve searches the nonce of hdr until its hash meets the target of its
// bits, trying at most maxTries nonces from the current one.
func Solve(hdr *wire.BlockHeader, maxTries uint64) error {
	target := compactToBig(hdr.Bits)
	if target.Sign() <= 0 {
		return fmt.Errorf("%w: bits %08x give no target", ErrPoW, hdr.Bits)
	}
	for range maxTries {
		h := hdr.BlockHash()
		if hashToBig(&h).Cmp(target) <= 0 {
			return nil
		}
		hdr.Nonce++
		if hdr.Nonce == 0 {
			// A wrapped nonce changes nothing else; move the time on.
			hdr.Timestamp = hdr.Timestamp.Add(time.Second)
		}
	}
	return fmt.Errorf("%w: %d tries at bits %08x", ErrPoW, maxTries, hdr.Bits)
}

func hashToBig(h *chainhash.Hash) *big.Int {
	var be [32]byte
	for i := range 32 {
		be[i] = h[31-i]
	}
	return new(big.Int).SetBytes(be[:])
}

// compactToBig decodes the compact target representation of bits.
func compactToBig(bits uint32) *big.Int {
	mantissa := int64(bits & 0x007fffff)
	negative := bits&0x00800000 != 0
	exponent := uint(bits >> 24)
	var n *big.Int
	if exponent <= 3 {
		n = big.NewInt(mantissa >> (8 * (3 - exponent)))
	} else {
		n = new(big.Int).Lsh(big.NewInt(mantissa), 8*(exponent-3))
	}
	if negative {
		n.Neg(n)
	}
	return n
}

// Chain extends a block chain by valid blocks. It tracks the tip, height and
// recent timestamps (for the median time past). It assumes parameters
// without difficulty retargeting (regtest): every block uses
// params.PowLimitBits. A Chain is not safe for concurrent use.
type Chain struct {
	params  *chaincfg.Params
	tip     chainhash.Hash
	height  int32
	times   []time.Time // up to the last medianTimeBlocks timestamps, oldest first
	spacing time.Duration
}

// NewChain starts a chain at the genesis block of params. Block 1 is
// timestamped at StartTime (or the genesis time plus the spacing if later),
// following blocks are spaced by params.TargetTimePerBlock (10 minutes when
// unset) unless a BlockSpec sets a time.
func NewChain(params *chaincfg.Params) *Chain {
	g := params.GenesisBlock.Header
	spacing := params.TargetTimePerBlock
	if spacing <= 0 {
		spacing = 10 * time.Minute
	}
	return &Chain{
		params:  params,
		tip:     g.BlockHash(),
		times:   []time.Time{g.Timestamp},
		spacing: spacing,
	}
}

// Tip returns the hash and height of the last block.
func (c *Chain) Tip() (chainhash.Hash, int32) { return c.tip, c.height }

// MedianTimePast returns the median of the last (up to) 11 timestamps.
func (c *Chain) MedianTimePast() time.Time {
	ts := slices.Clone(c.times)
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	return ts[len(ts)/2]
}

// BlockSpec is what the next block holds.
type BlockSpec struct {
	PayTo      []byte        // coinbase output script
	Txs        []*wire.MsgTx // signed transactions, in an order where parents come first
	Fees       int64         // total fees of Txs, added to the coinbase value
	ExtraNonce uint64        // coinbase extra nonce
	Time       time.Time     // zero means the previous block's time plus the spacing
}

// NextBlock builds, solves and returns the block on top of the tip, and
// makes it the new tip.
func (c *Chain) NextBlock(spec BlockSpec) (*wire.MsgBlock, error) {
	height := c.height + 1
	cb, err := Coinbase(height, Subsidy(c.params, height)+spec.Fees, spec.PayTo, spec.ExtraNonce)
	if err != nil {
		return nil, err
	}
	AddWitnessCommitment(cb, spec.Txs)
	ts := spec.Time
	if ts.IsZero() {
		ts = c.times[len(c.times)-1].Add(c.spacing)
		if c.height == 0 && ts.Before(StartTime) {
			ts = StartTime
		}
	}
	ts = ts.Truncate(time.Second)
	if mtp := c.MedianTimePast(); !ts.After(mtp) {
		ts = mtp.Add(time.Second)
	}
	blk := &wire.MsgBlock{
		Header: wire.BlockHeader{
			Version:   BlockVersion,
			PrevBlock: c.tip,
			Timestamp: ts,
			Bits:      c.params.PowLimitBits,
		},
		Transactions: make([]*wire.MsgTx, 0, len(spec.Txs)+1),
	}
	blk.Transactions = append(blk.Transactions, cb)
	blk.Transactions = append(blk.Transactions, spec.Txs...)
	blk.Header.MerkleRoot = TxMerkleRoot(blk.Transactions)
	if err := Solve(&blk.Header, 1<<32); err != nil {
		return nil, err
	}
	c.tip = blk.Header.BlockHash()
	c.height = height
	c.times = append(c.times, blk.Header.Timestamp)
	if len(c.times) > medianTimeBlocks {
		c.times = c.times[len(c.times)-medianTimeBlocks:]
	}
	return blk, nil
}
