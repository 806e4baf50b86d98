package rpc

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// Deposits is what hemi_getDeposit and hemi_getDeposits ask of the tunnel
// (*tunnel.DepositQuery implements it, over the chain's system
// transactions and the Bitcoin index; the node installs it when the
// genesis has a tunnel). Optional: nil answers ErrNoTunnel.
//
// Concurrency: called from many request goroutines at once; it only
// reads the state and the index it is handed.
type Deposits interface {
	// Address is the tunnel predeploy (its events are searched).
	Address() common.Address
	// StatusOf is a deposit's status in state st of a block whose view
	// is (view, viewHeight); nil, nil when Bitcoin does not have it.
	StatusOf(st tunnel.StateReader, view chainhash.Hash, viewHeight int32, op wire.OutPoint) (*tunnel.DepositStatus, error)
	// PendingTo lists the deposits to `to` not derived yet in st.
	PendingTo(st tunnel.StateReader, view chainhash.Hash, viewHeight int32, to common.Address, max int) ([]*tunnel.DepositStatus, error)
}

var _ Deposits = (*tunnel.DepositQuery)(nil)

// maxPendingScan bounds the vault outputs hemi_getDeposits looks at above
// the deposit cursor.
const maxPendingScan = 1000

// rpcDeposit is a deposit's JSON (tunnel.DepositJSON).
type rpcDeposit = tunnel.DepositJSON

func marshalDeposit(ds *tunnel.DepositStatus) *rpcDeposit {
	u := func(v uint64) *hexutil.Uint64 { x := hexutil.Uint64(v); return &x }
	out := &rpcDeposit{
		Outpoint:      ds.OutPoint.String(),
		State:         string(ds.State),
		AmountSat:     hexutil.Uint64(ds.AmountSat),
		Recipient:     ds.Recipient,
		Confirmations: hexutil.Uint64(ds.Confirmations),
		Required:      hexutil.Uint64(ds.Required),
	}
	if ds.BitcoinHeight > 0 {
		out.BitcoinHeight = u(uint64(ds.BitcoinHeight))
	}
	if ds.L2Block != 0 {
		out.BlockNumber = u(ds.L2Block)
		h := ds.L2Tx
		out.TxHash = &h
	}
	switch ds.State {
	case tunnel.StateRefundQueued, tunnel.StateRefunded:
		out.RefundID = u(ds.RefundID)
	}
	if ds.Reason != tunnel.ReasonNone {
		r := ds.Reason.String()
		out.Reason, out.ReasonCode = &r, u(uint64(ds.Reason))
	}
	return out
}

// parseOutpoint reads "txid:vout" (txid in display order).
func parseOutpoint(s string) (wire.OutPoint, error) {
	txid, vout, ok := strings.Cut(s, ":")
	if !ok {
		return wire.OutPoint{}, invalidParams("outpoint %q: want \"txid:vout\"", s)
	}
	h, err := chainhash.NewHashFromStr(txid)
	if err != nil || len(txid) != 2*chainhash.HashSize {
		return wire.OutPoint{}, invalidParams("outpoint %q: txid must be 64 hex digits", s)
	}
	n, err := strconv.ParseUint(vout, 10, 32)
	if err != nil {
		return wire.OutPoint{}, invalidParams("outpoint %q: vout must be a decimal uint32", s)
	}
	return wire.OutPoint{Hash: *h, Index: uint32(n)}, nil
}

// depositHead is the head's state and Bitcoin view.
func (s *Server) depositHead() (tunnel.StateReader, chainhash.Hash, int32, error) {
	head := s.chain.Head()
	ex, err := block.HeaderExtra(head)
	if err != nil {
		return nil, chainhash.Hash{}, 0, err
	}
	st, err := s.chain.StateAt(head.Root)
	if err != nil {
		return nil, chainhash.Hash{}, 0, err
	}
	return st, ex.BitcoinHash, int32(ex.BitcoinHeight), nil
}

// GetDeposit is hemi_getDeposit("txid:vout"): the deposit's state as of
// the head (confirming n of N in the head's Bitcoin view, confirmed and
// waiting for its block, minted in block and transaction, refund queued
// with its id, refunded, recorded with its reason, or notDeposit for a
// vault output of a vault spend). null when the head's Bitcoin view has
// no such transaction; an error for an output not paying the vault.
func (api *hemiAPI) GetDeposit(outpoint string) (*rpcDeposit, error) {
	d := api.s.cfg.Deposits
	if d == nil {
		return nil, ErrNoTunnel
	}
	op, err := parseOutpoint(outpoint)
	if err != nil {
		return nil, err
	}
	st, view, height, err := api.s.depositHead()
	if err != nil {
		return nil, err
	}
	ds, err := d.StatusOf(st, view, height, op)
	if errors.Is(err, tunnel.ErrNotVaultOutput) {
		return nil, invalidParams("%v", err)
	}
	if err != nil || ds == nil {
		return nil, err
	}
	return marshalDeposit(ds), nil
}

// GetDeposits is hemi_getDeposits(l2 address): every deposit naming the
// address, processed ones from the tunnel's events (minted, refund
// queued, recorded; each with its state now) in block order, then the
// ones not derived yet (confirming, confirmed). The events are searched
// over the whole canonical chain through the blocks' blooms.
func (api *hemiAPI) GetDeposits(ctx context.Context, addr common.Address) ([]*rpcDeposit, error) {
	s := api.s
	d := s.cfg.Deposits
	if d == nil {
		return nil, ErrNoTunnel
	}
	st, view, height, err := s.depositHead()
	if err != nil {
		return nil, err
	}
	crit := &filterCriteria{
		Addresses: []common.Address{d.Address()},
		Topics: [][]common.Hash{
			{tunnel.TopicDepositMinted, tunnel.TopicDepositRefundQueued, tunnel.TopicDepositRecorded},
			nil,
			{common.BytesToHash(addr.Bytes())},
		},
	}
	logs, err := s.logsInRange(ctx, crit, 0, s.chain.Head().Number.Uint64())
	if err != nil {
		return nil, err
	}
	out := []*rpcDeposit{}
	for _, l := range logs {
		ev, ok, err := tunnel.ParseDepositEvent(l)
		if err != nil || !ok {
			continue
		}
		op := ev.Outpoint
		if ev.Kind == tunnel.EventRefundQueued {
			it, found, err := tunnel.ReadItem(st, d.Address(), ev.RefundID)
			if err != nil {
				return nil, err
			}
			if !found {
				return nil, fmt.Errorf("refund %d of an event is not in the queue", ev.RefundID)
			}
			op = wire.OutPoint{Hash: chainhash.Hash(it.DepositTxid), Index: it.DepositVout}
		}
		ds, err := d.StatusOf(st, view, height, op)
		if err != nil {
			return nil, err
		}
		if ds != nil {
			out = append(out, marshalDeposit(ds))
		}
	}
	pend, err := d.PendingTo(st, view, height, addr, maxPendingScan)
	if err != nil {
		return nil, err
	}
	for _, ds := range pend {
		out = append(out, marshalDeposit(ds))
	}
	return out, nil
}
