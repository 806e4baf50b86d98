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
// underpriced", "insufficient funds for gas * price + value", ...). An
// HTTP batch made only of eth_sendRawTransaction calls does not come
// here: sendBatch admits it in one pool call (sendbatch.go), with the
// same checks and answers. With Config.Forward (a follower) the
// transaction goes on to the sequencer (forward.go); with Config.Relay (a
// group member) to the group's leader while another member leads
// (relay.go).
func (api *ethAPI) SendRawTransaction(ctx context.Context, input hexutil.Bytes) (common.Hash, error) {
	s := api.s
	tx, err := s.decodeRawTx(input)
	if err != nil {
		return common.Hash{}, err
	}
	if s.forwardsNow() {
		if by, ok := forwardedBy(ctx); ok {
			// A group member forwarded it here believing this node leads:
			// never forwarded again (no loops); the member sends it to the
			// leader it learns next.
			s.metrics.txRejected.Inc()
			s.log.Debug("forwarded transaction refused: this node does not lead", "hash", tx.Hash(), "from", by)
			return common.Hash{}, &rpcError{code: codeServer, msg: ErrForwardedNotLeader.Error(), err: ErrForwardedNotLeader}
		}
		var err error
		if s.cfg.Relay != nil {
			err = s.sendRelayed(ctx, input, tx)
		} else {
			err = s.sendForwarded(ctx, input, tx)
		}
		if err != nil {
			return common.Hash{}, err
		}
		return tx.Hash(), nil
	}
	if s.pool == nil {
		return common.Hash{}, &rpcError{code: codeServer, msg: ErrNoPool.Error(), err: ErrNoPool}
	}
	if err := s.addTxs([]*types.Transaction{tx})[0]; err != nil {
		return common.Hash{}, err
	}
	return tx.Hash(), nil
}

// decodeRawTx decodes an eth_sendRawTransaction input and refuses what
// the pool must never see: system (0x7E) and blob transactions, types
// Hemi does not accept, other chains' transactions. Errors are the
// JSON-RPC errors the caller answers.
func (s *Server) decodeRawTx(input []byte) (*types.Transaction, error) {
	if len(input) == 0 {
		return nil, invalidParams("empty transaction")
	}
	switch input[0] {
	case block.SystemTxType:
		return nil, &rpcError{code: codeInvalidParams, msg: ErrSystemTxByUser.Error(), err: ErrSystemTxByUser}
	case types.BlobTxType:
		return nil, &rpcError{code: codeInvalidParams, msg: ErrBlobTx.Error(), err: ErrBlobTx}
	}
	tx := new(types.Transaction)
	if err := tx.UnmarshalBinary(input); err != nil {
		return nil, &rpcError{code: codeInvalidParams, msg: fmt.Sprintf("invalid transaction encoding: %v", err), err: err}
	}
	if err := genesis.CheckUserTxType(tx.Type()); err != nil {
		return nil, &rpcError{code: codeInvalidParams, msg: err.Error(), err: err}
	}
	if tx.Protected() && tx.ChainId().Cmp(s.config.ChainID) != 0 {
		return nil, &rpcError{code: codeServer,
			msg: fmt.Sprintf("%v: have %v want %v", ErrWrongChainID, tx.ChainId(), s.config.ChainID), err: ErrWrongChainID}
	}
	return tx, nil
}

// addTxs hands txs to the pool in one call and returns one JSON-RPC
// error per transaction (nil: accepted), counting and logging each.
func (s *Server) addTxs(txs []*types.Transaction) []error {
	errs := s.pool.Add(txs)
	if len(errs) != len(txs) {
		err := fmt.Errorf("rpc: pool answered %d results for %d transactions", len(errs), len(txs))
		errs = make([]error, len(txs))
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	for i, err := range errs {
		tx := txs[i]
		if err != nil {
			s.metrics.txRejected.Inc()
			s.log.Debug("transaction rejected", "hash", tx.Hash(), "err", err)
			errs[i] = txError(err)
			continue
		}
		s.metrics.txAccepted.Inc()
		s.log.Debug("transaction accepted", "hash", tx.Hash(), "nonce", tx.Nonce())
	}
	return errs
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
