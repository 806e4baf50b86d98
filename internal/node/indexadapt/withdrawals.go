package indexadapt

import (
	"errors"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/index"
)

// Withdrawals answers hemi_getWithdrawal's Bitcoin questions
// (rpc.WithdrawalIndex) from the index's best chain.
type Withdrawals struct{ ix *index.Index }

// NewWithdrawals adapts ix.
func NewWithdrawals(ix *index.Index) Withdrawals { return Withdrawals{ix: ix} }

// Spender is the transaction spending op in the best chain.
func (w Withdrawals) Spender(op wire.OutPoint) (chainhash.Hash, int32, bool, error) {
	tip, _ := w.ix.BlockTip()
	sp, err := w.ix.SpendOf(op, tip)
	switch {
	case errors.Is(err, index.ErrNotFound):
		return chainhash.Hash{}, 0, false, nil
	case err != nil:
		return chainhash.Hash{}, 0, false, err
	}
	return sp.Txid, sp.Confirmations, true, nil
}

// Confirmations of txid in the best chain.
func (w Withdrawals) Confirmations(txid chainhash.Hash) (int32, bool, error) {
	tip, _ := w.ix.BlockTip()
	ti, err := w.ix.TxByID(txid, tip)
	switch {
	case errors.Is(err, index.ErrNotFound):
		return 0, false, nil
	case err != nil:
		return 0, false, err
	}
	return ti.Confirmations, true, nil
}
