package rpc

import (
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// ErrNoTunnel: the chain has no tunnel (or the node did not attach it).
var ErrNoTunnel = errors.New("this chain has no BTC tunnel (no tunnel section in its genesis)")

// WithdrawalIndex is what hemi_getWithdrawal asks of the Bitcoin index,
// in its best chain (indexadapt.Withdrawals implements it).
//
// Concurrency: called from many request goroutines at once.
type WithdrawalIndex interface {
	// Spender is the transaction spending op in the best chain and its
	// confirmations; found false while op is unspent there.
	Spender(op wire.OutPoint) (txid chainhash.Hash, confirmations int32, found bool, err error)
	// Confirmations of txid in the best chain; found false when it is not
	// in it.
	Confirmations(txid chainhash.Hash) (confirmations int32, found bool, err error)
}

// Withdrawals attaches the tunnel's withdrawal side to the server
// (hemi_getWithdrawal): the genesis tunnel, its vault (for the payout
// txid), the Bitcoin network (for addresses) and the index.
type Withdrawals struct {
	Tunnel *genesis.TunnelConfig
	Vault  tunnel.VaultScripts
	Net    *chaincfg.Params
	Index  WithdrawalIndex
}

// rpcWithdrawal is hemi_getWithdrawal's answer (tunnel.WithdrawalJSON).
type rpcWithdrawal = tunnel.WithdrawalJSON

type rpcBatchState = tunnel.BatchJSON

// GetWithdrawal is hemi_getWithdrawal(id): a withdrawal's (or a queued
// refund's, same id space) state as of the head. Unknown id: null.
func (api *hemiAPI) GetWithdrawal(id hexutil.Uint64) (*rpcWithdrawal, error) {
	s := api.s
	wd := s.cfg.Withdrawals
	if wd == nil || wd.Tunnel == nil {
		return nil, ErrNoTunnel
	}
	head := s.chain.Head()
	st, err := s.chain.StateAt(head.Root)
	if err != nil {
		return nil, err
	}
	ws, ok, err := tunnel.ReadWithdrawal(st, wd.Tunnel.TunnelAddress, wd.Vault, uint64(id))
	if err != nil {
		return nil, fmt.Errorf("withdrawal %d: %w", id, err)
	}
	if !ok {
		return nil, nil
	}
	it := &ws.Item
	out := &rpcWithdrawal{ID: id, Kind: "withdrawal", Script: it.Script, AmountSat: hexutil.Uint64(it.AmountSat),
		MaxFeeSat: hexutil.Uint64(it.MaxFeeSat), L2Block: hexutil.Uint64(it.L2Block), Paid: ws.Paid}
	if wd.Net != nil {
		if _, addrs, _, err := txscript.ExtractPkScriptAddrs(it.Script, wd.Net); err == nil && len(addrs) == 1 {
			out.Address = addrs[0].EncodeAddress()
		}
	}
	if it.Kind == tunnel.KindRefund {
		out.Kind = "refund"
		out.DepositTxid = chainhash.Hash(it.DepositTxid).String()
		v := hexutil.Uint64(it.DepositVout)
		out.DepositVout = &v
	} else {
		from := common.Address(it.From)
		out.From, out.Burned = &from, true
		if s.cfg.Finality != nil {
			if f, err := s.cfg.Finality.Finality(it.L2Block); err == nil {
				sf := f.Superfinal
				out.Superfinal = &sf
			}
		}
	}
	var confirmed chainhash.Hash
	switch {
	case ws.Paid:
		out.Status, out.PayoutTxid, confirmed = "paid", ws.PaidTxid.String(), ws.PaidTxid
	case ws.InOpenBatch:
		b := ws.Batch
		out.Status, out.PayoutTxid = "in batch", ws.PayoutTxid.String()
		out.Batch = &rpcBatchState{Number: hexutil.Uint64(b.Number), Attempt: hexutil.Uint64(b.Attempt),
			FeeRate: hexutil.Uint64(b.FeeRate), ValueSat: hexutil.Uint64(ws.Value),
			Signatures: hexutil.Uint64(ws.Posted), K: hexutil.Uint64(ws.K)}
		// Any attempt may be the one Bitcoin confirmed: the spend of the
		// first input says which.
		if wd.Index != nil && len(b.Inputs) > 0 {
			txid, conf, found, err := wd.Index.Spender(b.Inputs[0].OutPoint)
			if err != nil {
				return nil, err
			}
			if found {
				out.Status, out.PayoutTxid = "confirmed", txid.String()
				out.Confirmations = hexutil.Uint64(max(conf, 0))
			}
		}
	default:
		out.Status = "queued"
	}
	if confirmed != (chainhash.Hash{}) && wd.Index != nil {
		conf, found, err := wd.Index.Confirmations(confirmed)
		if err != nil {
			return nil, err
		}
		if found {
			out.Confirmations = hexutil.Uint64(max(conf, 0))
		}
	}
	return out, nil
}
