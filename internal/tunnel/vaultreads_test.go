package tunnel_test

import (
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// growVault adds n outputs to the vault's history: n deposits (minted)
// in one Bitcoin block, all spent in the next by one transaction of no
// batch (flagged, with the shortfall it makes), then enough L2 blocks
// for the deposits to be minted and the spend flagged.
func growVault(s *wdScenario, n int) {
	s.t.Helper()
	dep := tx([]wire.OutPoint{s.coinbase()})
	for range n {
		dep.AddTxOut(wire.NewTxOut(20_000, s.vault))
	}
	dep.AddTxOut(wire.NewTxOut(0, opRet(common.Address{0xd0, 0x0d}.Bytes())))
	s.mine(dep)
	var ins []wire.OutPoint
	for i := range n {
		ins = append(ins, wire.OutPoint{Hash: dep.TxHash(), Index: uint32(i)})
	}
	spend := tx(ins, wire.NewTxOut(int64(n)*20_000-1_000, s.funder))
	s.mine(spend)
	for range 8 {
		s.mine()
	}
	for range n/s.tcfg.MaxDepositsPerBlock + 3 {
		s.l2(s.height() - 2)
	}
	st := s.state(nil)
	if !tunnel.ReadFlaggedSpend(st, s.tcfg.TunnelAddress, spend.TxHash()) {
		s.t.Fatal("the vault spend was not flagged")
	}
	for _, op := range ins {
		if !tunnel.Processed(st, s.tcfg.TunnelAddress, tunnel.DepositKey(op)) {
			s.t.Fatalf("deposit %s not processed", op)
		}
	}
}

// blockReads is the most index reads (index.Reads: the queries by
// script) one L2 block costs, built by the sequencer and verified by the
// follower, over three blocks each with a new, empty Bitcoin block in
// its view.
func blockReads(s *wdScenario) uint64 {
	s.t.Helper()
	var most uint64
	for range 3 {
		s.mine()
		r := s.ix.Reads()
		s.l2(s.height() - 2)
		most = max(most, s.ix.Reads()-r)
	}
	return most
}

// TestVaultReadsBounded: the index reads of a block's derivation do not
// grow with the vault's history. After 20 vault outputs created and
// spent, and again after 400 more, a block whose view brings nothing new
// for the vault reads the same handful of index rows (the withdrawal
// deriver reads the vault's unspent head, its balance, the deposits from
// the cursor and the spends of the new Bitcoin blocks: vaultwatch.go).
func TestVaultReadsBounded(t *testing.T) {
	s := newWDScenario(t)
	for range 8 {
		s.mine()
	}
	growVault(s, 20)
	small := blockReads(s)
	growVault(s, 400)
	large := blockReads(s)
	t.Logf("index reads per block: %d after 20 vault outputs, %d after 420", small, large)
	if large > small+4 {
		t.Fatalf("index reads per block grew with the vault's history: %d after 20 outputs, %d after 420", small, large)
	}
}

// TestVaultWatchMemoEqualsFullScan: a chain whose withdrawal deriver
// reads every vault spend from the start at each block accepts every
// block the sequencer derives with the memo (vaultwatch.go), through a
// Bitcoin reorg that takes a confirmed payout out of the view and puts a
// different spend of its input in: the memo drops the payout (its block
// left the view), the batch is not marked paid, the new spend is flagged
// and cancels the batch, the same on both.
func TestVaultWatchMemoEqualsFullScan(t *testing.T) {
	s := newWDScenario(t)
	fw, err := tunnel.NewWithdrawalsNoMemo(tunnel.WithdrawalConfig{Tunnel: s.tcfg, Vault: s.vaultV,
		SuperfinalDepth: s.spec.Config.PoP.SuperfinalDepth, KeystoneInterval: s.spec.Config.KeystoneInterval})
	if err != nil {
		t.Fatal(err)
	}
	full := s.openChain(s.tcfg.MaxDepositsPerBlock, fw)
	follow := func(b *chain.Block) *chain.Block {
		t.Helper()
		if err := full.InsertBlock(b); err != nil {
			t.Fatalf("the chain without the memo refuses block %d: %v", b.NumberU64(), err)
		}
		return b
	}
	l2 := func(h int32) *chain.Block { return follow(s.l2(h)) }

	user := s.user.Address
	dep := tx([]wire.OutPoint{s.coinbase()}, wire.NewTxOut(100_000_000, s.vault), wire.NewTxOut(0, opRet(user.Bytes())))
	s.mine(dep) // 21
	for range 7 {
		s.mine()
	}
	l2(26)
	payTo := append([]byte{0x00, 0x14}, make([]byte, 20)...)
	follow(s.l2Tx(26, s.withdrawTx(payTo, 40_000_000, 50_000)))
	for s.seq.Head().Number.Uint64() < 30 {
		l2(26)
	}
	sf := s.publishSuperfinal()
	l2(sf)
	b, err := tunnel.ReadBatch(s.state(nil), s.tcfg.TunnelAddress)
	if err != nil || !b.Open {
		t.Fatalf("batch %+v %v", b, err)
	}
	payout, err := tunnel.BuildPayout(b, s.vaultV)
	if err != nil {
		t.Fatal(err)
	}
	s.mine(payout)
	paidAt := s.height()
	s.mine()
	s.mine()
	s.mine()
	l2(paidAt + 1) // the payout in the view, 2 confirmations: in flight
	l2(paidAt + 1)
	// Bitcoin reorg below the payout: a longer fork where a transaction
	// of no batch spends the batch's input instead.
	theft := tx([]wire.OutPoint{b.Inputs[0].OutPoint}, wire.NewTxOut(99_000_000, payTo))
	s.reorg(paidAt-1, 12, theft)
	flagged := l2(s.height() - 2)
	if countCalls(flagged, "flagVaultSpend") != 1 || countCalls(flagged, "markPaid") != 0 {
		t.Fatalf("after the reorg: %v", callNames(flagged))
	}
	if b, _ := tunnel.ReadBatch(s.state(nil), s.tcfg.TunnelAddress); b.Open {
		t.Fatal("the batch is still open")
	}
	for range 8 {
		s.mine()
		if blk := l2(s.height() - 2); countCalls(blk, "markPaid")+countCalls(blk, "flagVaultSpend") != 0 {
			t.Fatalf("after the flag: %v", callNames(blk))
		}
	}
}
