package tunnel

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"fmt"
	"math/big"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"
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
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/chain/rules"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/pop"
)

// fakeBitcoin is the Bitcoin a derivation reads, as of the view the test
// sets: the vault's outputs with their spends, and keystone publications.
type fakeBitcoin struct {
	outs       []rules.ScriptOutput
	pubs       map[[32]byte][]pop.Publication
	spendReads int
}

func (f *fakeBitcoin) Publications(id [32]byte, _ chainhash.Hash) ([]pop.Publication, error) {
	return f.pubs[id], nil
}

func (f *fakeBitcoin) Publisher(chainhash.Hash, chainhash.Hash) (*common.Address, error) {
	return nil, nil
}

// ScriptUnspent: the unspent outputs in the order the test added them
// (its Bitcoin order), the first max.
func (f *fakeBitcoin) ScriptUnspent(_ []byte, max int, _ chainhash.Hash) ([]rules.ScriptOutput, error) {
	var out []rules.ScriptOutput
	for _, o := range f.outs {
		if !o.Spent && len(out) < max {
			out = append(out, o)
		}
	}
	return out, nil
}

func (f *fakeBitcoin) ScriptBalance(_ []byte, _ chainhash.Hash) (int64, error) {
	var sum int64
	for _, o := range f.outs {
		if !o.Spent {
			sum += o.Value
		}
	}
	return sum, nil
}

func (f *fakeBitcoin) ScriptSpends(_ []byte, from, to int32, _ chainhash.Hash) ([]rules.ScriptOutput, error) {
	f.spendReads++
	var out []rules.ScriptOutput
	for _, o := range f.outs {
		if o.Spent && o.SpendHeight >= from && o.SpendHeight <= to {
			out = append(out, o)
		}
	}
	return out, nil
}

// HeaderHashAt: one chain, whose block at height h has the hash the
// test's views use (derivation).
func (f *fakeBitcoin) HeaderHashAt(h int32, _ chainhash.Hash) (chainhash.Hash, bool, error) {
	return chainhash.Hash{byte(h)}, true, nil
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

// wdEnv runs the withdrawal deriver against the genesis tunnel
// predeploys (contracts/Tunnel.sol over TunnelWithdrawals.sol, and
// hBTC): each step derives the next block's system transactions and
// executes them as the block processor does. Deposits are minted,
// refunded and the fee rate recorded by the deposit side's own system
// calls (l2abi.go), so the balance sheet is the real one.
type wdEnv struct {
	*harnessEVM
	btc     *fakeBitcoin
	w       *Withdrawals
	tc      *genesis.TunnelConfig
	vault   *Vault
	number  uint64 // the next block
	view    int32
	gasUsed []uint64 // by the last step's transactions
	// gasLeft is the derivation's GasLeft; 0: the deriver's worst case,
	// at least what a chain with a valid genesis gives it.
	gasLeft uint64
	// parent is the last derived block's parent header: the next
	// derivation's parent chains to it, so the vault watch's memo
	// carries from block to block (full is the same deriver without it,
	// which every step compares with).
	parent   *types.Header
	lastView int32
	full     *Withdrawals
}

// newWDEnv is the devnet tunnel (2-of-3) with a recovery delay of 1,000
// blocks (no refresh unless a test asks, newWDEnvDelay), 6 deposit and
// withdrawal confirmations, re-derivation after 6 blocks, superfinal
// depth 10, keystones every 25 blocks; the view at Bitcoin height 100
// and the recorded fee rate 2 sat/vB.
func newWDEnv(t *testing.T) *wdEnv { return newWDEnvDelay(t, 1000) }

func newWDEnvDelay(t *testing.T, delay uint16) *wdEnv {
	t.Helper()
	tc, err := genesis.DevTunnelConfig()
	if err != nil {
		t.Fatal(err)
	}
	tc.RecoveryDelay = delay
	v, err := NewVault(tc, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	alloc, err := genesis.TunnelPredeploys(tc, hvm.Header{Height: 7, Header: chaincfg.RegressionNetParams.GenesisBlock.Header})
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.New(types.EmptyRootHash, state.NewDatabaseForTesting())
	if err != nil {
		t.Fatal(err)
	}
	for addr, acc := range alloc {
		st.SetCode(addr, acc.Code, 0)
		st.SetNonce(addr, acc.Nonce, 0)
		for k, val := range acc.Storage {
			st.SetState(addr, k, val)
		}
	}
	e := &wdEnv{harnessEVM: &harnessEVM{t: t, st: st, addr: tc.TunnelAddress, block: 1}, tc: tc, vault: v,
		btc: &fakeBitcoin{pubs: map[[32]byte][]pop.Publication{}}, number: 2, view: 100}
	w, err := NewWithdrawals(WithdrawalConfig{Tunnel: tc, Vault: v, SuperfinalDepth: 10, KeystoneInterval: 25})
	if err != nil {
		t.Fatal(err)
	}
	e.w = w
	e.setFeeRate(2)
	return e
}

// system executes a deposit-side system call to the Tunnel in the parent
// block.
func (e *wdEnv) system(data []byte) {
	e.t.Helper()
	to := e.tc.TunnelAddress
	e.applySystem(&block.SystemTx{From: genesis.SystemAddress, To: &to, Gas: DepositGas, Data: data, SourceHash: common.Hash(sha256.Sum256(data))})
}

func (e *wdEnv) setFeeRate(r uint64) { e.system(SetFeeRateCalldata(r, uint32(e.view))) }

// fund deposits sat to the vault at height and mints it to user.
func (e *wdEnv) fund(n byte, user common.Address, sat int64, height int32) wire.OutPoint {
	op := e.btc.deposit(n, sat, height)
	e.system(MintCalldata(op, user, uint64(sat)))
	return op
}

// refundDeposit deposits sat at height without a recipient: queued for
// refund to p2wpkh(n). It returns the refund's id.
func (e *wdEnv) refundDeposit(n byte, sat int64, height int32) uint64 {
	op := e.btc.deposit(n, sat, height)
	id := ReadQueueHead(e.st, e.addr).NextID
	e.system(RefundDepositCalldata(op, common.Address{}, p2wpkh(int(n)), uint64(sat), 1))
	if it, ok, _ := ReadItem(e.st, e.addr, id); !ok || it.Kind != KindRefund {
		e.t.Fatalf("refund %d not queued: %+v", id, it)
	}
	return id
}

func ksID(k uint64) [32]byte { return [32]byte{0x4b, byte(k >> 8), byte(k)} }

// publish publishes keystone k at Bitcoin height.
func (e *wdEnv) publish(k uint64, height int32) {
	e.btc.pubs[ksID(k)] = append(e.btc.pubs[ksID(k)], pop.Publication{Keystone: ksID(k), Height: height})
}

func (e *wdEnv) derivation() *rules.Derivation {
	parent := &types.Header{Number: new(big.Int).SetUint64(e.number - 1)}
	if p := e.parent; p != nil {
		parent.ParentHash, parent.MixDigest = p.Hash(), rules.Random(chainhash.Hash{byte(e.lastView)})
	}
	return &rules.Derivation{
		Parent:  parent,
		Number:  e.number,
		View:    hvm.Header{Height: e.view, Hash: chainhash.Hash{byte(e.view)}},
		Bitcoin: e.btc,
		Keystone: func(k uint64) (*pop.L2Keystone, error) {
			if k == 0 || k%25 != 0 || k >= e.number {
				return nil, fmt.Errorf("no keystone %d below block %d", k, e.number)
			}
			return &pop.L2Keystone{Number: k, ID: ksID(k)}, nil
		},
		State:   func() (*state.StateDB, error) { return e.st, nil },
		GasLeft: cmp.Or(e.gasLeft, genesis.TunnelWithdrawalGas()),
	}
}

// step derives block e.number's withdrawal system transactions, executes
// them (each must succeed within its gas) and moves to the next block.
func (e *wdEnv) step() []*block.SystemTx {
	e.t.Helper()
	d := e.derivation()
	txs, err := e.w.Derive(d)
	if err != nil {
		e.t.Fatalf("derive block %d: %v", e.number, err)
	}
	// The same block derived without the vault watch's memo (every spend
	// read from the start) must be the same.
	if e.full == nil {
		e.full = must(NewWithdrawals(e.w.cfg))
		e.full.useMemo = false
	}
	txs2, err := e.full.Derive(e.derivation())
	if err != nil {
		e.t.Fatalf("derive block %d without the memo: %v", e.number, err)
	}
	if fmt.Sprint(kinds(txs)) != fmt.Sprint(kinds(txs2)) || len(txs) != len(txs2) {
		e.t.Fatalf("block %d: with the memo %v, without %v", e.number, kinds(txs), kinds(txs2))
	}
	for i := range txs {
		if txs[i].Hash() != txs2[i].Hash() {
			e.t.Fatalf("block %d: system tx %d differs with the memo", e.number, i)
		}
	}
	e.parent, e.lastView = d.Parent, e.view
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
		GetHash: func(uint64) common.Hash { return common.Hash{} }, BlockNumber: new(big.Int).SetUint64(e.block),
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

// withdraw burns hBTC of a funded user in block e.number-1 (the parent)
// and returns the withdrawal's id.
func (e *wdEnv) withdraw(user common.Address, script []byte, amount, maxFee uint64) uint64 {
	e.t.Helper()
	e.block = e.number - 1
	out, _ := e.mustCall(user, must(WithdrawCalldata(script, amount, maxFee)))
	return new(big.Int).SetBytes(out).Uint64()
}

func selectorOf(tx *block.SystemTx) string {
	for name, m := range TunnelABI.Methods {
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
	tx, err := BuildPayout(ba, e.vault)
	if err != nil {
		e.t.Fatal(err)
	}
	return tx.TxHash()
}

var alice = common.Address{0xa1}

func TestDeriveWaitsForSuperfinality(t *testing.T) {
	e := newWDEnv(t)
	e.fund(1, alice, 10_000_000, 50)
	e.withdraw(alice, p2wpkh(1), 1_000_000, 50_000) // in block 1, covered by keystone 25
	for e.number <= 30 {
		wantKinds(t, e.step()) // keystone 25 not published
	}
	e.publish(25, 95) // 6 confirmations at view 100, depth 10
	wantKinds(t, e.step())
	e.view = 103 // 9 confirmations
	wantKinds(t, e.step())
	e.view = 104 // 10: superfinal
	wantKinds(t, e.step(), "openBatch")
	b := e.batch()
	if !b.Open || b.Number != 1 || len(b.Outputs) != 1 || b.Outputs[0].ID != 0 || b.FeeRate != 2 || b.BtcHeight != 104 {
		t.Fatalf("batch %+v", b)
	}
	// A later keystone's publication makes earlier blocks superfinal
	// too: keystone 50 published deep enough, keystone 25 never.
	e2 := newWDEnv(t)
	e2.fund(1, alice, 10_000_000, 50)
	e2.withdraw(alice, p2wpkh(1), 1_000_000, 50_000)
	e2.number = 60
	e2.publish(50, 90)
	wantKinds(t, e2.step(), "openBatch")
	// A withdrawal above the newest superfinal keystone waits.
	e3 := newWDEnv(t)
	e3.fund(1, alice, 10_000_000, 50)
	e3.number = 60
	e3.withdraw(alice, p2wpkh(1), 1_000_000, 50_000) // block 59, covered by keystone 75
	e3.number = 80
	e3.publish(50, 90)
	e3.publish(75, 95)
	wantKinds(t, e3.step())
}

func TestDeriveBatchRules(t *testing.T) {
	t.Run("refunds need no superfinality, 25 at most, id order", func(t *testing.T) {
		e := newWDEnv(t)
		e.fund(100, alice, 100_000_000, 40)
		for i := range 30 {
			e.refundDeposit(byte(i), 100_000, 50)
		}
		wantKinds(t, e.step(), "openBatch")
		b := e.batch()
		if len(b.Outputs) != MaxPayoutOutputs || len(b.Inputs) != 1 {
			t.Fatalf("%d outputs, %d inputs", len(b.Outputs), len(b.Inputs))
		}
		for i, o := range b.Outputs {
			if o.ID != uint64(i) || !o.Refund {
				t.Fatalf("output %d is item %d", i, o.ID)
			}
		}
	})
	t.Run("a withdrawal whose share exceeds its maxFee waits, later ones go", func(t *testing.T) {
		e := newWDEnv(t)
		e.fund(100, alice, 100_000_000, 40)
		e.setFeeRate(20)
		e.refundDeposit(1, 1_000_000, 50)
		e.refundDeposit(2, 1_000_000, 50)
		e.withdraw(alice, p2wpkh(9), 1_000_000, 300) // id 2: its own 31 vB cost 620 sat at 20 sat/vB
		e.refundDeposit(3, 1_000_000, 50)
		e.number = 40
		e.publish(25, 80)
		wantKinds(t, e.step(), "openBatch")
		b := e.batch()
		var ids []uint64
		for _, o := range b.Outputs {
			ids = append(ids, o.ID)
		}
		if fmt.Sprint(ids) != "[0 1 3]" {
			t.Fatalf("batch pays %v, want [0 1 3]", ids)
		}
		if it, _, _ := ReadItem(e.st, e.addr, 2); it.Status != StatusQueued {
			t.Fatalf("the waiting withdrawal %+v", it)
		}
	})
	t.Run("fee rule: the stored values are the payout's outputs", func(t *testing.T) {
		e := newWDEnv(t)
		e.fund(100, alice, 3_000_000, 49)
		e.setFeeRate(7)
		e.refundDeposit(1, 2_000_000, 50)
		e.refundDeposit(2, 2_000_001, 51)
		e.refundDeposit(3, 1_500_000, 52)
		wantKinds(t, e.step(), "openBatch")
		b := e.batch()
		if len(b.Inputs) != 3 || b.Inputs[0].Height != 49 || b.Inputs[2].Height != 51 {
			t.Fatalf("inputs %+v (oldest first until covered)", b.Inputs)
		}
		tx, err := BuildPayout(b, e.vault)
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
		if uint64(tx.TxOut[3].Value) != b.Change || b.Change != 7_000_001-5_500_001 {
			t.Fatalf("change %d / %d", tx.TxOut[3].Value, b.Change)
		}
		plan, err := PlanPayout(7, b.Inputs, b.Outputs, e.vault.PkScript(), e.w.Fees().WitSize)
		if err != nil {
			t.Fatal(err)
		}
		if fees != plan.Fee || fees != b.Fee || plan.Fee < 7*uint64(plan.VSize) || plan.Fee >= 7*uint64(plan.VSize)+3 {
			t.Fatalf("fees %d, plan %d at vsize %d: each output's share is rounded up, by less than 1 sat each", fees, plan.Fee, plan.VSize)
		}
	})
	t.Run("vault outputs need the confirmations", func(t *testing.T) {
		e := newWDEnv(t)
		e.refundDeposit(1, 1_000_000, 90) // too small to pay its own refund and keep the change
		e.btc.deposit(2, 3_000_000, 96)   // 5 confirmations at view 100: not processed yet
		wantKinds(t, e.step())            // and no shortfall: vault 4M = refund 1M + confirming 3M
		e.view = 101
		wantKinds(t, e.step(), "openBatch")
		if b := e.batch(); len(b.Inputs) != 2 {
			t.Fatalf("inputs %+v", b.Inputs)
		}
	})
	t.Run("refresh: outputs past half the recovery delay, alone", func(t *testing.T) {
		e := newWDEnvDelay(t, 100)
		e.fund(1, alice, 3_000_000, 52) // 49 confirmations at 100: under N/2 = 50
		wantKinds(t, e.step())
		e.view = 101
		wantKinds(t, e.step(), "openBatch")
		b := e.batch()
		if !b.Refresh || len(b.Outputs) != 0 || b.Change != 3_000_000-b.Fee || b.Fee == 0 {
			t.Fatalf("refresh batch %+v", b)
		}
		// Paid: the vault paid the fee, which the balance sheet carries.
		txid := e.payoutTxid(0)
		e.btc.spend(b.Inputs[0].OutPoint, txid, 102)
		e.btc.outs = append(e.btc.outs, rules.ScriptOutput{OutPoint: wire.OutPoint{Hash: txid, Index: 0}, Value: int64(b.Change), Height: 102})
		e.view = 106
		wantKinds(t, e.step()) // confirmed, 5 confirmations: no shortfall meanwhile
		e.view = 107
		wantKinds(t, e.step(), "markPaid")
		wantKinds(t, e.step()) // no shortfall flag: the refresh fee is accounted
		if b := e.batch(); b.RefreshFees != b.Fee {
			t.Fatalf("refresh fees %d, fee %d", b.RefreshFees, b.Fee)
		}
	})
}

func TestDeriveBumpSchedule(t *testing.T) {
	e := newWDEnv(t)
	e.fund(1, alice, 10_000_000, 50)
	e.setFeeRate(10)
	e.refundDeposit(2, 2_000_000, 51)                   // id 0, max fee 1,999,705
	e.withdraw(alice, scriptP2TR(2), 1_000_000, 12_000) // id 1, covered by keystone 25
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
	e.setFeeRate(500)
	e.view = 112
	wantKinds(t, e.step(), "openBatch")
	b2 := e.batch()
	capRate := MaxRate(b2.Inputs, b2.Outputs, e.vault.PkScript(), e.w.Fees().WitSize)
	if b2.Attempt != 2 || b2.FeeRate != capRate || capRate >= 500 || capRate <= b1.FeeRate {
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
	e.btc.outs = append(e.btc.outs, rules.ScriptOutput{OutPoint: wire.OutPoint{Hash: tx1, Index: 2}, Value: int64(b.Change), Height: 131})
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
	in := e.fund(1, alice, 9_000_000, 50)
	e.refundDeposit(2, 1_000_000, 51)
	wantKinds(t, e.step(), "openBatch")
	b := e.batch()
	if len(b.Inputs) != 1 || b.Inputs[0].OutPoint != in {
		t.Fatalf("inputs %+v", b.Inputs)
	}
	txid := e.payoutTxid(0)
	// Confirmed: the vault gave the amount; not yet paid, no shortfall.
	e.btc.spend(in, txid, 101)
	change := wire.OutPoint{Hash: txid, Index: 1}
	e.btc.outs = append(e.btc.outs, rules.ScriptOutput{OutPoint: change, Value: int64(b.Change), Height: 101})
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
	thief := chainhash.Hash{0xba, 0xd}
	e.btc.spend(change, thief, 107)
	e.view = 107
	txs := e.step()
	wantKinds(t, txs, "flagVaultSpend", "flagShortfall")
	if txs[0].SourceHash != block.SourceHash(DomainTunnelVaultFlag, thief, e.number-1) {
		t.Fatal("flag source hash")
	}
	wantKinds(t, e.step()) // flagged once; the same shortfall is not re-flagged
	if h := ReadQueueHead(e.st, e.addr); h.LastShortfall != 8_000_000 {
		t.Fatalf("last shortfall %d", h.LastShortfall)
	}
	// The BTC comes back to the vault (from the spender, so no deposit):
	// the end of the shortfall is flagged.
	e.btc.outs = append(e.btc.outs, rules.ScriptOutput{OutPoint: wire.OutPoint{Hash: thief}, Value: 8_000_000, Height: 108})
	e.view = 108
	wantKinds(t, e.step(), "flagShortfall")
	if h := ReadQueueHead(e.st, e.addr); h.LastShortfall != 0 {
		t.Fatalf("last shortfall %d", h.LastShortfall)
	}
	wantKinds(t, e.step())
}

func TestDeriveUnmatchedSpendCancelsBatch(t *testing.T) {
	e := newWDEnv(t)
	in := e.fund(1, alice, 9_000_000, 50)
	e.refundDeposit(2, 1_000_000, 51)
	wantKinds(t, e.step(), "openBatch")
	e.btc.spend(in, chainhash.Hash{0xee}, 101)
	e.view = 101
	// Flagged (the batch cancelled by it) and the vault is short.
	wantKinds(t, e.step(), "flagVaultSpend", "flagShortfall")
	if b := e.batch(); b.Open {
		t.Fatal("batch still open")
	}
	if it, _, _ := ReadItem(e.st, e.addr, 0); it.Status != StatusQueued {
		t.Fatalf("refund not back in the queue: %+v", it)
	}
	// A new deposit lets batch 2 pay the refund (the shortfall stands).
	e.fund(3, common.Address{0xb0}, 5_000_000, 90)
	e.view = 102
	wantKinds(t, e.step(), "openBatch")
	if b := e.batch(); b.Number != 2 || b.Outputs[0].ID != 0 || len(b.Inputs) != 2 {
		t.Fatalf("batch %+v", b)
	}
}

func TestSystemCallGas(t *testing.T) {
	e := newWDEnv(t)
	for i := range MaxPayoutInputs {
		e.fund(byte(i), alice, 100_000, 10)
	}
	for i := range MaxPayoutOutputs {
		e.refundDeposit(byte(200+i), 399_000, 11)
	}
	e.setFeeRate(1)
	wantKinds(t, e.step(), "openBatch") // within each transaction's gas, or the step fails
	b := e.batch()
	if len(b.Outputs) != MaxPayoutOutputs || len(b.Inputs) != MaxPayoutInputs {
		t.Fatalf("%d outputs, %d inputs", len(b.Outputs), len(b.Inputs))
	}
	t.Logf("openBatch of %d inputs, %d outputs: %d gas of %d", len(b.Inputs), len(b.Outputs), e.gasUsed[0], uint64(BatchGas))
	e.btc.spend(b.Inputs[0].OutPoint, e.payoutTxid(0), 101)
	e.view = 106
	wantKinds(t, e.step(), "markPaid")
	t.Logf("markPaid of %d outputs: %d gas of %d", len(b.Outputs), e.gasUsed[0], uint64(PaidGas))
}

// scriptP2TR is a deterministic P2TR script.
func scriptP2TR(i int) []byte {
	h := sha256.Sum256([]byte(fmt.Sprintf("p2tr-%d", i)))
	return append([]byte{0x51, 0x20}, h[:]...)
}

// TestReadWithdrawal follows one withdrawal through its states as
// hemi_getWithdrawal reads them.
func TestReadWithdrawal(t *testing.T) {
	e := newWDEnv(t)
	in := e.fund(1, alice, 9_000_000, 50)
	id := e.withdraw(alice, p2wpkh(3), 1_000_000, 40_000)
	read := func() *WithdrawalState {
		t.Helper()
		ws, ok, err := ReadWithdrawal(e.st, e.addr, e.vault, id)
		if err != nil || !ok {
			t.Fatalf("ReadWithdrawal: %v %v", ok, err)
		}
		return ws
	}
	if ws := read(); ws.Item.Status != StatusQueued || ws.InOpenBatch || ws.Paid || ws.Item.From != alice || ws.Item.L2Block != 1 {
		t.Fatalf("queued %+v", ws)
	}
	if _, ok, err := ReadWithdrawal(e.st, e.addr, e.vault, id+1); ok || err != nil {
		t.Fatalf("an unknown id: %v %v", ok, err)
	}
	e.number = 30
	e.publish(25, 80)
	wantKinds(t, e.step(), "openBatch")
	ws := read()
	if !ws.InOpenBatch || ws.Batch.Number != 1 || ws.K != 2 || ws.Posted != 0 || ws.PayoutTxid != e.payoutTxid(0) ||
		ws.Value != ws.Batch.Outputs[0].Value || ws.Value >= 1_000_000 {
		t.Fatalf("in batch %+v", ws)
	}
	for _, signer := range []uint8{2, 0, 2} {
		e.mustCall(common.Address{0x5e, signer}, must(PostSignaturesCalldata(1, 0, signer, [][]byte{bytes.Repeat([]byte{1}, 64)})))
	}
	if ws := read(); ws.Posted != 2 {
		t.Fatalf("posted %d, want 2 distinct signers", ws.Posted)
	}
	txid := e.payoutTxid(0)
	e.btc.spend(in, txid, 101)
	e.btc.outs = append(e.btc.outs, rules.ScriptOutput{OutPoint: wire.OutPoint{Hash: txid, Index: 1}, Value: int64(ws.Batch.Change), Height: 101})
	e.view = 106
	wantKinds(t, e.step(), "markPaid")
	if ws := read(); !ws.Paid || ws.PaidTxid != txid || ws.InOpenBatch {
		t.Fatalf("paid %+v", ws)
	}
}
