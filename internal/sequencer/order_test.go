package sequencer

import (
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
)

func TestOrder(t *testing.T) {
	// tx builds an unsigned EIP-1559 tx (Order never looks at senders'
	// signatures: the map keys are the senders); name is "<sender><nonce>".
	type spec struct {
		from    byte
		nonce   uint64
		tip     int64 // gwei
		feeCap  int64 // gwei
		seenSec int64
	}
	mk := func(s spec) *types.Transaction {
		tx := types.NewTx(&types.DynamicFeeTx{Nonce: s.nonce, GasTipCap: big.NewInt(s.tip * params.GWei),
			GasFeeCap: big.NewInt(s.feeCap * params.GWei), Gas: params.TxGas})
		tx.SetTime(time.Unix(s.seenSec, 0))
		return tx
	}
	type want struct {
		from  byte
		nonce uint64
	}
	tests := []struct {
		name    string
		txs     []spec
		baseFee int64 // gwei
		want    []want
	}{
		{name: "empty"},
		{name: "highest tip first",
			txs:  []spec{{1, 0, 1, 100, 0}, {2, 0, 5, 100, 0}, {3, 0, 3, 100, 0}},
			want: []want{{2, 0}, {3, 0}, {1, 0}}},
		{name: "nonce order per sender beats tip",
			// sender 1's nonce 1 pays more than its nonce 0: still after it.
			txs:  []spec{{1, 0, 1, 100, 0}, {1, 1, 9, 100, 0}, {2, 0, 5, 100, 0}},
			want: []want{{2, 0}, {1, 0}, {1, 1}}},
		{name: "interleaved senders",
			txs:  []spec{{1, 0, 5, 100, 0}, {1, 1, 2, 100, 0}, {2, 0, 4, 100, 0}, {2, 1, 3, 100, 0}},
			want: []want{{1, 0}, {2, 0}, {2, 1}, {1, 1}}},
		{name: "effective tip is capped by fee cap minus base fee",
			// tip 10 but cap 12 at base fee 10: effective 2 < 3.
			txs: []spec{{1, 0, 10, 12, 0}, {2, 0, 3, 100, 0}}, baseFee: 10,
			want: []want{{2, 0}, {1, 0}}},
		{name: "fee cap below base fee drops the sender's rest",
			txs: []spec{{1, 0, 1, 5, 0}, {1, 1, 1, 100, 0}, {2, 0, 1, 100, 0}}, baseFee: 10,
			want: []want{{2, 0}}},
		{name: "ties: first seen, then lower sender",
			txs:  []spec{{3, 0, 2, 100, 5}, {2, 0, 2, 100, 1}, {1, 0, 2, 100, 5}},
			want: []want{{2, 0}, {1, 0}, {3, 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pending := map[common.Address][]*types.Transaction{}
			for _, s := range tc.txs {
				a := common.Address{s.from}
				pending[a] = append(pending[a], mk(s))
			}
			who := map[*types.Transaction]want{}
			for a, txs := range pending {
				for _, tx := range txs {
					who[tx] = want{a[0], tx.Nonce()}
				}
			}
			got := Order(pending, big.NewInt(tc.baseFee*params.GWei))
			if len(got) != len(tc.want) {
				t.Fatalf("%d txs, want %d", len(got), len(tc.want))
			}
			for i, tx := range got {
				if w := who[tx]; w != tc.want[i] {
					t.Fatalf("position %d: sender %d nonce %d, want %+v", i, w.from, w.nonce, tc.want[i])
				}
			}
		})
	}
}
