package tunnel

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/chain/rules"
)

// gasMeter records the most gas each kind of tunnel system transaction
// used in the worst cases below.
type gasMeter map[string]uint64

func (m gasMeter) add(kind string, used uint64) {
	m[kind] = max(m[kind], used)
}

// measure executes data as a system transaction to the Tunnel with gas
// and returns what it used (the test fails when it reverts).
func (e *wdEnv) measure(data []byte, gas uint64) uint64 {
	e.t.Helper()
	to := e.tc.TunnelAddress
	return e.applySystem(&block.SystemTx{From: genesis.SystemAddress, To: &to, Gas: gas, Data: data,
		SourceHash: common.Hash(sha256.Sum256(data))})
}

// stepMeasure steps and records each transaction's gas under its kind.
func (e *wdEnv) stepMeasure(m gasMeter) []*block.SystemTx {
	e.t.Helper()
	txs := e.step()
	for i, tx := range txs {
		k := selectorOf(tx)
		if k == "flagVaultSpend" && tx.Data[len(tx.Data)-1] == 1 {
			k += "(cancel)"
		}
		m.add(k, e.gasUsed[i])
	}
	return txs
}

// depositOp is a deterministic vault outpoint at vout.
func depositOp(n int, vout uint32) wire.OutPoint {
	return wire.OutPoint{Hash: chainhash.Hash(sha256.Sum256([]byte(fmt.Sprint("gas deposit ", n)))), Index: vout}
}

// measureDepositSide runs each deposit-side system call in its costliest
// state: the first of its kind on a fresh tunnel (every slot it writes
// goes from zero to non-zero, the supply and the queue head included),
// the refund with a 34-byte script (P2TR: three storage slots) and vout 0
// (a zero item word), then MaxDepositsPerBlockLimit mixed ones in a row.
func measureDepositSide(t *testing.T, m gasMeter) {
	big := uint64(genesis.MaxJSONInt)
	fresh := func() *wdEnv { return newWDEnv(t) }
	{
		e := fresh()
		m.add("mint", e.measure(MintCalldata(depositOp(0, 0), common.Address{0xa0}, 100_000_000), big))
		m.add("mint", e.measure(MintCalldata(depositOp(1, 0), common.Address{0xa1}, 100_000_000), big))
		m.add("mint", e.measure(MintCalldata(depositOp(2, 0), common.Address{}, 100_000_000), big)) // recorded
	}
	{
		e := fresh()
		m.add("refundDeposit", e.measure(RefundDepositCalldata(depositOp(0, 0), common.Address{0xa0}, scriptP2TR(0), 100_000, 2), big))
		m.add("refundDeposit", e.measure(RefundDepositCalldata(depositOp(1, 0), common.Address{}, scriptP2TR(1), 100_000, 1), big))
	}
	{
		e := fresh()
		m.add("recordDeposit", e.measure(RecordDepositCalldata(depositOp(0, 0), common.Address{0xa0}, 100, 4), big))
	}
	{
		e := fresh()
		m.add("setDepositCursor", e.measure(SetDepositCursorCalldata(Cursor{}), big)) // a zero cursor word
		m.add("setDepositCursor", e.measure(SetDepositCursorCalldata(Cursor{Height: ^uint32(0), TxPos: ^uint32(0), Vout: ^uint32(0)}), big))
		m.add("setFeeRate", e.measure(SetFeeRateCalldata(MaxFeeRate, ^uint32(0)), big))
	}
	{
		// A run of deposits, each kind in turn, as one block's would be.
		e := fresh()
		for i := range 3 * 64 {
			op := depositOp(1000+i, uint32(i%2))
			switch i % 3 {
			case 0:
				m.add("mint", e.measure(MintCalldata(op, common.Address{0xb0, byte(i)}, 50_000+uint64(i)), big))
			case 1:
				m.add("refundDeposit", e.measure(RefundDepositCalldata(op, common.Address{}, scriptP2TR(i), 5_000, 2), big))
			default:
				m.add("recordDeposit", e.measure(RecordDepositCalldata(op, common.Address{0xb0, byte(i)}, 700, 4), big))
			}
		}
	}
}

// measureBatches runs the withdrawal side's worst cases through the
// deriver: the first batch ever (every array slot new) of
// MaxPayoutInputs inputs, all past the refresh age, and MaxPayoutOutputs
// outputs, once of refunds with vout 0 and P2TR scripts (zero item words)
// and once of withdrawals; its re-derivation; its paid marker; a
// vault-spend flag that cancels it; plain flags and shortfall flags.
func measureBatches(t *testing.T, m gasMeter) {
	for _, refunds := range []bool{true, false} {
		e := newWDEnvDelay(t, 20) // refresh age 10: every input below is old
		var ins []wire.OutPoint
		for i := range MaxPayoutInputs {
			ins = append(ins, e.fund(byte(i), alice, 1_000_000, 10))
		}
		for i := range MaxPayoutOutputs {
			if refunds {
				op := wire.OutPoint{Hash: chainhash.Hash(sha256.Sum256([]byte{'r', byte(i)}))} // vout 0
				e.btc.outs = append(e.btc.outs, rules.ScriptOutput{OutPoint: op, Value: 600_000, Height: 11})
				e.system(RefundDepositCalldata(op, common.Address{}, scriptP2TR(i), 600_000, 1))
			} else {
				e.withdraw(alice, scriptP2TR(i), 600_000, 300_000)
			}
		}
		if !refunds {
			e.number = 30
			e.publish(25, 80)
		}
		wantKinds(t, e.stepMeasure(m), "openBatch")
		b := e.batch()
		if len(b.Outputs) != MaxPayoutOutputs || len(b.Inputs) != MaxPayoutInputs {
			t.Fatalf("%d outputs, %d inputs", len(b.Outputs), len(b.Inputs))
		}
		// Re-derived at a higher rate.
		e.setFeeRate(10)
		e.view += int32(e.tc.RederiveBlocks)
		wantKinds(t, e.stepMeasure(m), "openBatch")
		if b := e.batch(); b.Attempt != 1 {
			t.Fatalf("attempt %d", b.Attempt)
		}
		if refunds {
			// Paid by attempt 1.
			e.btc.spend(ins[0], e.payoutTxid(1), e.view+1)
			e.view += int32(e.tc.WithdrawalConfirmations)
			txs := e.stepMeasure(m)
			if kinds(txs)[0] != "markPaid" {
				t.Fatalf("system txs %v", kinds(txs))
			}
		} else {
			// Spent by a transaction of no attempt: flagged, cancelled.
			e.btc.spend(ins[0], chainhash.Hash{0xee}, e.view+1)
			e.view++
			txs := e.stepMeasure(m)
			if kinds(txs)[0] != "flagVaultSpend" {
				t.Fatalf("system txs %v", kinds(txs))
			}
			if e.batch().Open {
				t.Fatal("batch not cancelled")
			}
			// MaxFlagsPerBlock more spends of no batch, each its own
			// spender: plain flags, the first of each spender.
			for i := 1; i <= MaxFlagsPerBlock; i++ {
				e.btc.spend(ins[i], chainhash.Hash{0xef, byte(i)}, e.view+1)
			}
			e.view++
			e.stepMeasure(m)
		}
	}
	// A shortfall flag on a fresh tunnel: the queue head goes from zero.
	e := newWDEnv(t)
	e.system(MintCalldata(depositOp(0, 0), alice, 1_000))
	txs := e.stepMeasure(m)
	if fmt.Sprint(kinds(txs)) != "[flagShortfall]" {
		t.Fatalf("system txs %v", kinds(txs))
	}
}

// measureLongAdvance: the paid marker's costliest case pays
// MaxPayoutOutputs items and moves the queue's firstPending over the
// longest run of paid items. A withdrawal waiting for superfinality (id
// 0) holds firstPending while later refunds are paid; the deriver looks
// at most MaxQueueScan items from firstPending, so every item paid lies
// within them: batches pay ids 1 to 475, then one batch pays id 0 with
// the last 24 of the window, and its marker advances over all 500.
func measureLongAdvance(t *testing.T, m gasMeter) {
	e := newWDEnv(t)
	e.fund(0, alice, 1_000_000, 10)
	e.withdraw(alice, p2wpkh(0), 500_000, 100_000)
	big := int64(1_000_000_000)
	e.btc.deposit(1, big, 10)
	for i := 1; i < MaxQueueScan; i++ {
		op := wire.OutPoint{Hash: chainhash.Hash(sha256.Sum256([]byte(fmt.Sprint("refund ", i))))}
		e.system(RefundDepositCalldata(op, common.Address{}, p2wpkh(i), 10_000, 1))
		big += 10_000
		e.btc.outs[len(e.btc.outs)-1].Value = big // the vault holds the refunds
	}
	pay := func() {
		t.Helper()
		txs := e.stepMeasure(m)
		if len(txs) == 0 || selectorOf(txs[0]) != "openBatch" {
			t.Fatalf("block %d: system txs %v, want a batch", e.number-1, kinds(txs))
		}
		b := e.batch()
		txid := e.payoutTxid(0)
		for _, in := range b.Inputs {
			e.btc.spend(in.OutPoint, txid, e.view+1)
		}
		vault := wire.OutPoint{Hash: txid, Index: uint32(len(b.Outputs))}
		e.btc.outs = append(e.btc.outs, rules.ScriptOutput{OutPoint: vault, Value: int64(b.Change), Height: e.view + 1})
		e.view += int32(e.tc.WithdrawalConfirmations)
		txs = e.stepMeasure(m)
		if len(txs) == 0 || selectorOf(txs[0]) != "markPaid" {
			t.Fatalf("block %d: system txs %v, want markPaid", e.number-1, kinds(txs))
		}
	}
	for ReadQueueHead(e.st, e.addr).LastBatch < MaxQueueScan/MaxPayoutOutputs-1 {
		pay()
	}
	if h := ReadQueueHead(e.st, e.addr); h.FirstPending != 0 {
		t.Fatalf("first pending %d, want 0 (the withdrawal waits)", h.FirstPending)
	}
	e.number = 30
	e.publish(25, e.view-10)
	pay()
	if b := e.batch(); len(b.Outputs) != MaxPayoutOutputs || b.Outputs[0].ID != 0 {
		t.Fatalf("last batch pays %d items from %d", len(b.Outputs), b.Outputs[0].ID)
	}
	if h := ReadQueueHead(e.st, e.addr); h.FirstPending != MaxQueueScan {
		t.Fatalf("first pending %d, want %d", h.FirstPending, MaxQueueScan)
	}
}

// TestSystemTxGasBudget measures every tunnel system transaction in its
// worst case and checks each gas constant against it: never below the
// measured use (the call would run out of gas), never more than
// genesis.GasMargin percent above it, rounded up to 1,000 (the budget
// stays tight: genesis validation adds these constants up).
func TestSystemTxGasBudget(t *testing.T) {
	m := gasMeter{}
	measureDepositSide(t, m)
	measureBatches(t, m)
	measureLongAdvance(t, m)
	for _, c := range []struct {
		name  string
		gas   uint64
		kinds []string
	}{
		{"DepositGas", DepositGas, []string{"mint", "refundDeposit", "recordDeposit"}},
		{"CursorGas", CursorGas, []string{"setDepositCursor"}},
		{"FeeRateGas", FeeRateGas, []string{"setFeeRate"}},
		{"BatchGas", BatchGas, []string{"openBatch"}},
		{"PaidGas", PaidGas, []string{"markPaid"}},
		{"FlagGas", FlagGas, []string{"flagVaultSpend"}},
		{"CancelFlagGas", CancelFlagGas, []string{"flagVaultSpend(cancel)"}},
		{"ShortfallGas", ShortfallGas, []string{"flagShortfall"}},
	} {
		var used uint64
		for _, k := range c.kinds {
			if m[k] == 0 {
				t.Fatalf("%s: no %s measured", c.name, k)
			}
			used = max(used, m[k])
		}
		ceil := (used*(100+genesis.GasMargin)/100 + 999) / 1000 * 1000
		t.Logf("%-13s %9d measured (%v), constant %9d, measured + %d%% = %d", c.name, used, c.kinds, c.gas, genesis.GasMargin, ceil)
		if c.gas < used {
			t.Errorf("%s = %d is below the measured %d", c.name, c.gas, used)
		}
		if c.gas > ceil {
			t.Errorf("%s = %d is above the measured %d plus the margin (%d): lower it", c.name, c.gas, used, ceil)
		}
	}
}

// TestWithdrawalsCapByGasLeft: the withdrawal deriver derives no more
// than Derivation.GasLeft, in block order, and what it drops is derived
// in a later block: a batch that does not fit waits, flags stop at the
// first that does not fit and the rest follow.
func TestWithdrawalsCapByGasLeft(t *testing.T) {
	e := newWDEnv(t)
	e.fund(1, alice, 9_000_000, 50)
	e.refundDeposit(2, 1_000_000, 51)
	e.gasLeft = BatchGas - 1
	wantKinds(t, e.step())
	e.gasLeft = 0
	wantKinds(t, e.step(), "openBatch")

	f := newWDEnv(t)
	var ins []wire.OutPoint
	for i := range 3 {
		ins = append(ins, f.fund(byte(i), alice, 1_000_000, 50))
	}
	for i, in := range ins {
		f.btc.spend(in, chainhash.Hash{0xef, byte(i)}, 101)
	}
	f.view = 101
	f.gasLeft = 2*FlagGas + ShortfallGas - 1
	wantKinds(t, f.step(), "flagVaultSpend", "flagVaultSpend")
	f.gasLeft = 0
	wantKinds(t, f.step(), "flagVaultSpend", "flagShortfall")
	wantKinds(t, f.step())
}
