package sequencer

import (
	"bytes"
	"container/heap"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// Order lays out the candidate user transactions of a block: per sender
// in nonce order (the lists are given so, as the pool's Pending returns
// them), across senders by effective tip at baseFee, highest first —
// the next transaction of every sender competes, like go-ethereum's
// miner ordering. Ties go to the transaction seen first, then to the
// lower sender address, so the order is deterministic. A sender's
// transactions from the first whose fee cap is below baseFee on are left
// out (they cannot be included, nor can their successors). A nil baseFee
// means no base fee. Pure: no I/O, inputs are not modified.
func Order(pending map[common.Address][]*types.Transaction, baseFee *big.Int) []*types.Transaction {
	h := &byTip{}
	n := 0
	for from, txs := range pending {
		if len(txs) == 0 {
			continue
		}
		n += len(txs)
		if it, ok := newItem(from, txs, baseFee); ok {
			h.items = append(h.items, it)
		}
	}
	heap.Init(h)
	out := make([]*types.Transaction, 0, n)
	for h.Len() > 0 {
		it := h.items[0]
		out = append(out, it.txs[0])
		if next, ok := newItem(it.from, it.txs[1:], baseFee); ok {
			h.items[0] = next
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	return out
}

type item struct {
	from common.Address
	txs  []*types.Transaction
	tip  *big.Int
}

// newItem is the head of a sender's list, if it can pay the base fee.
func newItem(from common.Address, txs []*types.Transaction, baseFee *big.Int) (item, bool) {
	if len(txs) == 0 || txs[0] == nil {
		return item{}, false
	}
	tip, err := txs[0].EffectiveGasTip(baseFee)
	if err != nil || tip.Sign() < 0 {
		return item{}, false
	}
	return item{from: from, txs: txs, tip: tip}, true
}

type byTip struct{ items []item }

func (h *byTip) Len() int { return len(h.items) }
func (h *byTip) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if c := a.tip.Cmp(b.tip); c != 0 {
		return c > 0
	}
	if ta, tb := a.txs[0].Time(), b.txs[0].Time(); !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return bytes.Compare(a.from[:], b.from[:]) < 0
}
func (h *byTip) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *byTip) Push(x any)    { h.items = append(h.items, x.(item)) }
func (h *byTip) Pop() any {
	old := h.items
	it := old[len(old)-1]
	h.items = old[:len(old)-1]
	return it
}
