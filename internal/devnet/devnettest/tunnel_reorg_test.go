package devnettest

import (
	"slices"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/devnet"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// TestDepositReorgedOut: a deposit whose Bitcoin block is reorged out
// before it reaches its confirmations is never minted, however far the
// replacing branch grows; mined again later (it went back to the
// mempool), it is minted exactly once, counted from its new block.
func TestDepositReorgedOut(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a regtest node, an indexer and an L2")
	}
	e := startTunnelEnv(t, 4*time.Minute, StackConfig{L2BlockTime: time.Second, PoPM: devnet.PoPMConfig{Off: true}})
	lag := int32(e.L2.Spec.Config.ViewLag)
	confs := int32(e.tc.DepositConfirmations)
	rcpt := common.HexToAddress("0x90F79bf6EB2c4f870365E785982E1f101E93b906")

	dep, err := e.DepositFromCoinbase(2, rcpt, 150_000_000)
	if err != nil {
		t.Fatal(err)
	}
	depKey := tunnel.DepositKey(wire.OutPoint{Hash: dep.TxHash(), Index: 0})
	hs, err := e.MineBTC(e.ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, depHeight := e.BTC.Tip()
	// confs-2 confirmations: the L2's view holds the deposit's block, not
	// yet with its confirmations.
	if _, err := e.MineBTC(e.ctx, int(confs)-3); err != nil {
		t.Fatal(err)
	}
	_, before := e.BTC.Tip()
	viewAt := func() int32 {
		h := e.L2.Chain.Head()
		st, err := e.L2.Chain.StateAt(h.Root)
		if err != nil {
			t.Fatal(err)
		}
		return genesis.ReadView(st).Height
	}
	if err := e.WaitFor(e.ctx, "the L2 view holding the deposit's block", func() bool { return viewAt() >= before-lag }); err != nil {
		t.Fatal(err)
	}
	if c := viewAt() - depHeight + 1; c >= confs || c < 1 {
		t.Fatalf("view has %d confirmations of the deposit before the reorg, want 1 to %d", c, confs-1)
	}

	// Reorg the deposit's block out; the replacing branch is coinbase-only
	// (the deposit waits in the mempool) and grows past where the deposit
	// would have had its confirmations.
	if err := e.BTC.InvalidateBlock(hs[0]); err != nil {
		t.Fatal(err)
	}
	_, fork := e.BTC.Tip()
	if _, err := e.MineEmptyBTC(e.ctx, int(before-fork)+1+int(confs)+int(lag)); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(e.BTC.MempoolTxids(), dep.TxHash()) {
		t.Fatal("the reorged deposit is not back in the mempool")
	}
	_, tip := e.BTC.Tip()
	if err := e.WaitFor(e.ctx, "the L2 view past the old confirmations", func() bool { return viewAt() >= tip-lag }); err != nil {
		t.Fatal(err)
	}
	head := e.L2.Chain.Head().Number.Uint64()
	for n := uint64(1); n <= head; n++ {
		h, err := e.L2.Chain.HeaderByNumber(n)
		if err != nil {
			t.Fatal(err)
		}
		st, err := e.L2.Chain.StateAt(h.Root)
		if err != nil {
			t.Fatal(err)
		}
		if m, ok := tunnel.ReadMinted(st, e.tc.TunnelAddress, depKey); ok {
			t.Fatalf("the reorged-out deposit was minted in L2 block %d: %+v", m.L2Block, m)
		}
		if sup := tunnel.HBTCSupply(st, e.tc.HBTCAddress); sup.Sign() != 0 {
			t.Fatalf("hBTC supply %v at L2 block %d", sup, n)
		}
	}

	// Mined again: minted once, in the first block whose view has its
	// confirmations counted from the new block.
	if _, err := e.MineBTC(e.ctx, 1); err != nil {
		t.Fatal(err)
	}
	_, newHeight := e.BTC.Tip()
	if _, err := e.MineBTC(e.ctx, int(confs+lag)); err != nil {
		t.Fatal(err)
	}
	var m tunnel.Minted
	if err := e.WaitFor(e.ctx, "the re-mined deposit minted", func() bool {
		st, err := e.L2.Chain.StateAt(e.L2.Chain.Head().Root)
		if err != nil {
			return false
		}
		var ok bool
		m, ok = tunnel.ReadMinted(st, e.tc.TunnelAddress, depKey)
		return ok
	}); err != nil {
		t.Fatal(err)
	}
	mh, _ := e.L2.Chain.HeaderByNumber(m.L2Block)
	mst, _ := e.L2.Chain.StateAt(mh.Root)
	if c := genesis.ReadView(mst).Height - newHeight + 1; c < confs || m.To != rcpt || m.AmountSat != 150_000_000 {
		t.Fatalf("minted %+v at %d confirmations of its new block", m, c)
	}
	if sup := tunnel.HBTCSupply(mst, e.tc.HBTCAddress); sup.Uint64() != 150_000_000 {
		t.Fatalf("hBTC supply %v, want the deposit once", sup)
	}
}
