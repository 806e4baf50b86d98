package tunnel

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/big"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/params"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/rules"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/pop"
)

// fakeBitcoin is the Bitcoin a derivation reads, as of the view the test
// sets: the vault's outputs with their spends, and keystone publications.
type fakeBitcoin struct {
	outs []rules.ScriptOutput
	pubs map[[32]byte][]pop.Publication
}

func (f *fakeBitcoin) Publications(id [32]byte, _ chainhash.Hash) ([]pop.Publication, error) {
	return f.pubs[id], nil
}

func (f *fakeBitcoin) Publisher(chainhash.Hash, chainhash.Hash) (*common.Address, error) {
	return nil, nil
}

func (f *fakeBitcoin) ScriptOutputs(_ []byte, _ chainhash.Hash) ([]rules.ScriptOutput, error) {
	return append([]rules.ScriptOutput(nil), f.outs...), nil
}

// deposit adds an unspent vault output of sat at height.
func (f *fakeBitcoin) deposit(n byte, sat int64, height int32) wire.OutPoint {
	op := wire.OutPoint{Hash: chainhash.Hash(sha256.Sum256([]byte{'d', n})), Index: 1}
	f.outs = append(f.outs, rules.ScriptOutput{OutPoint: op, Value: sat, Height: height})
	return op
}

// spend marks op spent by txid at height.
func (f *fakeBitcoin) spend(op wire.OutPoint, txid chainhash.Hash, height int32) {
	for i := range f.outs {
		if f.outs[i].OutPoint == op {
			f.outs[i].Spent, f.outs[i].SpendTxid, f.outs[i].SpendHeight = true, txid, height
		}
	}
}

// wdEnv runs the withdrawal deriver against the harness predeploy: each
// step derives the next block's system transactions and executes them.
type wdEnv struct {
	*harnessEVM
	btc      *fakeBitcoin
	w        *Withdrawals
	fix      *fixture
	number   uint64 // the next block
	view     int32
	feeRate  uint64
	supply   uint64
	recorded uint64
	gasUsed  []uint64 // by the last step's transactions
}

// newWDEnv is a 2-of-3 vault with a recovery delay of 1,000 blocks (so
// no refresh unless a test asks, newWDEnvDelay), 6 deposit and withdrawal
// confirmations, re-derivation after 6 blocks, superfinal depth 10,
// keystones every 25 blocks; the view at Bitcoin height 100.
func newWDEnv(t *testing.T) *wdEnv { return newWDEnvDelay(t, 1000) }

func newWDEnvDelay(t *testing.T, delay uint16) *wdEnv {
	t.Helper()
	e := &wdEnv{harnessEVM: newHarness(t), btc: &fakeBitcoin{pubs: map[[32]byte][]pop.Publication{}}, number: 2, view: 100, feeRate: 2}
	e.fix = newFixture(t, delay)
	w, err := NewWithdrawals(WithdrawalConfig{
		Tunnel: e.addr, Vault: e.fix.vault, RecoveryDelay: delay,
		DepositConfirmations: 6, WithdrawalConfirmations: 6, RederiveBlocks: 6,
		SuperfinalDepth: 10, KeystoneInterval: 25,
		FeeRate:     func(StateReader) (uint64, error) { return e.feeRate, nil },
		Liabilities: func(StateReader) (uint64, uint64, error) { return e.supply, e.recorded, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	e.w = w
	return e
}

func ksID(k uint64) [32]byte { return [32]byte{0x4b, byte(k >> 8), byte(k)} }

// publish publishes keystone k at Bitcoin height.
func (e *wdEnv) publish(k uint64, height int32) {
	e.btc.pubs[ksID(k)] = append(e.btc.pubs[ksID(k)], pop.Publication{Keystone: ksID(k), Height: height})
}

func (e *wdEnv) derivation() *rules.Derivation {
	return &rules.Derivation{
		Parent:  &types.Header{Number: new(big.Int).SetUint64(e.number - 1)},
		Number:  e.number,
		View:    hvm.Header{Height: e.view, Hash: chainhash.Hash{byte(e.view)}},
		Bitcoin: e.btc,
		Keystone: func(k uint64) (*pop.L2Keystone, error) {
			if k == 0 || k%25 != 0 || k >= e.number {
				return nil, fmt.Errorf("no keystone %d below block %d", k, e.number)
			}
			return &pop.L2Keystone{Number: k, ID: ksID(k)}, nil
		},
		State: func() (*state.StateDB, error) { return e.st, nil },
	}
}

// step derives block e.number's withdrawal system transactions, executes
// them (each must succeed within its gas) and moves to the next block.
func (e *wdEnv) step() []*block.SystemTx {
	e.t.Helper()
	txs, err := e.w.Derive(e.derivation())
	if err != nil {
		e.t.Fatalf("derive block %d: %v", e.number, err)
	}
	e.block = e.number
	e.gasUsed = e.gasUsed[:0]
	for _, tx := range txs {
		used := e.applySystem(tx)
		if used > tx.Gas {
			e.t.Fatalf("system tx used %d gas of %d", used, tx.Gas)
		}
		e.gasUsed = append(e.gasUsed, used)
	}
	e.number++
	return txs
}

// applySystem executes a system transaction as the block processor does
// and fails the test when it reverts.
func (e *wdEnv) applySystem(tx *block.SystemTx) uint64 {
	e.t.Helper()
	bctx := vm.BlockContext{CanTransfer: core.CanTransfer, Transfer: core.Transfer,
		GetHash: func(uint64) common.Hash { return common.Hash{} }, BlockNumber: new(big.Int).SetUint64(e.number),
		Time: 1_700_000_002, GasLimit: 30_000_000, BaseFee: new(big.Int), BlobBaseFee: big.NewInt(1), Random: &common.Hash{}}
	cfg := params.MergedTestChainConfig
	evm := vm.NewEVM(bctx, e.st, cfg, vm.Config{})
	e.st.SetTxContext(tx.Hash(), 0, 0)
	r := cfg.Rules(bctx.BlockNumber, true, bctx.Time)
	used, _, err := chain.ApplySystemTx(evm, r, common.Address{}, tx)
	e.st.Finalise(r)
	if err != nil {
		e.t.Fatalf("system tx %s failed: %v", selectorOf(tx), err)
	}
	return used
}

// withdraw queues a withdrawal in block e.number-1 (the parent).
func (e *wdEnv) withdraw(script []byte, amount, maxFee uint64) uint64 {
	e.t.Helper()
	user := common.Address{0x77}
	e.credit(user, amount)
	e.block = e.number - 1
	out, _ := e.mustCall(user, must(WithdrawCalldata(script, amount, maxFee)))
	return new(big.Int).SetBytes(out).Uint64()
}

func (e *wdEnv) refund(n byte, amount uint64) uint64 {
	e.t.Helper()
	e.block = e.number - 1
	out, _ := e.mustCall(common.Address{0x78}, must(harnessExtra.Pack("queueRefund", [32]byte{n}, uint32(0), p2wpkh(int(n)), amount)))
	return new(big.Int).SetBytes(out).Uint64()
}

func selectorOf(tx *block.SystemTx) string {
	for name, m := range WithdrawalsABI.Methods {
		if bytes.Equal(tx.Data[:4], m.ID) {
			return name
		}
	}
	return fmt.Sprintf("%x", tx.Data[:4])
}

func kinds(txs []*block.SystemTx) []string {
	var out []string
	for _, tx := range txs {
		out = append(out, selectorOf(tx))
	}
	return out
}

func wantKinds(t *testing.T, txs []*block.SystemTx, want ...string) {
	t.Helper()
	got := kinds(txs)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("system txs %v, want %v", got, want)
	}
}

func (e *wdEnv) batch() *Batch {
	e.t.Helper()
	b, err := ReadBatch(e.st, e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// payoutTxid is the txid of attempt a of the open batch.
func (e *wdEnv) payoutTxid(a uint32) chainhash.Hash {
	e.t.Helper()
	ba, err := e.batch().AtAttempt(a, e.w.Fees())
	if err != nil {
		e.t.Fatal(err)
	}
	tx, err := BuildPayout(ba, e.fix.vault)
	if err != nil {
		e.t.Fatal(err)
	}
	return tx.TxHash()
}

func TestDeriveWaitsForSuperfinality(t *testing.T) {
	e := newWDEnv(t)
	e.btc.deposit(1, 10_000_000, 50)
	e.supply = 9_000_000 // after the burn
	e.withdraw(p2wpkh(1), 1_000_000, 50_000) // in block 1, covered by keystone 25
	for e.number <= 30 {
		wantKinds(t, e.step()) // keystone 25 not published
	}
	e.publish(25, 95) // 6 confirmations at view 100, depth 10
	wantKinds(t, e.step())
	e.view = 103 // 9 confirmations
	wantKinds(t, e.step())
	e.view = 104 // 10: superfinal
	txs := e.step()
	wantKinds(t, txs, "openBatch")
	b := e.batch()
	if !b.Open || b.Number != 1 || len(b.Outputs) != 1 || b.Outputs[0].ID != 0 || b.FeeRate != 2 || b.BtcHeight != 104 {
		t.Fatalf("batch %+v", b)
	}
	// A later keystone's publication makes earlier blocks superfinal too:
	// a second withdrawal is covered by keystone 50, published deep
	// enough, while keystone 25's own publication is gone.
	e2 := newWDEnv(t)
	e2.btc.deposit(1, 10_000_000, 50)
	e2.supply = 9_000_000
	e2.withdraw(p2wpkh(1), 1_000_000, 50_000)
	e2.number = 60
	e2.publish(50, 90)
	wantKinds(t, e2.step(), "openBatch")
}

func TestDeriveBatchRules(t *testing.T) {
	t.Run("refunds need no superfinality, 25 at most, id order", func(t *testing.T) {
		e := newWDEnv(t)
		e.btc.deposit(1, 100_000_000, 50)
		for i := range 30 {
			e.refund(byte(i), 100_000)
		}
		wantKinds(t, e.step(), "openBatch")
		b := e.batch()
		if len(b.Outputs) != MaxPayoutOutputs {
			t.Fatalf("%d outputs", len(b.Outputs))
		}
		for i, o := range b.Outputs {
			if o.ID != uint64(i) || !o.Refund {
				t.Fatalf("output %d is item %d", i, o.ID)
			}
		}
	})
	t.Run("a withdrawal whose share exceeds its maxFee waits, later ones go", func(t *testing.T) {
		e := newWDEnv(t)
		e.btc.deposit(1, 100_000_000, 50)
		e.feeRate = 20
		e.refund(1, 1_000_000)
		cheap := e.refund(2, 1_000_000)
		e.refund(3, 1_000_000)
		// Item 1's max fee: amount - dust - 1 = 999,705: lower it by a
		// withdrawal of a tiny max fee instead (refunds pay up to dust).
		e.withdraw(p2wpkh(9), 1_000_000, 300)
		e.number = 40
		e.publish(25, 80)
		wantKinds(t, e.step(), "openBatch")
		b := e.batch()
		if len(b.Outputs) != 3 {
			t.Fatalf("outputs %+v", b.Outputs)
		}
		for _, o := range b.Outputs {
			if o.ID == 3 {
				t.Fatal("the withdrawal with a 300 sat max fee was paid at 20 sat/vB")
			}
		}
		_ = cheap
	})
	t.Run("fee rule: the stored values are the payout's outputs", func(t *testing.T) {
		e := newWDEnv(t)
		e.btc.deposit(1, 3_000_000, 50)
		e.btc.deposit(2, 3_000_000, 51)
		e.feeRate = 7
		e.refund(1, 2_000_000)
		e.refund(2, 2_000_001)
		e.refund(3, 1_500_000)
		wantKinds(t, e.step(), "openBatch")
		b := e.batch()
		if len(b.Inputs) != 2 || b.Inputs[0].Height != 50 {
			t.Fatalf("inputs %+v (oldest first until covered)", b.Inputs)
		}
		tx, err := BuildPayout(b, e.fix.vault)
		if err != nil {
			t.Fatal(err)
		}
		var fees uint64
		for i, o := range b.Outputs {
			if uint64(tx.TxOut[i].Value) != o.Value {
				t.Fatalf("output %d: payout pays %d, state says %d", i, tx.TxOut[i].Value, o.Value)
			}
			fees += o.Amount - o.Value
		}
		if uint64(tx.TxOut[3].Value) != b.Change || b.Change != 6_000_000-5_500_001 {
			t.Fatalf("change %d / %d", tx.TxOut[3].Value, b.Change)
		}
		plan, err := PlanPayout(7, b.Inputs, b.Outputs, e.fix.vault.PkScript(), e.w.Fees().WitSize)
		if err != nil {
			t.Fatal(err)
		}
		if fees != plan.Fee || plan.Fee < 7*uint64(plan.VSize) || plan.Fee >= 7*uint64(plan.VSize)+3 {
			t.Fatalf("fees %d, plan %d at vsize %d: each output's share is rounded up, by less than 1 sat each", fees, plan.Fee, plan.VSize)
		}
	})
	t.Run("vault outputs need the confirmations", func(t *testing.T) {
		e := newWDEnv(t)
		e.btc.deposit(1, 1_000_000, 90) // the refunded deposit: too small to pay it and keep the change
		e.btc.deposit(2, 3_000_000, 96) // 5 confirmations at view 100: still confirming
		e.refund(1, 1_000_000)
		wantKinds(t, e.step()) // and no shortfall: vault 4M = refund 1M + confirming 3M
		e.view = 101
		wantKinds(t, e.step(), "openBatch")
	})
	t.Run("refresh: outputs past half the recovery delay, alone", func(t *testing.T) {
		e := newWDEnvDelay(t, 100)
		e.btc.deposit(1, 3_000_000, 52) // 49 confirmations at 100: under N/2 = 50
		e.supply = 3_000_000
		wantKinds(t, e.step())
		e.view = 101
		wantKinds(t, e.step(), "openBatch")
		b := e.batch()
		if !b.Refresh || len(b.Outputs) != 0 || b.Change != 3_000_000-b.Fee {
			t.Fatalf("refresh batch %+v", b)
		}
		// Paid: the vault paid the fee, which the balance sheet carries.
		e.btc.spend(b.Inputs[0].OutPoint, e.payoutTxid(0), 102)
		e.btc.outs = append(e.btc.outs, rules.ScriptOutput{OutPoint: wire.OutPoint{Hash: e.payoutTxid(0), Index: 0}, Value: int64(b.Change), Height: 102})
		e.view = 107
		wantKinds(t, e.step(), "markPaid")
		wantKinds(t, e.step()) // no shortfall flag: the refresh fee is accounted
	})
}

func TestDeriveBumpSchedule(t *testing.T) {
	e := newWDEnv(t)
	e.btc.deposit(1, 10_000_000, 50)
	e.feeRate = 10
	e.refund(1, 2_000_000)                 // max fee 1,999,705
	e.withdraw(p2tr(2), 1_000_000, 12_000) // covered by keystone 25
	e.number = 30
	e.publish(25, 80)
	wantKinds(t, e.step(), "openBatch")
	b := e.batch()
	if len(b.Outputs) != 2 || b.FeeRate != 10 {
		t.Fatalf("batch %+v", b)
	}
	for e.view = 101; e.view < 106; e.view++ {
		wantKinds(t, e.step()) // under RederiveBlocks
	}
	e.view = 106
	wantKinds(t, e.step(), "openBatch")
	b1 := e.batch()
	if b1.Attempt != 1 || b1.FeeRate != BumpRate(10, 10) || b1.BtcHeight != 106 {
		t.Fatalf("attempt 1 %+v, want rate %d", b1, BumpRate(10, 10))
	}
	// The view's rate jumps: the next attempt is capped where the
	// withdrawal's share reaches its 12,000 sat max fee.
	e.feeRate = 500
	e.view = 112
	wantKinds(t, e.step(), "openBatch")
	b2 := e.batch()
	capRate := MaxRate(b2.Inputs, b2.Outputs, e.fix.vault.PkScript(), e.w.Fees().WitSize)
	if b2.Attempt != 2 || b2.FeeRate != capRate || capRate >= 500 {
		t.Fatalf("attempt 2 rate %d, cap %d", b2.FeeRate, capRate)
	}
	for _, o := range b2.Outputs {
		if o.Amount-o.Value > o.MaxFee {
			t.Fatalf("output %d pays %d fee over its max %d", o.ID, o.Amount-o.Value, o.MaxFee)
		}
	}
	// At the cap: no further attempt.
	e.view = 130
	wantKinds(t, e.step())
	if r := e.batch().AttemptRates; len(r) != 3 || r[0] != 10 {
		t.Fatalf("attempt rates %v", r)
	}
	// Any attempt may confirm: attempt 1's payout is marked paid.
	tx1 := e.payoutTxid(1)
	e.btc.spend(b.Inputs[0].OutPoint, tx1, 131)
	e.view = 135
	wantKinds(t, e.step())
	e.view = 136
	txs := e.step()
	wantKinds(t, txs, "markPaid")
	args, err := WithdrawalsABI.Methods["markPaid"].Inputs.Unpack(txs[0].Data[4:])
	if err != nil || args[1].(uint32) != 1 || args[2].([32]byte) != tx1 {
		t.Fatalf("markPaid args %v %v", args, err)
	}
}

func TestDerivePaidOnceAndFlags(t *testing.T) {
	e := newWDEnv(t)
	in := e.btc.deposit(1, 10_000_000, 50)
	e.supply = 10_000_000 - 1_000_000
	e.refund(1, 1_000_000)
	e.supply -= 0
	wantKinds(t, e.step(), "openBatch")
	b := e.batch()
	txid := e.payoutTxid(0)
	// Confirmed: the vault gave the amount; not yet paid, no shortfall.
	e.btc.spend(in, txid, 101)
	e.btc.outs = append(e.btc.outs, rules.ScriptOutput{OutPoint: wire.OutPoint{Hash: txid, Index: 1}, Value: int64(b.Change), Height: 101})
	for e.view = 101; e.view < 106; e.view++ {
		wantKinds(t, e.step())
	}
	wantKinds(t, e.step(), "markPaid")
	for range 3 {
		wantKinds(t, e.step()) // paid once; its spend is known, not flagged
	}
	if it, _, _ := ReadItem(e.st, e.addr, 0); it.Status != StatusPaid {
		t.Fatalf("item %+v", it)
	}

	// A spend of a vault output by a transaction of no batch: flagged
	// once, and the vault now holds less than it owes: shortfall flagged.
	e.btc.spend(wire.OutPoint{Hash: txid, Index: 1}, chainhash.Hash{0xba, 0xd}, 107)
	e.view = 107
	txs := e.step()
	wantKinds(t, txs, "flagVaultSpend", "flagShortfall")
	if txs[0].SourceHash != block.SourceHash(DomainTunnelVaultFlag, chainhash.Hash{0xba, 0xd}, e.number-1) {
		t.Fatal("flag source hash")
	}
	wantKinds(t, e.step()) // flagged once; the same shortfall is not re-flagged
	if h := ReadQueueHead(e.st, e.addr); h.LastShortfall != 9_000_000 {
		t.Fatalf("last shortfall %d", h.LastShortfall)
	}
	// Covered again (supply burned elsewhere): the end is flagged.
	e.supply = 0
	wantKinds(t, e.step(), "flagShortfall")
	if h := ReadQueueHead(e.st, e.addr); h.LastShortfall != 0 {
		t.Fatalf("last shortfall %d", h.LastShortfall)
	}
}

func TestDeriveUnmatchedSpendCancelsBatch(t *testing.T) {
	e := newWDEnv(t)
	in := e.btc.deposit(1, 10_000_000, 50)
	e.supply = 9_000_000
	e.refund(1, 1_000_000)
	wantKinds(t, e.step(), "openBatch")
	e.btc.spend(in, chainhash.Hash{0xee}, 101)
	e.view = 101
	// Flagged (the batch cancelled by it) and the vault is empty.
	wantKinds(t, e.step(), "flagVaultSpend", "flagShortfall")
	if b := e.batch(); b.Open {
		t.Fatal("batch still open")
	}
	if it, _, _ := ReadItem(e.st, e.addr, 0); it.Status != StatusQueued {
		t.Fatalf("refund not back in the queue: %+v", it)
	}
	// A new deposit lets batch 2 pay the refund.
	e.btc.deposit(2, 5_000_000, 90)
	e.supply = 4_000_000
	e.view = 102
	txs := e.step()
	wantKinds(t, txs, "openBatch", "flagShortfall")
	if b := e.batch(); b.Number != 2 || b.Outputs[0].ID != 0 {
		t.Fatalf("batch %+v", b)
	}
}

func TestSystemCallGas(t *testing.T) {
	e := newWDEnv(t)
	for i := range MaxPayoutInputs {
		e.btc.deposit(byte(i), 100_000, 10)
	}
	for i := range MaxPayoutOutputs {
		e.refund(byte(i), 399_000)
	}
	e.feeRate = 1
	txs := e.step() // applies within each transaction's gas or fails
	wantKinds(t, txs, "openBatch")
	b := e.batch()
	if len(b.Outputs) != MaxPayoutOutputs || len(b.Inputs) != MaxPayoutInputs {
		t.Fatalf("%d outputs, %d inputs", len(b.Outputs), len(b.Inputs))
	}
	t.Logf("openBatch of %d inputs, %d outputs: %d gas of %d", len(b.Inputs), len(b.Outputs), e.gasUsed[0], uint64(BatchGas))
	// Paid: the heaviest marker.
	e.btc.spend(b.Inputs[0].OutPoint, e.payoutTxid(0), 101)
	e.view = 106
	wantKinds(t, e.step(), "markPaid")
	t.Logf("markPaid of %d outputs: %d gas of %d", len(b.Outputs), e.gasUsed[0], uint64(PaidGas))
}

// p2tr is a deterministic P2TR script.
func p2tr(i int) []byte {
	h := sha256.Sum256([]byte(fmt.Sprintf("p2tr-%d", i)))
	return append([]byte{0x51, 0x20}, h[:]...)
}
