package tunnel_test

import (
	"slices"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// TestDepositFloodCarriedOver: one Bitcoin block of 5,000 dust deposits
// (1,000 transactions of 5 vault outputs, each under the minimum, so each
// is queued for refund) is derived at most MaxDepositsPerBlock per L2
// block, in Bitcoin order, each outpoint once, the rest carried over by
// the cursor. The per-block work is bounded by the cap, not by the flood:
// the index records each L2 block's derivations read are counted (at most
// two per output looked at: the output and its spend) and the build
// time of each block is printed against an empty block's.
func TestDepositFloodCarriedOver(t *testing.T) {
	if testing.Short() {
		t.Skip("5,000 deposits: not in -short")
	}
	const txs, perTx = 1_000, 5
	s := newDepScenario(t, 20, nil)
	perBlock := s.tcfg.MaxDepositsPerBlock
	fan := tx([]wire.OutPoint{s.coinbase()})
	for range txs {
		fan.AddTxOut(wire.NewTxOut(10_000, s.funder))
	}
	var want []wire.OutPoint // Bitcoin order
	btxs := []*wire.MsgTx{fan}
	for i := range txs {
		d := tx([]wire.OutPoint{{Hash: fan.TxHash(), Index: uint32(i)}})
		for range perTx {
			d.AddTxOut(wire.NewTxOut(600, s.vault))
		}
		d.AddTxOut(wire.NewTxOut(0, opRet(addrN(1).Bytes())))
		btxs = append(btxs, d)
		for v := range perTx {
			want = append(want, wire.OutPoint{Hash: d.TxHash(), Index: uint32(v)})
		}
	}
	s.mine(btxs...) // height 21
	for range 7 {
		s.mine()
	}
	// An empty block with the same view, for scale.
	t0 := time.Now()
	s.l2(20)
	empty := time.Since(t0)

	var got []wire.OutPoint
	var times []time.Duration
	var slowest time.Duration
	var maxReads uint64
	blocks := 0
	for len(got) < len(want) {
		reads := s.ix.Reads()
		t0 := time.Now()
		b := s.l2(26)
		took := time.Since(t0)
		reads = s.ix.Reads() - reads
		blocks++
		slowest, maxReads = max2(slowest, took), max(maxReads, reads)
		times = append(times, took)
		ds := deposits(b)
		if len(ds) > perBlock {
			t.Fatalf("block %d derived %d deposits, cap %d", b.NumberU64(), len(ds), perBlock)
		}
		if len(ds) == 0 {
			t.Fatalf("block %d derived nothing with %d deposits left", b.NumberU64(), len(want)-len(got))
		}
		for _, d := range ds {
			got = append(got, want[len(got)])
			if d.SourceHash != sourceOf(got[len(got)-1]) {
				t.Fatalf("deposit %d of the flood is not the next in Bitcoin order", len(got)-1)
			}
		}
		cur := tunnel.ReadCursor(s.state(b), s.tcfg.TunnelAddress)
		if len(got) < len(want) {
			n := want[len(got)]
			if cur != (tunnel.Cursor{Height: 20, TxPos: uint32(2 + len(got)/perTx), Vout: n.Index}) {
				t.Fatalf("cursor %+v after %d deposits", cur, len(got))
			}
		} else if cur != (tunnel.Cursor{Height: 21}) {
			t.Fatalf("cursor %+v after the flood", cur)
		}
		// Two derivations per block (the sequencer's and the
		// follower's), each reading at most the cap plus one outputs,
		// two records each.
		if reads > uint64(2*2*(perBlock+1)) {
			t.Fatalf("block %d: the index read %d records for %d deposits", b.NumberU64(), reads, len(ds))
		}
	}
	if wantBlocks := (len(want) + perBlock - 1) / perBlock; blocks != wantBlocks {
		t.Fatalf("%d L2 blocks, want %d", blocks, wantBlocks)
	}
	st := s.state(nil)
	for _, op := range want {
		set, ok := tunnel.ReadSettled(st, s.tcfg.TunnelAddress, tunnel.DepositKey(op))
		if !ok || set.Kind != tunnel.SettledRefund || set.Reason != uint8(tunnel.ReasonBelowMinimum) {
			t.Fatalf("%v: %+v %v", op, set, ok)
		}
	}
	// After the flood: nothing more.
	if ds := deposits(s.l2(26)); len(ds) != 0 {
		t.Fatalf("%d deposits after the flood", len(ds))
	}
	mid := slices.Clone(times[1:])
	slices.Sort(mid)
	t.Logf("5,000 deposits in %d L2 blocks of at most %d; index reads per block at most %d; build+commit+follower verify per block: first %v (the flood block's fee statistics and transactions read), median %v, slowest after the first %v; an empty block's %v; last block %v",
		blocks, perBlock, maxReads, times[0], mid[len(mid)/2], mid[len(mid)-1], empty, times[len(times)-1])
	_ = common.Address{}
}

func max2(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

var _ = block.SourceHash
