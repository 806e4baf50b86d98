package chain

import (
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/chain/rules"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/pop"
)

// Deriver and Derivation are the system-transaction derivation seam
// (rules.Deriver, DESIGN 3.3): the chain runs Config.Derivers in order;
// the derivers themselves (internal/chain/derive, the tunnel's later)
// are installed by the assembly, so the chain imports none of them.
type (
	Deriver    = rules.Deriver
	Derivation = rules.Derivation
)

// deriveSystemTxs derives the system transactions of the child of parent
// whose Bitcoin view is vh: Config.Derivers in order. Verification and
// building both call it, so a sequencer and a follower derive the same
// list.
func (c *Chain) deriveSystemTxs(parent *types.Header, vh hvm.Header) ([]*block.SystemTx, error) {
	d := &Derivation{Parent: parent, Number: parent.Number.Uint64() + 1, View: vh, Bitcoin: c.cfg.Bitcoin,
		Keystone: func(number uint64) (*pop.L2Keystone, error) {
			kh, err := c.ancestor(parent, number)
			if err != nil {
				return nil, err
			}
			return c.keystoneFor(kh)
		},
		State: func() (*state.StateDB, error) { return c.StateAt(parent.Root) },
	}
	// The budget each deriver sees (rules.Derivation.GasLeft): what is
	// left after the derivers before it, less what the GasBounded ones
	// after it may need.
	limit := c.cfg.GasLimit
	if limit == 0 {
		limit = parent.GasLimit
	}
	budget := genesis.SystemGasBudgetFor(limit)
	dvs := c.cfg.Derivers
	reserve := make([]uint64, len(dvs)+1)
	for i := len(dvs) - 1; i >= 0; i-- {
		reserve[i] = reserve[i+1]
		if b, ok := dvs[i].(rules.GasBounded); ok {
			reserve[i] = satAdd(reserve[i], b.MaxGas())
		}
	}
	var (
		out  []*block.SystemTx
		used uint64
	)
	for i, dv := range dvs {
		d.GasLeft = satSub(budget, satAdd(used, reserve[i+1]))
		txs, err := dv.Derive(d)
		if err != nil {
			return nil, err
		}
		for _, tx := range txs {
			used = satAdd(used, tx.Gas)
		}
		out = append(out, txs...)
	}
	return out, nil
}

func satAdd(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return ^uint64(0)
}

func satSub(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return 0
}
