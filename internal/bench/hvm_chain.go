package bench

import (
	"context"
	"fmt"
	"runtime"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"golang.org/x/sync/errgroup"

	"github.com/hemi-go/hemi/internal/btc/txgen"
)

// Shape of the hvm benchmark's chain (see hvmChain).
const (
	hvmSeed            = "hemi-bench-hvm"
	hvmFanout          = 1000   // busy outputs per fan-out transaction
	hvmFanoutsPerBlock = 10     // fan-out transactions per block (~1.3M weight units)
	hvmSpendInputs     = 100    // busy outputs consolidated per spend transaction
	hvmSpendsPerBlock  = 100    // spend transactions per block (~2.8M weight units)
	hvmBusyBaseValue   = 10_000 // satoshis; output i pays hvmBusyBaseValue + i%1000
	hvmQuietBaseValue  = 50_000 // satoshis; output i pays hvmQuietBaseValue+i
	hvmFeeRate         = 1      // sat/vB
)

// hvmOutput is one output paying a measured address, in chain order.
type hvmOutput struct {
	op    wire.OutPoint
	value int64
}

// hvmChain is the hvm benchmark's regtest chain and what it must answer.
//
//	1..101       coinbases to the funder (key 0, P2WPKH)
//	102          funding: coinbase 1 split into one output per fan-out
//	             transaction and one for the quiet address
//	103..        fan-outs, hvmFanoutsPerBlock a block: each pays
//	             hvmFanout outputs to the busy address (key 1, P2WPKH);
//	             the first block also pays the quiet address (key 2, P2TR)
//	             its outputs from one transaction
//	then         consolidations, hvmSpendsPerBlock a block: each spends
//	             hvmSpendInputs busy outputs, oldest first, back to the
//	             funder, until only the newest unspent ones are left (a
//	             wallet that spends its oldest coins first)
//
// Every transaction is fully signed. Output values vary (by output
// number) so a page with outputs out of order or shifted is wrong.
type hvmChain struct {
	blocks              []*wire.MsgBlock
	busyAddr, quietAddr string
	busyScript          []byte
	quietScript         []byte
	busy, quiet         []hvmOutput // every output paying each, in chain order
	busySpent           int         // the first busySpent of busy are spent
	txs, signatures     int
}

// busyUnspent and quietUnspent are the outputs unspent at the tip, in the
// documented 0x41 order (height, position, output index).
func (c *hvmChain) busyUnspent() []hvmOutput  { return c.busy[c.busySpent:] }
func (c *hvmChain) quietUnspent() []hvmOutput { return c.quiet }

// buildHVMChain makes the chain for busy outputs (unspent of them left
// unspent) and quiet outputs. It is deterministic: RFC 6979 signatures and
// txgen's fixed timestamps.
func buildHVMChain(ctx context.Context, params *chaincfg.Params, busy, unspent, quiet int) (*hvmChain, error) {
	w := txgen.NewWallet([]byte(hvmSeed))
	funder, busyKey, quietKey := w.Key(0), w.Key(1), w.Key(2)
	c := &hvmChain{}
	var err error
	if c.busyScript, err = busyKey.PkScript(txgen.P2WPKH); err != nil {
		return nil, err
	}
	if c.quietScript, err = quietKey.PkScript(txgen.P2TR); err != nil {
		return nil, err
	}
	for _, a := range []struct {
		k    *txgen.Key
		kind txgen.Kind
		dst  *string
	}{{busyKey, txgen.P2WPKH, &c.busyAddr}, {quietKey, txgen.P2TR, &c.quietAddr}} {
		addr, err := a.k.Address(a.kind, params)
		if err != nil {
			return nil, err
		}
		*a.dst = addr.String()
	}
	payFunder, err := funder.PkScript(txgen.P2WPKH)
	if err != nil {
		return nil, err
	}

	ch := txgen.NewChain(params)
	next := func(txs []*wire.MsgTx, fees int64) error {
		b, err := ch.NextBlock(txgen.BlockSpec{PayTo: payFunder, Txs: txs, Fees: fees})
		if err != nil {
			return fmt.Errorf("bench: hvm chain block %d: %w", len(c.blocks)+1, err)
		}
		c.blocks = append(c.blocks, b)
		c.txs += len(b.Transactions)
		return nil
	}
	for range params.CoinbaseMaturity + 1 {
		if err := next(nil, 0); err != nil {
			return nil, err
		}
	}

	// Funding: one output per fan-out, sized for its outputs and fee.
	fanouts := (busy + hvmFanout - 1) / hvmFanout
	perFanout := int64(hvmFanout)*(hvmBusyBaseValue+1000) + 100_000
	quietFund := int64(quiet)*(hvmQuietBaseValue+int64(quiet)) + 10_000
	cb := c.blocks[0].Transactions[0]
	fund := txgen.Spend{
		Inputs:  []txgen.UTXO{{OutPoint: wire.OutPoint{Hash: cb.TxHash()}, Value: cb.TxOut[0].Value, Key: funder, Kind: txgen.P2WPKH}},
		Change:  payFunder,
		FeeRate: hvmFeeRate,
	}
	for range fanouts {
		fund.Outputs = append(fund.Outputs, wire.NewTxOut(perFanout, payFunder))
	}
	fund.Outputs = append(fund.Outputs, wire.NewTxOut(quietFund, payFunder))
	fundTx, fee, _, err := fund.Build()
	if err != nil {
		return nil, fmt.Errorf("bench: hvm funding tx: %w", err)
	}
	if err := txgen.Sign(fundTx, fund.Inputs); err != nil {
		return nil, err
	}
	c.signatures++
	if err := next([]*wire.MsgTx{fundTx}, fee); err != nil {
		return nil, err
	}
	funding := func(i int) []txgen.UTXO {
		return []txgen.UTXO{{OutPoint: wire.OutPoint{Hash: fundTx.TxHash(), Index: uint32(i)},
			Value: fundTx.TxOut[i].Value, Key: funder, Kind: txgen.P2WPKH}}
	}

	// Fan-outs, and the quiet address's outputs in the first block. The
	// spends are planned in the same pass: a txid does not depend on the
	// witnesses, so signing can come after.
	type pending struct {
		tx    *wire.MsgTx
		prevs []txgen.UTXO
		fee   int64
	}
	var blocks [][]pending
	var block []pending
	add := func(s txgen.Spend, paid *[]hvmOutput, paidScript []byte) error {
		tx, fee, _, err := s.Build()
		if err != nil {
			return fmt.Errorf("bench: hvm chain tx: %w", err)
		}
		for i, o := range tx.TxOut {
			if paid != nil && string(o.PkScript) == string(paidScript) {
				*paid = append(*paid, hvmOutput{op: wire.OutPoint{Hash: tx.TxHash(), Index: uint32(i)}, value: o.Value})
			}
		}
		block = append(block, pending{tx: tx, prevs: s.Inputs, fee: fee})
		return nil
	}
	for f := range fanouts {
		if f == 0 && quiet > 0 {
			s := txgen.Spend{Inputs: funding(fanouts), Change: payFunder, FeeRate: hvmFeeRate}
			for i := range quiet {
				s.Outputs = append(s.Outputs, wire.NewTxOut(int64(hvmQuietBaseValue+i), c.quietScript))
			}
			if err := add(s, &c.quiet, c.quietScript); err != nil {
				return nil, err
			}
		}
		s := txgen.Spend{Inputs: funding(f), Change: payFunder, FeeRate: hvmFeeRate}
		for i := f * hvmFanout; i < min((f+1)*hvmFanout, busy); i++ {
			s.Outputs = append(s.Outputs, wire.NewTxOut(int64(hvmBusyBaseValue+i%1000), c.busyScript))
		}
		if err := add(s, &c.busy, c.busyScript); err != nil {
			return nil, err
		}
		if len(block) >= hvmFanoutsPerBlock || f == fanouts-1 {
			blocks, block = append(blocks, block), nil
		}
	}
	c.busySpent = busy - unspent
	for lo := 0; lo < c.busySpent; lo += hvmSpendInputs {
		var ins []txgen.UTXO
		for _, o := range c.busy[lo:min(lo+hvmSpendInputs, c.busySpent)] {
			ins = append(ins, txgen.UTXO{OutPoint: o.op, Value: o.value, Key: busyKey, Kind: txgen.P2WPKH})
		}
		if err := add(txgen.Spend{Inputs: ins, Change: payFunder, FeeRate: hvmFeeRate}, nil, nil); err != nil {
			return nil, err
		}
		if len(block) >= hvmSpendsPerBlock {
			blocks, block = append(blocks, block), nil
		}
	}
	if len(block) > 0 {
		blocks = append(blocks, block)
	}

	// Sign on every core, then assemble the blocks in order.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, b := range blocks {
		for _, p := range b {
			c.signatures += len(p.prevs)
			g.Go(func() error {
				if err := gctx.Err(); err != nil {
					return err
				}
				return txgen.Sign(p.tx, p.prevs)
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("bench: hvm chain: sign: %w", err)
	}
	for _, b := range blocks {
		txs := make([]*wire.MsgTx, len(b))
		var fees int64
		for i, p := range b {
			txs[i], fees = p.tx, fees+p.fee
		}
		if err := next(txs, fees); err != nil {
			return nil, err
		}
	}
	return c, nil
}
