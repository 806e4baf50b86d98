package tunnel_test

import (
	"errors"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// chainTxs serves the system transactions of canonical blocks.
type chainTxs struct{ c *chain.Chain }

func (c chainTxs) SystemTxs(n uint64) ([]*block.SystemTx, error) {
	b, err := c.c.BlockByNumber(n)
	if err != nil {
		return nil, err
	}
	return b.Body.SystemTxs, nil
}

// TestDepositStatus follows deposits through the states hemi_getDeposit
// shows: confirming n of N, confirmed, minted in block and transaction,
// refund queued with its id, recorded with its reason, and a vault
// spend's output as no deposit; PendingTo lists an address's deposits
// not yet derived.
func TestDepositStatus(t *testing.T) {
	s := newDepScenario(t, 20, func(c *genesis.TunnelConfig) { c.MaxDepositsPerBlock = 2 })
	q := &tunnel.DepositQuery{Tunnel: s.tcfg.TunnelAddress, VaultScript: s.vault, DepositConfirmations: s.tcfg.DepositConfirmations,
		MinDepositSat: s.tcfg.MinDepositSat, Chain: chainTxs{s.seq}, Bitcoin: s.btc}
	status := func(op wire.OutPoint) *tunnel.DepositStatus {
		t.Helper()
		head := s.seq.Head()
		ex, err := block.HeaderExtra(head)
		if err != nil {
			t.Fatal(err)
		}
		ds, err := q.StatusOf(s.state(nil), ex.BitcoinHash, int32(ex.BitcoinHeight), op)
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	mint := tx([]wire.OutPoint{s.coinbase()}, wire.NewTxOut(70_000, s.vault), wire.NewTxOut(0, opRet(addrN(1).Bytes())), wire.NewTxOut(80_000, s.vault))
	refund := tx([]wire.OutPoint{s.coinbase()}, wire.NewTxOut(5_000, s.vault), wire.NewTxOut(0, opRet(addrN(1).Bytes())))
	record := tx([]wire.OutPoint{s.coinbase()}, wire.NewTxOut(300, s.vault))
	spender := tx([]wire.OutPoint{{Hash: mint.TxHash(), Index: 0}}, wire.NewTxOut(60_000, s.vault))
	opM0, opM2 := wire.OutPoint{Hash: mint.TxHash()}, wire.OutPoint{Hash: mint.TxHash(), Index: 2}
	opRf, opRc, opSp := wire.OutPoint{Hash: refund.TxHash()}, wire.OutPoint{Hash: record.TxHash()}, wire.OutPoint{Hash: spender.TxHash()}
	if ds := status(opM0); ds != nil {
		t.Fatalf("a transaction Bitcoin does not have: %+v", ds)
	}
	s.mine(mint, refund, record, spender) // 21
	for range 9 {
		s.mine()
	}
	for v := int32(21); v <= 25; v++ {
		s.l2(v)
		ds := status(opM2)
		if ds.State != tunnel.StateConfirming || ds.Confirmations != uint32(v-20) || ds.Required != 6 || ds.AmountSat != 80_000 ||
			ds.Recipient == nil || *ds.Recipient != addrN(1) || ds.BitcoinHeight != 21 {
			t.Fatalf("view %d: %+v", v, ds)
		}
	}
	pend, err := q.PendingTo(s.state(nil), s.view(25).Hash, 25, addrN(1), 100)
	if err != nil || len(pend) != 3 {
		t.Fatalf("pending to the recipient: %d %v, want its 3 deposits", len(pend), err)
	}
	if ds := status(opSp); ds.State != tunnel.StateNotDeposit {
		t.Fatalf("vault spend's output: %+v", ds)
	}
	if _, err := q.StatusOf(s.state(nil), s.view(25).Hash, 25, wire.OutPoint{Hash: mint.TxHash(), Index: 1}); !errors.Is(err, tunnel.ErrNotVaultOutput) {
		t.Fatalf("the OP_RETURN output: %v", err)
	}
	// View 26: block 21 has its confirmations; two deposits per L2 block.
	b := s.l2(26)
	if ds := status(opM0); ds.State != tunnel.StateMinted || ds.L2Block != b.NumberU64() || ds.L2Tx == ([32]byte{}) || *ds.Recipient != addrN(1) {
		t.Fatalf("minted: %+v", ds)
	}
	if ds := status(opRf); ds.State != tunnel.StateConfirmed {
		t.Fatalf("carried over: %+v", ds)
	}
	s.l2(26)
	ds := status(opRf)
	if ds.State != tunnel.StateRefundQueued || ds.Reason != tunnel.ReasonBelowMinimum || ds.RefundID != 0 || *ds.Recipient != addrN(1) {
		t.Fatalf("refund: %+v", ds)
	}
	if ds := status(opRc); ds.State != tunnel.StateRecorded || ds.Reason != tunnel.ReasonRefundDust || ds.L2Tx == ([32]byte{}) {
		t.Fatalf("recorded: %+v", ds)
	}
	// The L2 transaction is the block's system transaction of the deposit.
	stxs := s.seq.Head()
	blk, err := s.seq.BlockByHash(stxs.Hash())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, stx := range blk.Body.SystemTxs {
		found = found || stx.Hash() == ds.L2Tx
	}
	if !found {
		t.Fatal("L2Tx is not in L2Block")
	}
	pend, err = q.PendingTo(s.state(nil), s.view(26).Hash, 26, addrN(1), 100)
	if err != nil || len(pend) != 0 {
		t.Fatalf("pending after derivation: %d %v", len(pend), err)
	}
}
