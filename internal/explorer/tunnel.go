package explorer

// Deposits and withdrawals (DESIGN 6, 10): lists, newest first, and
// detail pages whose states are exactly what hemi_getDeposit and
// hemi_getWithdrawal answer (the pages call them in process), linked to
// both sides: the Bitcoin transaction, the L2 block and system
// transaction that minted or queued, the refund's queue item, the
// payout.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/tunnel"
)

const (
	// tunnelPageSize is the deposits or withdrawals of a list page.
	tunnelPageSize = 25
	// logWindow is the L2 blocks one eth_getLogs call of a list covers
	// (under the public RPC's block range), and logWindows how many one
	// page may scan back: a page costs at most logWindows bloom scans.
	logWindow  = 5_000
	logWindows = 4
	// pendingScan bounds the vault outputs the deposits page looks at
	// for deposits still confirming.
	pendingScan = 100
)

// depositRow is hemi_getDeposit's answer (tunnel.DepositJSON) with
// what the pages add.
type depositRow struct {
	tunnel.DepositJSON
	// Txid and Vout split Outpoint; Amount is AmountSat in BTC.
	Txid   string `json:"-"`
	Vout   string `json:"-"`
	Amount string `json:"-"`
}

// Status is the state in words, as the list and the detail show it.
func (d *depositRow) Status() string {
	switch d.State {
	case string(tunnel.StateConfirming):
		return fmt.Sprintf("confirming %d of %d", d.Confirmations, d.Required)
	case string(tunnel.StateConfirmed):
		return fmt.Sprintf("confirmed (%d of %d), minted in a coming block", d.Confirmations, d.Required)
	case string(tunnel.StateMinted):
		return "minted"
	case string(tunnel.StateRefundQueued):
		return "refund queued"
	case string(tunnel.StateRefunded):
		return "refunded"
	case string(tunnel.StateRecorded):
		return "recorded, not refundable"
	case string(tunnel.StateNotDeposit):
		return "not a deposit (vault change)"
	}
	return d.State
}

func (d *depositRow) fill() {
	d.Txid, d.Vout, _ = strings.Cut(d.Outpoint, ":")
	d.Amount = btcAmount(int64(d.AmountSat))
}

// errNoCaller: the pages that show what the RPC answers need it in process.
var errNoCaller = errors.New("this node serves no in-process JSON-RPC")

// rpcCall calls the node's own JSON-RPC under a short timeout.
func (e *Explorer) rpcCall(ctx context.Context, result any, method string, args ...any) error {
	if e.cfg.Caller == nil {
		return errNoCaller
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return e.cfg.Caller.CallContext(ctx, result, method, args...)
}

// depositState is hemi_getDeposit(op); nil when the head's Bitcoin view
// does not have the transaction yet.
func (e *Explorer) depositState(ctx context.Context, op wire.OutPoint) (*depositRow, error) {
	var d *depositRow
	if err := e.rpcCall(ctx, &d, "hemi_getDeposit", op.String()); err != nil {
		return nil, err
	}
	if d != nil {
		d.fill()
	}
	return d, nil
}

// parseOutpoint reads "txid:vout" (txid in display order).
func parseOutpoint(s string) (wire.OutPoint, bool) {
	txid, vout, ok := strings.Cut(s, ":")
	if !ok {
		return wire.OutPoint{}, false
	}
	h, ok := btcHashParam(txid)
	if !ok {
		return wire.OutPoint{}, false
	}
	n, err := strconv.ParseUint(vout, 10, 32)
	if err != nil {
		return wire.OutPoint{}, false
	}
	return wire.OutPoint{Hash: h, Index: uint32(n)}, true
}

type depositData struct {
	D *depositRow
	// RefundStatus is the refund's hemi_getWithdrawal status.
	RefundStatus string
}

// deposit is /deposit/{txid:vout}.
func (e *Explorer) deposit(w http.ResponseWriter, r *http.Request) {
	if e.tunnelAddr == nil {
		e.notFound(w, r, "This network has no tunnel, so it has no deposits.")
		return
	}
	op, ok := parseOutpoint(r.PathValue("outpoint"))
	if !ok {
		e.notFound(w, r, fmt.Sprintf("%q is not a deposit outpoint (txid:vout, the txid in 64 hex digits).", r.PathValue("outpoint")))
		return
	}
	d, err := e.depositState(r.Context(), op)
	if err != nil {
		// An output that does not pay the vault is bad input (the RPC's
		// invalid params), not a failure of the node.
		var ec interface{ ErrorCode() int }
		if errors.As(err, &ec) && ec.ErrorCode() == -32602 {
			e.notFound(w, r, fmt.Sprintf("%s does not pay the tunnel vault: it is not a deposit.", op))
			return
		}
		e.fail(w, r, err)
		return
	}
	if d == nil {
		e.notFound(w, r, fmt.Sprintf("No deposit %s: the Bitcoin view of the head has no such transaction (not confirmed yet, or unknown).", op))
		return
	}
	data := depositData{D: d}
	if d.RefundID != nil {
		if wd, err := e.withdrawal(r.Context(), uint64(*d.RefundID)); err == nil && wd != nil {
			data.RefundStatus = wd.Status
		}
	}
	e.render(w, r, http.StatusOK, "deposit", "Deposit "+op.String(), data)
}

type depositsData struct {
	Pending   []*depositRow
	Processed []*depositRow
	Before    uint64
	Older     uint64
	More      bool
	Err       string
}

// deposits is /deposits?before=N: the deposits still confirming (first
// page), then the processed ones (minted, refund queued, recorded) from
// the tunnel's events, newest first, scanning at most logWindows windows
// of blocks below N per page.
func (e *Explorer) deposits(w http.ResponseWriter, r *http.Request) {
	if e.tunnelAddr == nil {
		e.render(w, r, http.StatusOK, "deposits", "Deposits", nil)
		return
	}
	ctx := r.Context()
	head := e.cfg.Chain.Head().Number.Uint64()
	before, err := strconv.ParseUint(r.URL.Query().Get("before"), 10, 64)
	if err != nil || before == 0 || before > head+1 {
		before = head + 1
	}
	d := &depositsData{Before: before}
	if before == head+1 {
		pend, err := e.pendingDeposits(ctx)
		if err != nil {
			d.Err = err.Error()
		}
		d.Pending = pend
	}
	logs, next, more, err := e.logsBack(ctx, *e.tunnelAddr, [][]common.Hash{{tunnel.TopicDepositMinted, tunnel.TopicDepositRecorded, tunnel.TopicRefundQueued}}, before, tunnelPageSize)
	if err != nil {
		e.fail(w, r, err)
		return
	}
	for _, l := range logs {
		op, ok := depositOutpoint(l)
		if !ok {
			continue
		}
		dep, err := e.depositState(ctx, op)
		if err != nil {
			e.fail(w, r, err)
			return
		}
		if dep != nil {
			d.Processed = append(d.Processed, dep)
		}
	}
	d.Older, d.More = next, more
	e.render(w, r, http.StatusOK, "deposits", "Deposits", d)
}

// depositOutpoint is the deposit a tunnel log is about: DepositMinted
// and DepositRecorded carry it, a refund's RefundQueued too (the
// DepositRefundQueued beside it has only the key). ok false for any
// other log.
func depositOutpoint(l *types.Log) (wire.OutPoint, bool) {
	if ev, ok, err := tunnel.ParseDepositEvent(l); ok {
		if err != nil || ev.Kind == tunnel.EventRefundQueued {
			return wire.OutPoint{}, false
		}
		return ev.Outpoint, true
	}
	if len(l.Topics) == 0 || l.Topics[0] != tunnel.TopicRefundQueued {
		return wire.OutPoint{}, false
	}
	vals, err := tunnel.TunnelABI.Events["RefundQueued"].Inputs.NonIndexed().Unpack(l.Data)
	if err != nil || len(vals) < 2 {
		return wire.OutPoint{}, false
	}
	txid, ok1 := vals[0].([32]byte)
	vout, ok2 := vals[1].(uint32)
	if !ok1 || !ok2 || txid == ([32]byte{}) {
		return wire.OutPoint{}, false
	}
	return wire.OutPoint{Hash: chainhash.Hash(txid), Index: vout}, true
}

// pendingDeposits are the vault outputs of the recent Bitcoin blocks
// (the confirmations a deposit waits for, and a margin for the view's
// lag) whose deposits are still confirming or confirmed, newest first.
func (e *Explorer) pendingDeposits(ctx context.Context) ([]*depositRow, error) {
	btc := e.cfg.Bitcoin
	if btc == nil || e.vaultScript == nil {
		return nil, nil
	}
	_, tip := btc.BlockTip()
	from := max(tip-int32(e.cfg.Tunnel.DepositConfirmations)-12, 0)
	outs, err := btc.Outputs(e.vaultScript, from, pendingScan, chainhash.Hash{})
	if err != nil {
		return nil, err
	}
	var res []*depositRow
	for i := len(outs) - 1; i >= 0; i-- {
		d, err := e.depositState(ctx, outs[i].Outpoint)
		if err != nil {
			var ec interface{ ErrorCode() int }
			if errors.As(err, &ec) {
				continue // not a deposit as of the head's view
			}
			return res, err
		}
		if d != nil && (d.State == string(tunnel.StateConfirming) || d.State == string(tunnel.StateConfirmed)) {
			res = append(res, d)
		}
	}
	return res, nil
}

// logsBack returns up to want logs of addr matching topics in blocks
// below `before`, newest first, scanning at most logWindows windows of
// logWindow blocks; next is the block below which the following page
// starts and more whether blocks remain below it.
func (e *Explorer) logsBack(ctx context.Context, addr common.Address, topics [][]common.Hash, before uint64, want int) (logs []*types.Log, next uint64, more bool, err error) {
	to := before
	for range logWindows {
		if to == 0 || len(logs) >= want {
			break
		}
		from := to - min(to, logWindow)
		var got []*types.Log
		if err := e.rpcCall(ctx, &got, "eth_getLogs", map[string]any{"address": addr, "topics": topics,
			"fromBlock": hexutil.EncodeUint64(from), "toBlock": hexutil.EncodeUint64(to - 1)}); err != nil {
			return nil, 0, false, err
		}
		slices.Reverse(got)
		for i, l := range got {
			if len(logs) == want {
				// Stop at a block boundary: the next page starts with the
				// block whose logs did not fit.
				to = l.BlockNumber + 1
				kept := len(logs)
				for kept > 0 && logs[kept-1].BlockNumber == l.BlockNumber {
					kept--
				}
				if kept == 0 { // one block holds more than a page: show it whole
					for _, m := range got[i:] {
						if m.BlockNumber == l.BlockNumber {
							logs = append(logs, m)
						}
					}
					return logs, l.BlockNumber, l.BlockNumber > 0, nil
				}
				return logs[:kept], to, to > 0, nil
			}
			logs = append(logs, l)
		}
		to = from
	}
	return logs, to, to > 0, nil
}

// rpcWithdrawal is hemi_getWithdrawal's answer (tunnel.WithdrawalJSON) with
// what the pages add.
type rpcWithdrawal struct {
	tunnel.WithdrawalJSON
	// Amount and MaxFee in BTC; Paying is what the batch pays (BTC);
	// SF says Superfinal in words ("" for a refund).
	Amount, MaxFee, Paying, SF string `json:"-"`
	// Required is the payout's confirmations for the paid marker.
	Required uint32 `json:"-"`
	// TxHash is the L2 transaction that queued it (the withdraw call,
	// or the refund's deposit system transaction).
	TxHash *common.Hash `json:"-"`
}

// withdrawal is hemi_getWithdrawal(id); nil for an unknown id.
func (e *Explorer) withdrawal(ctx context.Context, id uint64) (*rpcWithdrawal, error) {
	var wd *rpcWithdrawal
	if err := e.rpcCall(ctx, &wd, "hemi_getWithdrawal", hexutil.Uint64(id)); err != nil {
		return nil, err
	}
	if wd != nil {
		wd.Amount, wd.MaxFee = btcAmount(int64(wd.AmountSat)), btcAmount(int64(wd.MaxFeeSat))
		if wd.Batch != nil {
			wd.Paying = btcAmount(int64(wd.Batch.ValueSat))
		}
		if wd.Superfinal != nil {
			wd.SF = map[bool]string{true: "yes", false: "not yet"}[*wd.Superfinal]
		}
		if e.cfg.Tunnel != nil {
			wd.Required = e.cfg.Tunnel.WithdrawalConfirmations
		}
	}
	return wd, nil
}

// withdrawalPage is /withdrawal/{id}.
func (e *Explorer) withdrawalPage(w http.ResponseWriter, r *http.Request) {
	if e.tunnelAddr == nil {
		e.notFound(w, r, "This network has no tunnel, so it has no withdrawals.")
		return
	}
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		e.notFound(w, r, fmt.Sprintf("%q is not a withdrawal id (a decimal number).", r.PathValue("id")))
		return
	}
	wd, err := e.withdrawal(r.Context(), id)
	if err != nil {
		e.fail(w, r, err)
		return
	}
	if wd == nil {
		e.notFound(w, r, fmt.Sprintf("No withdrawal or refund %d in the tunnel's queue.", id))
		return
	}
	wd.TxHash = e.queuedBy(r.Context(), wd)
	e.render(w, r, http.StatusOK, "withdrawal", fmt.Sprintf("Withdrawal %d", id), wd)
}

// queuedBy finds the L2 transaction of block wd.L2Block that queued wd:
// its WithdrawalQueued or RefundQueued event (nil if not found).
func (e *Explorer) queuedBy(ctx context.Context, wd *rpcWithdrawal) *common.Hash {
	topic := tunnel.WithdrawalsABI.Events["WithdrawalQueued"].ID
	if wd.Kind == "refund" {
		topic = tunnel.TopicRefundQueued
	}
	var id common.Hash
	binary.BigEndian.PutUint64(id[24:], uint64(wd.ID))
	var logs []*types.Log
	n := hexutil.EncodeUint64(uint64(wd.L2Block))
	if err := e.rpcCall(ctx, &logs, "eth_getLogs", map[string]any{"address": *e.tunnelAddr,
		"topics": [][]common.Hash{{topic}, {id}}, "fromBlock": n, "toBlock": n}); err != nil || len(logs) == 0 {
		return nil
	}
	h := logs[0].TxHash
	return &h
}

type withdrawalsData struct {
	Rows        []*rpcWithdrawal
	Total       uint64
	Page, Pages int
}

// withdrawals is /withdrawals?page=N: the tunnel's queue (withdrawals
// and refunds share its ids), newest first, each as hemi_getWithdrawal
// answers.
func (e *Explorer) withdrawals(w http.ResponseWriter, r *http.Request) {
	if e.tunnelAddr == nil {
		e.render(w, r, http.StatusOK, "withdrawals", "Withdrawals", nil)
		return
	}
	st, err := e.cfg.Chain.StateAt(e.cfg.Chain.Head().Root)
	if err != nil {
		e.fail(w, r, err)
		return
	}
	total := tunnel.ReadQueueHead(st, *e.tunnelAddr).NextID
	d := &withdrawalsData{Total: total, Pages: max(1, int((total+tunnelPageSize-1)/tunnelPageSize))}
	d.Page = pageParam(r, d.Pages)
	skip := uint64(d.Page-1) * tunnelPageSize
	for i := uint64(0); i < tunnelPageSize && skip+i < total; i++ {
		wd, err := e.withdrawal(r.Context(), total-1-skip-i)
		if err != nil {
			e.fail(w, r, err)
			return
		}
		if wd != nil {
			d.Rows = append(d.Rows, wd)
		}
	}
	e.render(w, r, http.StatusOK, "withdrawals", "Withdrawals", d)
}
