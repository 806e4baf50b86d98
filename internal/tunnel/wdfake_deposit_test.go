package tunnel

import (
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/chain/rules"
)

// The withdrawal tests' fakeBitcoin as a rules.DepositBitcoin: its vault
// outputs (each alone in its block's first transaction), no transactions
// to read, and blocks without fee statistics.

func (f *fakeBitcoin) OutputsFrom(_ []byte, height int32, txPos, vout uint32, toHeight int32, max int, _ chainhash.Hash) ([]rules.DepositOutput, error) {
	var out []rules.DepositOutput
	for _, o := range f.outs {
		after := o.Height > height || (o.Height == height && (txPos == 0 && o.OutPoint.Index >= vout))
		if after && o.Height <= toHeight && len(out) < max {
			out = append(out, rules.DepositOutput{OutPoint: o.OutPoint, Value: o.Value, Height: o.Height, Spent: o.Spent})
		}
	}
	return out, nil
}

func (f *fakeBitcoin) ConfirmedTx(chainhash.Hash, chainhash.Hash) (*wire.MsgTx, bool, error) {
	return nil, false, nil
}

func (f *fakeBitcoin) BlockFeeRates(chainhash.Hash, int) ([]int64, error) { return nil, nil }
