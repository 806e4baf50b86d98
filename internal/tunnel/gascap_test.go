package tunnel_test

import (
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/tunnel"
)

// TestDepositsCappedByGas: 64 deposits confirmed in one Bitcoin block
// (half mints to new recipients, half refunds to 34-byte scripts, the
// costliest kind), derived by a deposit deriver whose own cap (64, the
// old default) is above what the block's system gas budget holds. No
// L2 block's system transactions ask for more than half the gas limit
// (the budget: user transactions keep the other half), every one of
// them succeeds within its Gas, the deposits carry over to the next
// blocks in Bitcoin order and each is processed once; the follower
// derives the same cut.
func TestDepositsCappedByGas(t *testing.T) {
	s := newWDScenario(t)
	s.seq, s.fol = s.openChain(64, s.w), s.openChain(64, s.w)
	const n = 64
	fan := tx([]wire.OutPoint{s.coinbase()})
	for i := range n {
		script := s.funder
		if i%2 == 1 {
			script = append([]byte{0x51, 0x20}, common.Hash{0x7a, byte(i)}.Bytes()...) // P2TR
		}
		fan.AddTxOut(wire.NewTxOut(100_000, script))
	}
	btxs := []*wire.MsgTx{fan}
	var want []wire.OutPoint
	for i := range n {
		d := tx([]wire.OutPoint{{Hash: fan.TxHash(), Index: uint32(i)}}, wire.NewTxOut(50_000, s.vault))
		if i%2 == 0 {
			d.AddTxOut(wire.NewTxOut(0, opRet(common.Address{0xfe, byte(i), 7}.Bytes()))) // a mint
		}
		btxs = append(btxs, d)
		want = append(want, wire.OutPoint{Hash: d.TxHash(), Index: 0})
	}
	s.mine(btxs...)
	top := s.height()
	for range 8 {
		s.mine()
	}
	budget := s.spec.Config.GasLimit / 2
	var got []wire.OutPoint
	for blocks := 0; len(got) < n; blocks++ {
		if blocks == 10 {
			t.Fatalf("%d of %d deposits after %d blocks", len(got), n, blocks)
		}
		b := s.l2(top + 6)
		var gas uint64
		for _, stx := range b.Body.SystemTxs {
			gas += stx.Gas
		}
		deps := deposits(b)
		t.Logf("block %d: %d system transactions, %d deposits, %d gas asked of the budget %d", b.NumberU64(), len(b.Body.SystemTxs), len(deps), gas, budget)
		if gas > budget {
			t.Fatalf("block %d: system transactions ask for %d gas, above the budget %d", b.NumberU64(), gas, budget)
		}
		rs, err := s.seq.Receipts(b.Hash())
		if err != nil {
			t.Fatal(err)
		}
		for i, stx := range b.Body.SystemTxs {
			if rs[i].Status != types.ReceiptStatusSuccessful || rs[i].GasUsed > stx.Gas {
				t.Fatalf("block %d system tx %d: status %d, used %d of %d", b.NumberU64(), i, rs[i].Status, rs[i].GasUsed, stx.Gas)
			}
		}
		for _, d := range deps {
			for _, op := range want {
				if d.SourceHash == sourceOf(op) {
					got = append(got, op)
				}
			}
		}
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("deposit %d is %s, want %s (Bitcoin order, each once)", i, got[i], want[i])
		}
	}
	st := s.state(nil)
	for i, op := range want {
		if !tunnel.Processed(st, s.tcfg.TunnelAddress, tunnel.DepositKey(op)) {
			t.Fatalf("deposit %d not processed", i)
		}
	}
}
