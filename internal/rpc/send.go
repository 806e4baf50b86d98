package rpc

import (
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
)

// SendRawTransaction is eth_sendRawTransaction: decode, refuse system
// (0x7E) and blob transactions and other chains' transactions with clear
// errors, then hand the transaction to the pool. Pool rejections keep
// go-ethereum's messages ("nonce too low", "replacement transaction
// underpriced", "insufficient funds for gas * price + value", ...).
func (api *ethAPI) SendRawTransaction(ctx context.Context, input hexutil.Bytes) (common.Hash, error) {
	s := api.s
	if len(input) == 0 {
		return common.Hash{}, invalidParams("empty transaction")
	}
	switch input[0] {
	case block.SystemTxType:
		return common.Hash{}, &rpcError{code: codeInvalidParams, msg: ErrSystemTxByUser.Error(), err: ErrSystemTxByUser}
	case types.BlobTxType:
		return common.Hash{}, &rpcError{code: codeInvalidParams, msg: ErrBlobTx.Error(), err: ErrBlobTx}
	}
	tx := new(types.Transaction)
	if err := tx.UnmarshalBinary(input); err != nil {
		return common.Hash{}, &rpcError{code: codeInvalidParams, msg: fmt.Sprintf("invalid transaction encoding: %v", err), err: err}
	}
	if err := genesis.CheckUserTxType(tx.Type()); err != nil {
		return common.Hash{}, &rpcError{code: codeInvalidParams, msg: err.Error(), err: err}
	}
	if tx.Protected() && tx.ChainId().Cmp(s.config.ChainID) != 0 {
		return common.Hash{}, &rpcError{code: codeServer,
			msg: fmt.Sprintf("%v: have %v want %v", ErrWrongChainID, tx.ChainId(), s.config.ChainID), err: ErrWrongChainID}
	}
	if s.pool == nil {
		return common.Hash{}, &rpcError{code: codeServer, msg: ErrNoPool.Error(), err: ErrNoPool}
	}
	errs := s.pool.Add([]*types.Transaction{tx})
	if len(errs) != 1 {
		return common.Hash{}, fmt.Errorf("rpc: pool answered %d results for one transaction", len(errs))
	}
	if err := errs[0]; err != nil {
		s.metrics.txRejected.Inc()
		s.log.Debug("transaction rejected", "hash", tx.Hash(), "err", err)
		return common.Hash{}, txError(err)
	}
	s.metrics.txAccepted.Inc()
	s.log.Debug("transaction accepted", "hash", tx.Hash(), "nonce", tx.Nonce())
	return tx.Hash(), nil
}

// txpoolAPI is the txpool namespace.
type txpoolAPI struct{ s *Server }

// Status is txpool_status.
func (api *txpoolAPI) Status() map[string]hexutil.Uint {
	var p, q int
	if api.s.pool != nil {
		p, q = api.s.pool.Stats()
	}
	return map[string]hexutil.Uint{"pending": hexutil.Uint(p), "queued": hexutil.Uint(q)}
}

// Content is txpool_content: sender -> nonce -> transaction.
func (api *txpoolAPI) Content() map[string]map[string]map[string]*rpcTransaction {
	out := map[string]map[string]map[string]*rpcTransaction{"pending": {}, "queued": {}}
	if api.s.pool == nil {
		return out
	}
	pending, queued := api.s.pool.Content()
	for name, set := range map[string]map[common.Address][]*types.Transaction{"pending": pending, "queued": queued} {
		for addr, txs := range set {
			m := make(map[string]*rpcTransaction, len(txs))
			for _, tx := range txs {
				m[fmt.Sprint(tx.Nonce())] = newRPCTransaction(tx, nil, api.s.config)
			}
			out[name][addr.Hex()] = m
		}
	}
	return out
}

// ContentFrom is txpool_contentFrom.
func (api *txpoolAPI) ContentFrom(addr common.Address) map[string]map[string]*rpcTransaction {
	out := map[string]map[string]*rpcTransaction{"pending": {}, "queued": {}}
	if api.s.pool == nil {
		return out
	}
	pending, queued := api.s.pool.Content()
	for _, tx := range pending[addr] {
		out["pending"][fmt.Sprint(tx.Nonce())] = newRPCTransaction(tx, nil, api.s.config)
	}
	for _, tx := range queued[addr] {
		out["queued"][fmt.Sprint(tx.Nonce())] = newRPCTransaction(tx, nil, api.s.config)
	}
	return out
}
