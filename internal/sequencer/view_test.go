package sequencer

import (
	"errors"
	"fmt"
	"math/big"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	chainrules "github.com/hemi-go/hemi/internal/chain/rules"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/pop"
)

// fakeBTC is an in-memory block tree with a chosen main-chain tip: the
// pure input of ChooseView's tests.
type fakeBTC struct {
	nodes map[chainhash.Hash]*fakeNode
	tip   *fakeNode
}

type fakeNode struct {
	hash   chainhash.Hash
	height int32
	work   int64
	parent *fakeNode
}

func hashOf(name string) chainhash.Hash { return chainhash.DoubleHashH([]byte(name)) }

// newFakeBTC builds a main chain a0..a<n-1> (work 1 per block).
func newFakeBTC(n int) *fakeBTC {
	f := &fakeBTC{nodes: map[chainhash.Hash]*fakeNode{}}
	var prev *fakeNode
	for i := range n {
		prev = f.add(fmt.Sprintf("a%d", i), prev, 1)
	}
	f.tip = prev
	return f
}

func (f *fakeBTC) add(name string, parent *fakeNode, work int64) *fakeNode {
	n := &fakeNode{hash: hashOf(name), parent: parent, work: work}
	if parent != nil {
		n.height, n.work = parent.height+1, parent.work+work
	}
	f.nodes[n.hash] = n
	return n
}

// branch adds blocks named prefix0.. on top of from with work each.
func (f *fakeBTC) branch(prefix string, from *fakeNode, n int, work int64) *fakeNode {
	for i := range n {
		from = f.add(fmt.Sprintf("%s%d", prefix, i), from, work)
	}
	return from
}

func (f *fakeBTC) node(name string) *fakeNode { return f.nodes[hashOf(name)] }

func (f *fakeBTC) ViewHeader(h chainhash.Hash) (hvm.Header, *big.Int, error) {
	n := f.nodes[h]
	if n == nil {
		return hvm.Header{}, nil, fmt.Errorf("%w: unknown", chain.ErrViewNotReady)
	}
	return hvm.Header{Height: n.height, Hash: n.hash}, big.NewInt(n.work), nil
}

func (f *fakeBTC) Contains(anc, desc chainhash.Hash) (bool, error) {
	a, d := f.nodes[anc], f.nodes[desc]
	if a == nil || d == nil {
		return false, fmt.Errorf("%w: unknown", chain.ErrViewNotReady)
	}
	for ; d != nil; d = d.parent {
		if d == a {
			return true, nil
		}
	}
	return false, nil
}

func (f *fakeBTC) TipHeight() int32 { return f.tip.height }

func (f *fakeBTC) View(chainhash.Hash) (hvm.BitcoinView, error) {
	return nil, errors.New("fakeBTC: no views")
}

// Publications: the fake chain has no transactions, so no keystone is
// ever published.
func (f *fakeBTC) Publications([32]byte, chainhash.Hash) ([]pop.Publication, error) {
	return nil, nil
}

func (f *fakeBTC) Publisher(chainhash.Hash, chainhash.Hash) (*common.Address, error) {
	return nil, errors.New("fakeBTC: no transactions")
}

// OutputsFrom, ConfirmedTx, BlockFeeRates: the fake chain has no
// transactions, so no deposits and no fee statistic.
func (f *fakeBTC) OutputsFrom([]byte, int32, uint32, uint32, int32, int, chainhash.Hash) ([]chainrules.DepositOutput, error) {
	return nil, nil
}

func (f *fakeBTC) ConfirmedTx(chainhash.Hash, chainhash.Hash) (*wire.MsgTx, bool, error) {
	return nil, false, nil
}

func (f *fakeBTC) BlockFeeRates(chainhash.Hash, int) ([]int64, error) { return nil, nil }

// ScriptUnspent, ScriptBalance, ScriptSpends, HeaderHashAt: the
// tunnel's vault reads; the fake chain has no transactions, so no
// outputs (and the vault watch reads from the start).
func (f *fakeBTC) ScriptUnspent([]byte, int, chainhash.Hash) ([]chainrules.ScriptOutput, error) {
	return nil, nil
}

func (f *fakeBTC) ScriptBalance([]byte, chainhash.Hash) (int64, error) { return 0, nil }

func (f *fakeBTC) ScriptSpends([]byte, int32, int32, chainhash.Hash) ([]chainrules.ScriptOutput, error) {
	return nil, nil
}

func (f *fakeBTC) HeaderHashAt(int32, chainhash.Hash) (chainhash.Hash, bool, error) {
	return chainhash.Hash{}, false, nil
}

func (f *fakeBTC) MainChainAt(height int32) (hvm.Header, error) {
	for n := f.tip; n != nil; n = n.parent {
		if n.height == height {
			return hvm.Header{Height: n.height, Hash: n.hash}, nil
		}
	}
	return hvm.Header{}, fmt.Errorf("%w: no block at %d", chain.ErrViewNotReady, height)
}

func TestChooseView(t *testing.T) {
	extra := func(n *fakeNode) *block.Extra {
		return &block.Extra{BitcoinHeight: uint32(n.height), BitcoinHash: n.hash}
	}
	tests := []struct {
		name    string
		setup   func() (*fakeBTC, *block.Extra)
		lag     uint32
		want    string // node name; "" with wantErr
		wantErr error
	}{
		{name: "first block: tip minus lag", lag: 2,
			setup: func() (*fakeBTC, *block.Extra) { return newFakeBTC(10), nil }, want: "a7"},
		{name: "forward along the main chain", lag: 2,
			setup: func() (*fakeBTC, *block.Extra) { f := newFakeBTC(10); return f, extra(f.node("a3")) }, want: "a7"},
		{name: "lag 0 takes the tip", lag: 0,
			setup: func() (*fakeBTC, *block.Extra) { f := newFakeBTC(10); return f, extra(f.node("a3")) }, want: "a9"},
		{name: "unchanged tip keeps the parent's view", lag: 2,
			setup: func() (*fakeBTC, *block.Extra) { f := newFakeBTC(10); return f, extra(f.node("a7")) }, want: "a7"},
		{name: "tip too low for the lag", lag: 2,
			setup: func() (*fakeBTC, *block.Extra) { return newFakeBTC(2), nil }, wantErr: chain.ErrViewNotReady},
		{name: "reorg onto a heavier branch switches", lag: 2,
			setup: func() (*fakeBTC, *block.Extra) {
				f := newFakeBTC(10) // view a7 on the old branch
				f.tip = f.branch("b", f.node("a5"), 6, 1)
				return f, extra(f.node("a7"))
			}, want: "b3"}, // b3 at height 9, work 10 > a7's 8
		{name: "reorg: new branch not yet heavier at tip-lag, view stays", lag: 2,
			setup: func() (*fakeBTC, *block.Extra) {
				f := newFakeBTC(10)
				f.tip = f.branch("b", f.node("a5"), 4, 1) // tip b3 at 9; tip-lag = b1 at 7, equal work to a7
				return f, extra(f.node("a7"))
			}, want: "a7"},
		{name: "reorg onto a shorter but heavier branch: never backwards", lag: 2,
			setup: func() (*fakeBTC, *block.Extra) {
				f := newFakeBTC(10)
				f.tip = f.branch("b", f.node("a5"), 3, 10) // b2 at height 8, heavy
				return f, extra(f.node("a6"))
			}, want: "b0"}, // b0 at height 6, work 16 > a6's 7
		{name: "parent's view no longer lag below the tip", lag: 2,
			setup: func() (*fakeBTC, *block.Extra) {
				f := newFakeBTC(10)
				f.tip = f.branch("b", f.node("a2"), 5, 3) // tip b4 at height 7, heavy; tip-lag = b2 at 5
				return f, extra(f.node("a7"))
			}, want: "b2"}, // b2 work 3+9=12 > a7's 8
		{name: "lighter shorter branch: nothing acceptable", lag: 2,
			setup: func() (*fakeBTC, *block.Extra) {
				f := newFakeBTC(10)
				f.tip = f.branch("b", f.node("a2"), 5, 1)
				return f, extra(f.node("a8"))
			}, wantErr: chain.ErrViewNotReady},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, parent := tc.setup()
			rules := &chain.Rules{Rules: chainrules.Rules{ViewLag: tc.lag}}
			got, err := ChooseView(rules, f, parent, tc.lag)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := f.node(tc.want); got.Hash != want.hash {
				t.Fatalf("view at height %d, want %s at %d", got.Height, tc.want, want.height)
			}
		})
	}
}
