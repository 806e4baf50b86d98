package tunnel

// What the RPC's hemi_getDeposit and hemi_getDeposits answer about a
// deposit (issue 11): confirming n of N, minted in block and transaction,
// refund queued (id), refunded (the withdrawal half's paid status), or
// recorded (reason). DepositStatusOf reads the L2 state of one block (the
// head) and Bitcoin as of that block's view, so what it says agrees with
// what the chain has derived.

import (
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/rules"
)

// DepositState names where a deposit is.
type DepositState string

// Deposit states.
const (
	// StateConfirming: in Bitcoin, fewer than DepositConfirmations in
	// the view (Confirmations says how many).
	StateConfirming DepositState = "confirming"
	// StateConfirmed: it has the confirmations; a coming L2 block
	// derives it (carry-over).
	StateConfirmed DepositState = "confirmed"
	// StateMinted: hBTC minted (L2Block, L2Tx).
	StateMinted DepositState = "minted"
	// StateRefundQueued: queued for refund as RefundID.
	StateRefundQueued DepositState = "refundQueued"
	// StateRefunded: its refund was paid (a payout marked paid).
	StateRefunded DepositState = "refunded"
	// StateRecorded: neither mintable nor refundable (Reason).
	StateRecorded DepositState = "recorded"
	// StateNotDeposit: the vault output belongs to a transaction that
	// spends the vault (a payout's change or a recovery).
	StateNotDeposit DepositState = "notDeposit"
)

// ErrNotVaultOutput: the outpoint does not pay the vault.
var ErrNotVaultOutput = errors.New("tunnel: not an output paying the vault")

// DepositStatus is a deposit as the RPC shows it.
type DepositStatus struct {
	OutPoint  wire.OutPoint
	State     DepositState
	AmountSat uint64
	// Recipient is the L2 address its OP_RETURN names (nil: none).
	Recipient *common.Address
	// BitcoinHeight is its Bitcoin block's height; Confirmations are as
	// of the L2 block's view, of Required.
	BitcoinHeight int32
	Confirmations uint32
	Required      uint32
	// L2Block and L2Tx: the block and system transaction that processed
	// it (minted, refund queued or recorded).
	L2Block uint64
	L2Tx    common.Hash
	// RefundID is its refund's queue id (refund states).
	RefundID uint64
	// Reason is why it was refunded or recorded.
	Reason Reason
}

// DepositChain is what DepositStatusOf reads of the L2 chain: the state
// and the system transactions of canonical blocks.
type DepositChain interface {
	// SystemTxs are the system transactions of canonical block number.
	SystemTxs(number uint64) ([]*block.SystemTx, error)
}

// DepositBitcoinReader is what it reads of Bitcoin, as of a view.
type DepositBitcoinReader interface {
	// TxAt returns transaction txid confirmed as of asOf, with its
	// block's height; found false when it is not there.
	TxAt(txid, asOf chainhash.Hash) (tx *wire.MsgTx, height int32, found bool, err error)
	// OutputsFrom is rules.DepositBitcoin's.
	OutputsFrom(script []byte, height int32, txPos, vout uint32, toHeight int32, max int, asOf chainhash.Hash) ([]rules.DepositOutput, error)
}

// DepositQuery answers deposit status questions for one tunnel.
type DepositQuery struct {
	Tunnel               common.Address
	VaultScript          []byte
	DepositConfirmations uint32
	MinDepositSat        uint64
	Chain                DepositChain
	Bitcoin              DepositBitcoinReader
}

// Address is the tunnel predeploy whose deposits q reports.
func (q *DepositQuery) Address() common.Address { return q.Tunnel }

// StatusOf returns the status of the deposit at op in the state st of an
// L2 block whose Bitcoin view is view at viewHeight. nil, nil: Bitcoin
// has no such transaction as of the view.
func (q *DepositQuery) StatusOf(st StateReader, view chainhash.Hash, viewHeight int32, op wire.OutPoint) (*DepositStatus, error) {
	key := DepositKey(op)
	ds := &DepositStatus{OutPoint: op, Required: q.DepositConfirmations}
	if m, ok := ReadMinted(st, q.Tunnel, key); ok {
		ds.State, ds.AmountSat, ds.L2Block = StateMinted, m.AmountSat, m.L2Block
		to := m.To
		ds.Recipient = &to
		return ds, q.findTx(ds)
	}
	if s, ok := ReadSettled(st, q.Tunnel, key); ok {
		ds.AmountSat, ds.L2Block, ds.Reason = s.AmountSat, s.L2Block, Reason(s.Reason)
		switch s.Kind {
		case SettledRefund:
			ds.State, ds.RefundID = StateRefundQueued, s.RefundID
			if it, ok, err := ReadItem(st, q.Tunnel, s.RefundID); err != nil {
				return nil, err
			} else if ok && it.Status == itemPaid {
				ds.State = StateRefunded
			}
		default:
			ds.State = StateRecorded
		}
		if err := q.findTx(ds); err != nil {
			return nil, err
		}
		// The recipient, if any, is in the Bitcoin transaction.
		if tx, _, found, err := q.Bitcoin.TxAt(op.Hash, view); err == nil && found {
			ds.Recipient, _ = ParseDeposits(tx, q.VaultScript, DepositRules{MinDepositSat: q.MinDepositSat})
		}
		return ds, nil
	}
	tx, height, found, err := q.Bitcoin.TxAt(op.Hash, view)
	if err != nil || !found {
		return nil, err
	}
	if int(op.Index) >= len(tx.TxOut) || string(tx.TxOut[op.Index].PkScript) != string(q.VaultScript) {
		return nil, fmt.Errorf("%w: %v", ErrNotVaultOutput, op)
	}
	ds.AmountSat, ds.BitcoinHeight = uint64(max(tx.TxOut[op.Index].Value, 0)), height
	ds.Confirmations = uint32(max(viewHeight-height+1, 0))
	ds.Recipient, _ = ParseDeposits(tx, q.VaultScript, DepositRules{MinDepositSat: q.MinDepositSat})
	for _, in := range tx.TxIn {
		prev, _, found, err := q.Bitcoin.TxAt(in.PreviousOutPoint.Hash, view)
		if err != nil {
			return nil, err
		}
		if found && int(in.PreviousOutPoint.Index) < len(prev.TxOut) &&
			string(prev.TxOut[in.PreviousOutPoint.Index].PkScript) == string(q.VaultScript) {
			ds.State = StateNotDeposit
			return ds, nil
		}
	}
	ds.State = StateConfirming
	if ds.Confirmations >= q.DepositConfirmations {
		ds.State = StateConfirmed
	}
	return ds, nil
}

// itemPaid is the withdrawal queue's paid status (TunnelWithdrawals'
// STATUS_PAID).
const itemPaid = 3

// findTx finds the system transaction of block ds.L2Block that
// processed ds.OutPoint.
func (q *DepositQuery) findTx(ds *DepositStatus) error {
	stxs, err := q.Chain.SystemTxs(ds.L2Block)
	if err != nil {
		return fmt.Errorf("tunnel: L2 block %d of deposit %v: %w", ds.L2Block, ds.OutPoint, err)
	}
	src := block.SourceHash(block.DomainTunnelDeposit, ds.OutPoint.Hash, uint64(ds.OutPoint.Index))
	for _, stx := range stxs {
		if stx.SourceHash == src {
			ds.L2Tx = stx.Hash()
			return nil
		}
	}
	return fmt.Errorf("tunnel: L2 block %d holds no system transaction of deposit %v", ds.L2Block, ds.OutPoint)
}

// PendingTo returns the deposits naming `to` that st has not processed
// yet: the vault outputs from st's cursor up to the view (Confirming or
// Confirmed), looking at most max outputs.
func (q *DepositQuery) PendingTo(st StateReader, view chainhash.Hash, viewHeight int32, to common.Address, max int) ([]*DepositStatus, error) {
	cur := ReadCursor(st, q.Tunnel)
	outs, err := q.Bitcoin.OutputsFrom(q.VaultScript, int32(cur.Height)+1, cur.TxPos, cur.Vout, viewHeight, max, view)
	if err != nil {
		return nil, err
	}
	var res []*DepositStatus
	for _, o := range outs {
		ds, err := q.StatusOf(st, view, viewHeight, o.OutPoint)
		if err != nil {
			return nil, err
		}
		if ds != nil && ds.Recipient != nil && *ds.Recipient == to && (ds.State == StateConfirming || ds.State == StateConfirmed) {
			res = append(res, ds)
		}
	}
	return res, nil
}
