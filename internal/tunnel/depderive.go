package tunnel

// The deposit side's derivers (DESIGN 6, 3.3), installed by the node when
// the genesis has a tunnel:
//
//   - FeeRate, right after the Bitcoin view update: records the consensus
//     fee rate (FeeRateOf the view's FeeRateWindow blocks) in the Tunnel
//     predeploy when it differs from the parent's, so existing networks
//     (no tunnel, deriver not installed) derive exactly what they did.
//   - Deposits, next: from the deposit cursor in the parent state, the
//     vault outputs of the Bitcoin blocks that reached
//     DepositConfirmations in the view, in Bitcoin order (height,
//     position in block, output index), at most MaxDepositsPerBlock per
//     L2 block. The rest is carried over: the cursor then points at the
//     first output not processed, and the next blocks resume there, so a
//     flood of dust deposits costs each L2 block at most
//     MaxDepositsPerBlock deposits' work (the index seeks to the cursor,
//     OutputsFrom). Each output of a transaction that spends no vault
//     output is one deposit, classified by ParseDeposits and minted,
//     queued for refund or recorded; an output of a transaction spending
//     a vault output (a payout's change, a recovery) is skipped. The
//     first system transaction moves the cursor (setDepositCursor)
//     whenever it changes; a deposit the parent state already holds
//     (only after a Bitcoin reorg deeper than the confirmations, which
//     the chain does not undo) is not derived again, and the predeploy
//     ignores a second one anyway: exactly once per outpoint.
//
// Both read Bitcoin only as of the block's view (rules.DepositBitcoin)
// and the L2 only through the parent state, so every node derives the
// same transactions and rejects a block whose deposits differ (the
// chain's system-transaction comparison).

import (
	"errors"
	"fmt"
	"math/big"
	"slices"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/chain/rules"
)

// Source-hash domains of the deposit side besides
// block.DomainTunnelDeposit (0x101: Hash = the deposit's txid, Index =
// its vout, one per outpoint).
const (
	// DomainTunnelFeeRate: the fee-rate record. Hash = the view's block
	// hash, Index = the L2 block number.
	DomainTunnelFeeRate block.SourceDomain = 0x105
	// DomainTunnelCursor: the deposit cursor's move. Hash = the view's
	// block hash, Index = the L2 block number.
	DomainTunnelCursor block.SourceDomain = 0x106
)

// FeeRateWindow is how many Bitcoin blocks, the view's and its
// ancestors, the consensus fee rate looks at.
const FeeRateWindow = 6

// ErrDepositConfig: a DepositConfig the derivers cannot run with.
var ErrDepositConfig = errors.New("tunnel: invalid deposit deriver config")

// FeeRateOf is the consensus fee rate of a view from its blocks' fee
// statistics (rules.DepositBitcoin.BlockFeeRates): their median (the
// upper one of an even count, so a payout does not underpay), at least 1
// sat/vB. A block without transactions counts as 0: its space was free.
func FeeRateOf(blockRates []int64) uint64 {
	if len(blockRates) == 0 {
		return 1
	}
	s := slices.Clone(blockRates)
	slices.Sort(s)
	return uint64(max(s[len(s)/2], 1))
}

// FeeRate is the fee-rate deriver (rules.Deriver).
type FeeRate struct {
	// Tunnel is the tunnel predeploy's address.
	Tunnel common.Address
}

var (
	_ rules.Deriver = (*FeeRate)(nil)
	_ rules.Deriver = (*Deposits)(nil)
)

// Derive records the view's fee rate when it differs from the parent's
// and the record fits in d.GasLeft (else a later block records it).
func (f *FeeRate) Derive(d *rules.Derivation) ([]*block.SystemTx, error) {
	if d.State == nil {
		return nil, fmt.Errorf("%w: the derivation has no parent state", ErrDepositConfig)
	}
	if d.GasLeft < FeeRateGas {
		return nil, nil
	}
	rates, err := d.Bitcoin.BlockFeeRates(d.View.Hash, FeeRateWindow)
	if err != nil {
		return nil, fmt.Errorf("tunnel: fee rate as of %s: %w", d.View.Hash, err)
	}
	rate := FeeRateOf(rates)
	st, err := d.State()
	if err != nil {
		return nil, fmt.Errorf("tunnel: parent state: %w", err)
	}
	if old, _ := ReadFeeRate(st, f.Tunnel); old == rate {
		return nil, nil
	}
	return []*block.SystemTx{systemCall(f.Tunnel, block.SourceHash(DomainTunnelFeeRate, d.View.Hash, d.Number),
		FeeRateGas, SetFeeRateCalldata(rate, uint32(d.View.Height)))}, nil
}

// DepositConfig is what the deposit deriver needs of the genesis.
type DepositConfig struct {
	// Tunnel is the tunnel predeploy's address.
	Tunnel common.Address
	// VaultScript is the vault's output script (NewVault's PkScript).
	VaultScript []byte
	// DepositConfirmations, MinDepositSat and MaxDepositsPerBlock as in
	// genesis.TunnelConfig.
	DepositConfirmations uint32
	MinDepositSat        uint64
	MaxDepositsPerBlock  int
}

// Deposits is the deposit deriver.
type Deposits struct{ cfg DepositConfig }

// NewDeposits checks cfg and returns the deriver.
func NewDeposits(cfg DepositConfig) (*Deposits, error) {
	switch {
	case len(cfg.VaultScript) == 0:
		return nil, fmt.Errorf("%w: no vault script", ErrDepositConfig)
	case cfg.DepositConfirmations == 0:
		return nil, fmt.Errorf("%w: deposit confirmations must be at least 1", ErrDepositConfig)
	case cfg.MaxDepositsPerBlock < 1:
		return nil, fmt.Errorf("%w: max deposits per block must be at least 1", ErrDepositConfig)
	}
	cfg.VaultScript = slices.Clone(cfg.VaultScript)
	return &Deposits{cfg: cfg}, nil
}

// ConfirmedTop is the highest Bitcoin height whose block has conf
// confirmations in a view at viewHeight.
func ConfirmedTop(viewHeight int32, conf uint32) int32 {
	return viewHeight - int32(conf) + 1
}

// Derive returns the block's cursor move and deposits: at most
// MaxDepositsPerBlock, and no more than fit in d.GasLeft beside the
// cursor's move (the rest carry over as beyond the cap).
func (dd *Deposits) Derive(d *rules.Derivation) ([]*block.SystemTx, error) {
	if d.State == nil {
		return nil, fmt.Errorf("%w: the derivation has no parent state", ErrDepositConfig)
	}
	if d.GasLeft < CursorGas {
		return nil, nil // the cursor cannot move: a later block resumes
	}
	limit := int(min(uint64(dd.cfg.MaxDepositsPerBlock), (d.GasLeft-CursorGas)/DepositGas))
	st, err := d.State()
	if err != nil {
		return nil, fmt.Errorf("tunnel: parent state: %w", err)
	}
	cfg := &dd.cfg
	cur := ReadCursor(st, cfg.Tunnel)
	top := ConfirmedTop(d.View.Height, cfg.DepositConfirmations)
	if top <= int32(cur.Height) {
		return nil, nil
	}
	outs, err := d.Bitcoin.OutputsFrom(cfg.VaultScript, int32(cur.Height)+1, cur.TxPos, cur.Vout, top, limit+1, d.View.Hash)
	if err != nil {
		return nil, fmt.Errorf("tunnel: vault outputs as of %s: %w", d.View.Hash, err)
	}
	next := Cursor{Height: uint32(top)}
	if len(outs) > limit {
		o := outs[limit]
		next = Cursor{Height: uint32(o.Height - 1), TxPos: o.TxPos, Vout: o.OutPoint.Index}
		outs = outs[:limit]
	}
	out := []*block.SystemTx{systemCall(cfg.Tunnel, block.SourceHash(DomainTunnelCursor, d.View.Hash, d.Number),
		CursorGas, SetDepositCursorCalldata(next))}
	feeRate, _ := ReadFeeRate(st, cfg.Tunnel)
	r := txReader{btc: d.Bitcoin, asOf: d.View.Hash, txs: map[chainhash.Hash]*wire.MsgTx{}}
	for i := 0; i < len(outs); {
		// The outputs of one transaction are consecutive.
		j := i + 1
		for j < len(outs) && outs[j].OutPoint.Hash == outs[i].OutPoint.Hash {
			j++
		}
		txs, err := dd.deriveTx(&r, st, feeRate, outs[i:j])
		if err != nil {
			return nil, err
		}
		out = append(out, txs...)
		i = j
	}
	return out, nil
}

// deriveTx derives the deposits of outs, vault outputs of one transaction.
func (dd *Deposits) deriveTx(r *txReader, st StateReader, feeRate uint64, outs []rules.DepositOutput) ([]*block.SystemTx, error) {
	cfg := &dd.cfg
	txid := outs[0].OutPoint.Hash
	tx, err := r.tx(txid)
	if err != nil {
		return nil, err
	}
	if tx == nil {
		return nil, fmt.Errorf("tunnel: deposit transaction %s of a vault output is not in the view %s", txid, r.asOf)
	}
	rules := DepositRules{MinDepositSat: cfg.MinDepositSat, FeeRate: feeRate}
	// Every input is looked up: one spending a vault output makes the
	// transaction a payout or a recovery, never a deposit; the first
	// one's previous output script is where a refund goes.
	for i, in := range tx.TxIn {
		op := in.PreviousOutPoint
		if op.Index == wire.MaxPrevOutIndex && op.Hash == (chainhash.Hash{}) {
			continue // a coinbase
		}
		prev, err := r.tx(op.Hash)
		if err != nil {
			return nil, err
		}
		if prev == nil || int(op.Index) >= len(prev.TxOut) {
			continue // not in the view's chain: nothing to refund to
		}
		script := prev.TxOut[op.Index].PkScript
		if i == 0 {
			rules.RefundScript = script
		}
		if slices.Equal(script, cfg.VaultScript) {
			rules.SpendsVault = true
			break
		}
	}
	if rules.SpendsVault {
		return nil, nil
	}
	recipient, deps := ParseDeposits(tx, cfg.VaultScript, rules)
	var to common.Address
	if recipient != nil {
		to = *recipient
	}
	var out []*block.SystemTx
	for _, o := range outs {
		i := slices.IndexFunc(deps, func(dep Deposit) bool { return dep.Vout == o.OutPoint.Index })
		if i < 0 {
			return nil, fmt.Errorf("tunnel: output %s pays the vault but the parser did not find it", o.OutPoint)
		}
		dep := deps[i]
		if Processed(st, cfg.Tunnel, DepositKey(o.OutPoint)) {
			continue
		}
		var data []byte
		switch dep.Kind {
		case DepositMint:
			data = MintCalldata(o.OutPoint, to, dep.Amount)
		case DepositRefund:
			data = RefundDepositCalldata(o.OutPoint, to, rules.RefundScript, dep.Amount, uint8(dep.Reason))
		default:
			data = RecordDepositCalldata(o.OutPoint, to, dep.Amount, uint8(dep.Reason))
		}
		out = append(out, systemCall(cfg.Tunnel, block.SourceHash(block.DomainTunnelDeposit, o.OutPoint.Hash, uint64(o.OutPoint.Index)),
			DepositGas, data))
	}
	return out, nil
}

// txReader reads transactions as of one view, each once per derivation.
type txReader struct {
	btc  rules.DepositBitcoin
	asOf chainhash.Hash
	txs  map[chainhash.Hash]*wire.MsgTx // nil: not in the view
}

func (r *txReader) tx(txid chainhash.Hash) (*wire.MsgTx, error) {
	if tx, ok := r.txs[txid]; ok {
		return tx, nil
	}
	tx, found, err := r.btc.ConfirmedTx(txid, r.asOf)
	if err != nil {
		return nil, fmt.Errorf("tunnel: transaction %s as of %s: %w", txid, r.asOf, err)
	}
	if !found {
		tx = nil
	}
	r.txs[txid] = tx
	return tx, nil
}

// systemCall is a system transaction from the system address to tunnel.
func systemCall(tunnel common.Address, source common.Hash, gas uint64, data []byte) *block.SystemTx {
	to := tunnel
	return &block.SystemTx{SourceHash: source, From: genesis.SystemAddress, To: &to, Value: new(big.Int), Gas: gas, Data: data}
}
