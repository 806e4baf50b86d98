package tunnel_test

import (
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// wdScenario is the deposit scenario (a real index over an in-process
// regtest chain, a sequencer chain and a follower re-deriving every
// block) with the node's whole tunnel derivation: fee rate, deposits,
// then the withdrawal side.
type wdScenario struct {
	*depScenario
	vaultV *tunnel.Vault
	w      *tunnel.Withdrawals
	user   genesis.DevAccount
}

func newWDScenario(t *testing.T) *wdScenario {
	t.Helper()
	s := &wdScenario{depScenario: newDepScenario(t, 20, nil)}
	var err error
	if s.vaultV, err = tunnel.NewVault(s.tcfg, regtest); err != nil {
		t.Fatal(err)
	}
	if s.w, err = tunnel.NewWithdrawals(tunnel.WithdrawalConfig{Tunnel: s.tcfg, Vault: s.vaultV,
		SuperfinalDepth: s.spec.Config.PoP.SuperfinalDepth, KeystoneInterval: s.spec.Config.KeystoneInterval}); err != nil {
		t.Fatal(err)
	}
	accs, err := genesis.DevAccounts(genesis.DevMnemonic, 1)
	if err != nil {
		t.Fatal(err)
	}
	s.user = accs[0]
	s.seq, s.fol = s.openWD(), s.openWD()
	return s
}

// openWD opens an in-memory chain with the node's derivers for a tunnel
// genesis, the withdrawal side included.
func (s *wdScenario) openWD() *chain.Chain {
	return s.openChain(s.tcfg.MaxDepositsPerBlock, s.w)
}

// l2Tx builds the sequencer's next block (view at height) with txs, which
// must all be included, and has the follower insert it.
func (s *wdScenario) l2Tx(height int32, txs ...*types.Transaction) *chain.Block {
	s.t.Helper()
	parent := s.seq.Head()
	b, err := s.seq.BuildBlock(chain.BuildParams{Parent: parent, Time: parent.Time + 2, View: s.view(height),
		Coinbase: crypto.PubkeyToAddress(seqKey.PublicKey), Txs: txs})
	if err != nil {
		s.t.Fatal(err)
	}
	if len(b.Skipped) > 0 {
		s.t.Fatalf("tx skipped: %+v", b.Skipped[0])
	}
	if err := sealAndCommit(s.depScenario, b); err != nil {
		s.t.Fatal(err)
	}
	return b.Block
}

func sealAndCommit(s *depScenario, b *chain.Built) error {
	if err := block.Seal(b.Block.Header, seqKey); err != nil {
		return err
	}
	if err := s.seq.CommitBuilt(b); err != nil {
		return err
	}
	return s.fol.InsertBlock(b.Block)
}

// withdrawTx is the user's signed withdraw call.
func (s *wdScenario) withdrawTx(script []byte, amount, maxFee uint64) *types.Transaction {
	s.t.Helper()
	data, err := tunnel.WithdrawCalldata(script, amount, maxFee)
	if err != nil {
		s.t.Fatal(err)
	}
	return s.userTx(data)
}

// publishSuperfinal publishes, in the next Bitcoin block, every keystone
// of the sequencer's chain up to its head, and mines until Bitcoin is two
// blocks past the view height it returns: the one at which that
// publication has exactly the superfinal depth of confirmations (a view
// one lower leaves what it covers one confirmation short).
func (s *wdScenario) publishSuperfinal() int32 {
	s.t.Helper()
	var txs []*wire.MsgTx
	iv := s.spec.Config.KeystoneInterval
	for k := iv; k <= s.seq.Head().Number.Uint64(); k += iv {
		ks, err := s.seq.KeystoneAt(k)
		if err != nil {
			s.t.Fatal(err)
		}
		txs = append(txs, tx([]wire.OutPoint{s.coinbase()}, wire.NewTxOut(0, ks.K.Script())))
	}
	s.mine(txs...)
	pubAt := s.height()
	depth := int32(s.spec.Config.PoP.SuperfinalDepth)
	for s.height() < pubAt+depth+1 {
		s.mine()
	}
	return pubAt + depth - 1
}

// sheet is the balance sheet after the head.
func (s *wdScenario) sheet() *tunnel.Owed {
	s.t.Helper()
	st := s.state(nil)
	v := genesis.ReadView(st)
	o, err := s.w.VaultOwed(st, s.btc, s.seq.Head(), v.Hash, v.Height)
	if err != nil {
		s.t.Fatal(err)
	}
	return o
}

// TestWithdrawalThroughTheChain: a deposit minted, a withdrawal burned,
// superfinal once its keystone's publication is deep enough, batched,
// its payout (BuildPayout's, mined: the index does not check scripts)
// confirmed and marked paid once; the follower re-derives every block
// (so the batch, the marker and the flags are consensus), and the vault
// equals what it owes, to the satoshi, at every step. Then a vault spend
// by a transaction of no batch is flagged, with the shortfall it makes.
func TestWithdrawalThroughTheChain(t *testing.T) {
	s := newWDScenario(t)
	user := s.user.Address
	dep := tx([]wire.OutPoint{s.coinbase()}, wire.NewTxOut(100_000_000, s.vault), wire.NewTxOut(0, opRet(user.Bytes())))
	s.mine(dep) // 21
	for range 7 {
		s.mine() // to 28: the view lags the tip by 2
	}
	s.l2(26) // 6 confirmations: minted
	if got := s.hbtc(nil, user); got != 100_000_000 {
		t.Fatalf("minted %d", got)
	}
	if o := s.sheet(); o.VaultSat != o.OwedSat || o.VaultSat != 100_000_000 {
		t.Fatalf("sheet after the mint %+v", o)
	}

	payTo := append([]byte{0x00, 0x14}, make([]byte, 20)...)
	payTo[2] = 0x77
	s.l2Tx(26, s.withdrawTx(payTo, 40_000_000, 50_000))
	if got := s.hbtc(nil, user); got != 60_000_000 {
		t.Fatalf("balance after the burn %d", got)
	}
	ws, ok, err := tunnel.ReadWithdrawal(s.state(nil), s.tcfg.TunnelAddress, s.vaultV, 0)
	if err != nil || !ok || ws.Item.AmountSat != 40_000_000 || ws.Item.From != user {
		t.Fatalf("withdrawal %+v %v %v", ws, ok, err)
	}
	burnBlock := ws.Item.L2Block
	if o := s.sheet(); o.VaultSat != o.OwedSat || o.PendingSat != 40_000_000 {
		t.Fatalf("sheet after the burn %+v", o)
	}
	// Up to the covering keystone (25 at the devnet interval) and past it.
	for s.seq.Head().Number.Uint64() < 30 {
		s.l2(26)
	}
	if b, _ := tunnel.ReadBatch(s.state(nil), s.tcfg.TunnelAddress); b.Open {
		t.Fatal("a batch opened before the burn was superfinal")
	}
	sf := s.publishSuperfinal() // published in block 29
	s.l2(sf - 1)                // depth-1 confirmations: not yet
	if b, _ := tunnel.ReadBatch(s.state(nil), s.tcfg.TunnelAddress); b.Open {
		t.Fatal("a batch opened one confirmation early")
	}
	opened := s.l2(sf)
	b, err := tunnel.ReadBatch(s.state(opened), s.tcfg.TunnelAddress)
	if err != nil || !b.Open || len(b.Outputs) != 1 || b.Outputs[0].ID != 0 || b.Inputs[0].OutPoint.Hash != dep.TxHash() {
		t.Fatalf("batch %+v %v (burn in block %d)", b, err, burnBlock)
	}
	if o := s.sheet(); o.VaultSat != o.OwedSat {
		t.Fatalf("sheet with the batch open %+v", o)
	}

	// The payout confirms; paid at the withdrawal confirmations, once.
	payout, err := tunnel.BuildPayout(b, s.vaultV)
	if err != nil {
		t.Fatal(err)
	}
	s.mine(payout)
	paidAt := s.height()
	conf := int32(s.tcfg.WithdrawalConfirmations)
	for s.height() < paidAt+conf+1 {
		s.mine()
	}
	s.l2(paidAt + conf - 2)
	if o := s.sheet(); o.VaultSat != o.OwedSat || o.InFlightSat != 40_000_000 {
		t.Fatalf("sheet with the payout confirmed, not yet paid %+v", o)
	}
	s.l2(paidAt + conf - 1)
	ws, _, _ = tunnel.ReadWithdrawal(s.state(nil), s.tcfg.TunnelAddress, s.vaultV, 0)
	if !ws.Paid || ws.PaidTxid != payout.TxHash() {
		t.Fatalf("not paid: %+v", ws)
	}
	if o := s.sheet(); o.VaultSat != o.OwedSat || o.VaultSat != 60_000_000 || o.SupplySat != 60_000_000 || o.PendingSat != 0 {
		t.Fatalf("sheet after paid %+v", o)
	}
	if uint64(payout.TxOut[0].Value) != 40_000_000-(b.Outputs[0].Amount-b.Outputs[0].Value) {
		t.Fatalf("paid %d", payout.TxOut[0].Value)
	}
	markers := 0
	for range 3 {
		blk := s.l2(s.height() - 2)
		markers += countCalls(blk, "markPaid")
	}
	if markers != 0 {
		t.Fatalf("%d more paid markers", markers)
	}

	// A spend of the change by a transaction of no batch.
	theft := tx([]wire.OutPoint{{Hash: payout.TxHash(), Index: 1}}, wire.NewTxOut(59_000_000, payTo))
	s.mine(theft)
	s.mine()
	s.mine()
	flagged := s.l2(s.height() - 2)
	if countCalls(flagged, "flagVaultSpend") != 1 || countCalls(flagged, "flagShortfall") != 1 {
		t.Fatalf("flags in the block after the theft: %v", callNames(flagged))
	}
	if o := s.sheet(); o.Shortfall() != 60_000_000 {
		t.Fatalf("sheet after the theft %+v", o)
	}
	again := s.l2(s.height() - 2)
	if n := countCalls(again, "flagVaultSpend") + countCalls(again, "flagShortfall"); n != 0 {
		t.Fatalf("flagged again: %v", callNames(again))
	}
}

func callNames(b *chain.Block) []string {
	var out []string
	for _, stx := range b.Body.SystemTxs {
		if len(stx.Data) < 4 {
			continue
		}
		if m, err := tunnel.TunnelABI.MethodById(stx.Data[:4]); err == nil {
			out = append(out, m.Name)
		}
	}
	return out
}

func countCalls(b *chain.Block, name string) int {
	n := 0
	for _, c := range callNames(b) {
		if c == name {
			n++
		}
	}
	return n
}
