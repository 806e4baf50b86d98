package tunnel_test

import (
	"testing"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/tunnel"
)

// TestDepositReorgs: a deposit reorged out of Bitcoin before its
// confirmations is never minted; mined again later it is minted once,
// when that block has the confirmations; on two L2 branches it is minted
// once on each, and never again on either.
func TestDepositReorgs(t *testing.T) {
	s := newDepScenario(t, 20, nil)
	amount := int64(2_500_000)
	dep := tx([]wire.OutPoint{s.coinbase()}, wire.NewTxOut(amount, s.vault), wire.NewTxOut(0, opRet(addrN(1).Bytes())))
	op := wire.OutPoint{Hash: dep.TxHash(), Index: 0}
	other := tx([]wire.OutPoint{s.coinbase()}, wire.NewTxOut(50_000, s.vault), wire.NewTxOut(0, opRet(addrN(2).Bytes())))
	s.mine(dep, other) // 21
	for range 4 {
		s.mine() // 22..25: block 21 has 5 confirmations at 25
	}
	for v := int32(21); v <= 23; v++ {
		if d := deposits(s.l2(v)); len(d) != 0 {
			t.Fatalf("view %d: %d deposits before the confirmations", v, len(d))
		}
	}
	// Bitcoin reorg above 20: a longer fork holding only `other`; the
	// deposit is gone before it reached 6 confirmations.
	s.reorg(20, 8, other) // 21'..28'
	for v := int32(24); v <= 26; v++ {
		b := s.l2(v)
		for _, d := range deposits(b) {
			if d.SourceHash == sourceOf(op) {
				t.Fatalf("view %d (the fork) minted the reorged-out deposit", v)
			}
		}
	}
	st := s.state(nil)
	if tunnel.Processed(st, s.tcfg.TunnelAddress, tunnel.DepositKey(op)) || s.hbtc(nil, addrN(1)) != 0 {
		t.Fatal("a deposit reorged out before its confirmations was processed")
	}
	if got := s.hbtc(nil, addrN(2)); got != 50_000 {
		t.Fatalf("the deposit on the fork: %d minted, want 50000", got)
	}
	// The deposit mined again in 29' is minted once, at 6 confirmations.
	s.mine(dep) // 29'
	for range 7 {
		s.mine() // 30'..36'
	}
	fork := s.seq.Head() // an L2 branch point before the mint
	var mintBlock uint64
	for v := int32(27); v <= 34; v++ {
		b := s.l2(v)
		for _, d := range deposits(b) {
			if d.SourceHash == sourceOf(op) {
				if mintBlock != 0 || v != 34 {
					t.Fatalf("minted with view %d (mint block %d before)", v, mintBlock)
				}
				mintBlock = b.NumberU64()
			}
		}
	}
	if mintBlock == 0 || s.hbtc(nil, addrN(1)) != uint64(amount) {
		t.Fatalf("the re-mined deposit was not minted once: block %d, balance %d", mintBlock, s.hbtc(nil, addrN(1)))
	}
	// An L2 branch from before the mint, with the same views: it mints
	// the deposit once too, and the canonical branch is unchanged.
	parent := fork
	var side []uint64
	for v := int32(27); v <= 34; v++ {
		b := s.l2On(parent, s.view(v), true)
		parent = b.Header
		for _, d := range deposits(b) {
			if d.SourceHash == sourceOf(op) {
				side = append(side, b.NumberU64())
			}
		}
	}
	if len(side) != 1 {
		t.Fatalf("the side branch minted the deposit in blocks %v, want once", side)
	}
	stSide, err := s.seq.StateAt(parent.Root)
	if err != nil {
		t.Fatal(err)
	}
	if got := tunnel.HBTCBalance(stSide, s.tcfg.HBTCAddress, addrN(1)).Uint64(); got != uint64(amount) {
		t.Fatalf("side branch balance %d", got)
	}
	// Both branches go on: never minted again.
	for v := int32(34); v <= 34; v++ {
		b := s.l2(v)
		if d := deposits(b); len(d) != 0 {
			t.Fatalf("canonical branch derived %d deposits again", len(d))
		}
		sb := s.l2On(parent, s.view(v), true)
		if d := deposits(sb); len(d) != 0 {
			t.Fatalf("side branch derived %d deposits again", len(d))
		}
	}
	if got := tunnel.HBTCSupply(s.state(nil), s.tcfg.HBTCAddress).Uint64(); got != uint64(amount)+50_000 {
		t.Fatalf("hBTC supply %d, want %d", got, uint64(amount)+50_000)
	}
}
