package tunnel

import (
	"bytes"
	"math/big"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"
)

// systemAddr is genesis.SystemAddress (the contract's SYSTEM constant).
var systemAddr = common.HexToAddress("0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001")

// harnessEVM runs contracts/test/TunnelWithdrawalsHarness.sol (the real
// TunnelWithdrawals code over a plain balance standing in for hBTC) on a
// go-ethereum EVM, as the block processor does (core.ApplyMessage).
type harnessEVM struct {
	t     *testing.T
	st    *state.StateDB
	addr  common.Address
	block uint64
}

func newHarness(t *testing.T) *harnessEVM {
	t.Helper()
	raw, err := os.ReadFile("testdata/TunnelWithdrawalsHarness.hex")
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.New(types.EmptyRootHash, state.NewDatabaseForTesting())
	if err != nil {
		t.Fatal(err)
	}
	addr := common.HexToAddress("0x4200000000000000000000000000000000000090")
	st.SetCode(addr, common.FromHex(strings.TrimSpace(string(raw))), 0)
	st.SetNonce(addr, 1, 0)
	return &harnessEVM{t: t, st: st, addr: addr, block: 7}
}

// call sends data from from; it returns the return data and the revert
// error (nil on success), and the logs.
func (h *harnessEVM) call(from common.Address, data []byte) ([]byte, error, []*types.Log) {
	h.t.Helper()
	bctx := vm.BlockContext{
		CanTransfer: core.CanTransfer, Transfer: core.Transfer,
		GetHash:     func(uint64) common.Hash { return common.Hash{} },
		BlockNumber: new(big.Int).SetUint64(h.block), Time: 1_700_000_002, GasLimit: 30_000_000,
		BaseFee: new(big.Int), BlobBaseFee: big.NewInt(1), Random: &common.Hash{},
	}
	evm := vm.NewEVM(bctx, h.st, params.MergedTestChainConfig, vm.Config{})
	txHash := crypto.Keccak256Hash(data, from[:], big.NewInt(int64(h.st.GetNonce(from))).Bytes())
	h.st.SetTxContext(txHash, 0, 0)
	msg := &core.Message{From: from, To: &h.addr, Nonce: h.st.GetNonce(from), Value: new(uint256.Int), GasLimit: 10_000_000,
		GasPrice: new(uint256.Int), GasFeeCap: new(uint256.Int), GasTipCap: new(uint256.Int), Data: data}
	res, err := core.ApplyMessage(evm, msg, core.NewGasPool(30_000_000))
	if err != nil {
		h.t.Fatalf("apply: %v", err)
	}
	return res.ReturnData, res.Err, h.st.GetLogs(txHash, h.block, common.Hash{}, 0)
}

func (h *harnessEVM) mustCall(from common.Address, data []byte) ([]byte, []*types.Log) {
	h.t.Helper()
	out, err, logs := h.call(from, data)
	if err != nil {
		h.t.Fatalf("call %x: %v (revert data %x)", data[:4], err, out)
	}
	return out, logs
}

var harnessExtra = mustABI(`[
 {"type":"function","name":"credit","inputs":[{"name":"to","type":"address"},{"name":"amountSat","type":"uint64"}],"outputs":[]},
 {"type":"function","name":"balanceOf","inputs":[{"name":"a","type":"address"}],"outputs":[{"name":"","type":"uint64"}]},
 {"type":"function","name":"queueRefund","inputs":[{"name":"txid","type":"bytes32"},{"name":"vout","type":"uint32"},{"name":"script","type":"bytes"},{"name":"amountSat","type":"uint64"}],"outputs":[{"name":"","type":"uint64"}]},
 {"type":"error","name":"InsufficientBalance","inputs":[]}
]`)

func (h *harnessEVM) credit(to common.Address, sat uint64) {
	data, err := harnessExtra.Pack("credit", to, sat)
	if err != nil {
		h.t.Fatal(err)
	}
	h.mustCall(to, data)
}

func (h *harnessEVM) balance(a common.Address) uint64 {
	data, _ := harnessExtra.Pack("balanceOf", a)
	out, _ := h.mustCall(a, data)
	return new(big.Int).SetBytes(out).Uint64()
}

func revertName(ret []byte) string {
	for name, e := range WithdrawalsABI.Errors {
		if len(ret) >= 4 && bytes.Equal(ret[:4], e.ID[:4]) {
			return name
		}
	}
	for name, e := range harnessExtra.Errors {
		if len(ret) >= 4 && bytes.Equal(ret[:4], e.ID[:4]) {
			return name
		}
	}
	return ""
}

// Standard scripts of each type (DESIGN 6) and their dust limits.
var (
	sP2PKH  = append(append([]byte{0x76, 0xa9, 0x14}, bytes.Repeat([]byte{1}, 20)...), 0x88, 0xac)
	sP2SH   = append(append([]byte{0xa9, 0x14}, bytes.Repeat([]byte{2}, 20)...), 0x87)
	sP2WPKH = append([]byte{0x00, 0x14}, bytes.Repeat([]byte{3}, 20)...)
	sP2WSH  = append([]byte{0x00, 0x20}, bytes.Repeat([]byte{4}, 32)...)
	sP2TR   = append([]byte{0x51, 0x20}, bytes.Repeat([]byte{5}, 32)...)
)

func TestWithdrawRefusesScriptsAndDust(t *testing.T) {
	h := newHarness(t)
	user := common.Address{0xaa}
	h.credit(user, 100_000_000)
	refused := []struct {
		name   string
		script []byte
	}{
		{"empty", nil},
		{"p2pk", append(append([]byte{0x21}, bytes.Repeat([]byte{2}, 33)...), 0xac)},
		{"op_return", []byte{0x6a, 0x04, 'a', 'b', 'c', 'd'}},
		{"bare multisig", append(append([]byte{0x51, 0x21}, bytes.Repeat([]byte{2}, 33)...), 0x51, 0xae)},
		{"sP2WPKH short", append([]byte{0x00, 0x13}, bytes.Repeat([]byte{3}, 19)...)},
		{"witness v2", append([]byte{0x52, 0x20}, bytes.Repeat([]byte{5}, 32)...)},
		{"sP2PKH bad tail", append(slices.Clone(sP2PKH[:24]), 0xad)},
		{"sP2SH bad tail", append(slices.Clone(sP2SH[:22]), 0x88)},
		{"sP2TR with extra byte", append(slices.Clone(sP2TR), 0)},
	}
	for _, c := range refused {
		t.Run("script/"+c.name, func(t *testing.T) {
			data, err := WithdrawCalldata(c.script, 1_000_000, 1000)
			if err != nil {
				t.Fatal(err)
			}
			ret, verr, _ := h.call(user, data)
			if verr == nil || revertName(ret) != "BadScript" {
				t.Fatalf("want BadScript revert, got %v %q", verr, revertName(ret))
			}
		})
	}
	dust := []struct {
		name   string
		script []byte
		dust   uint64
	}{{"p2pkh", sP2PKH, 546}, {"p2sh", sP2SH, 540}, {"p2wpkh", sP2WPKH, 294}, {"p2wsh", sP2WSH, 330}, {"p2tr", sP2TR, 330}}
	for _, c := range dust {
		t.Run("dust/"+c.name, func(t *testing.T) {
			if got := DustLimit(c.script); got != c.dust || !StandardWithdrawalScript(c.script) {
				t.Fatalf("DustLimit = %d, want %d", got, c.dust)
			}
			const maxFee = 5000
			for _, amount := range []uint64{c.dust + maxFee, c.dust + maxFee - 1, maxFee, maxFee - 1} {
				data, _ := WithdrawCalldata(c.script, amount, maxFee)
				ret, verr, _ := h.call(user, data)
				if verr == nil || revertName(ret) != "AmountAtOrUnderDust" {
					t.Fatalf("amount %d maxFee %d: want AmountAtOrUnderDust, got %v %q", amount, maxFee, verr, revertName(ret))
				}
			}
			data, _ := WithdrawCalldata(c.script, c.dust+maxFee+1, maxFee)
			if _, verr, _ := h.call(user, data); verr != nil {
				t.Fatalf("amount just above dust+maxFee refused: %v", verr)
			}
		})
	}
}

func TestWithdrawBurnsQueuesAndEmits(t *testing.T) {
	h := newHarness(t)
	user := common.Address{0xbb}
	h.credit(user, 1_000_000)
	ev := WithdrawalsABI.Events["WithdrawalQueued"]
	for i, amount := range []uint64{400_000, 500_000} {
		data, _ := WithdrawCalldata(sP2WPKH, amount, 2_000)
		out, logs := h.mustCall(user, data)
		id := new(big.Int).SetBytes(out).Uint64()
		if id != uint64(i) {
			t.Fatalf("withdrawal %d got id %d", i, id)
		}
		if len(logs) != 1 || logs[0].Topics[0] != ev.ID {
			t.Fatalf("want one WithdrawalQueued log, got %d", len(logs))
		}
		if got, ok := WithdrawalQueuedID(logs[0].Topics); !ok || got != id {
			t.Fatalf("log id %d %v, want %d", got, ok, id)
		}
		if common.BytesToAddress(logs[0].Topics[2][:]) != user {
			t.Fatalf("log from = %x", logs[0].Topics[2])
		}
		vals, err := ev.Inputs.NonIndexed().Unpack(logs[0].Data)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(vals[0].([]byte), sP2WPKH) || vals[1].(uint64) != amount || vals[2].(uint64) != 2_000 {
			t.Fatalf("log data %v", vals)
		}
		it, ok, err := ReadItem(h.st, h.addr, id)
		if err != nil || !ok {
			t.Fatalf("ReadItem(%d): %v %v", id, ok, err)
		}
		want := QueueItem{ID: id, Kind: KindWithdrawal, Status: StatusQueued, Script: sP2WPKH, AmountSat: amount,
			MaxFeeSat: 2_000, L2Block: h.block, From: user}
		if !itemEqual(it, want) {
			t.Fatalf("item %+v, want %+v", it, want)
		}
	}
	if b := h.balance(user); b != 100_000 {
		t.Fatalf("balance after burns %d, want 100000", b)
	}
	// More than the balance: the burn reverts, nothing is queued.
	data, _ := WithdrawCalldata(sP2WPKH, 100_001, 2_000)
	ret, verr, _ := h.call(user, data)
	if verr == nil || revertName(ret) != "InsufficientBalance" {
		t.Fatalf("overdraw: %v %q", verr, revertName(ret))
	}
	if head := ReadQueueHead(h.st, h.addr); head.NextID != 2 {
		t.Fatalf("next id %d, want 2", head.NextID)
	}
}

func itemEqual(a, b QueueItem) bool {
	return a.ID == b.ID && a.Kind == b.Kind && a.Status == b.Status && bytes.Equal(a.Script, b.Script) &&
		a.AmountSat == b.AmountSat && a.MaxFeeSat == b.MaxFeeSat && a.L2Block == b.L2Block && a.Batch == b.Batch &&
		a.From == b.From && a.DepositTxid == b.DepositTxid && a.DepositVout == b.DepositVout
}

func TestBatchLifecycleInStorage(t *testing.T) {
	h := newHarness(t)
	user := common.Address{0xcc}
	h.credit(user, 10_000_000)
	for _, s := range [][]byte{sP2TR, sP2PKH} {
		data, _ := WithdrawCalldata(s, 1_000_000, 20_000)
		h.mustCall(user, data)
	}
	txid := chainhash.Hash{0x11, 0x22}
	rdata, _ := harnessExtra.Pack("queueRefund", [32]byte(txid), uint32(3), sP2WSH, uint64(50_000))
	h.mustCall(user, rdata)
	it, _, _ := ReadItem(h.st, h.addr, 2)
	if it.Kind != KindRefund || it.DepositTxid != txid || it.DepositVout != 3 || it.MaxFeeSat != 50_000-330-1 {
		t.Fatalf("refund item %+v", it)
	}

	fees := testFees(t)
	sel := &Selection{Fees: fees, Number: 1, FeeRate: 7, ViewHeight: 300,
		Vault: []BatchInput{{OutPoint: wire.OutPoint{Hash: chainhash.Hash{9}, Index: 1}, Amount: 5_000_000, Height: 200}}}
	for id := uint64(0); id < 3; id++ {
		it, _, _ := ReadItem(h.st, h.addr, id)
		sel.Eligible = append(sel.Eligible, it)
	}
	b := SelectBatch(sel)
	if b == nil || len(b.Outputs) != 3 {
		t.Fatalf("selection %+v", b)
	}
	data, err := OpenBatchCalldata(b)
	if err != nil {
		t.Fatal(err)
	}
	if ret, verr, _ := h.call(user, data); verr == nil || revertName(ret) != "NotSystem" {
		t.Fatalf("openBatch from a user: %v %q", verr, revertName(ret))
	}
	h.mustCall(systemAddr, data)
	got, err := ReadBatch(h.st, h.addr)
	if err != nil {
		t.Fatal(err)
	}
	if !batchEqual(got, b) {
		t.Fatalf("read back %+v\nwant %+v", got, b)
	}
	// A second open while one is in flight is refused.
	if _, verr, _ := h.call(systemAddr, data); verr == nil {
		t.Fatal("second openBatch accepted")
	}

	// Signatures: any account, the current attempt only, one per input.
	sig := bytes.Repeat([]byte{7}, 64)
	ps, _ := PostSignaturesCalldata(1, 0, 2, [][]byte{sig})
	_, logs := h.mustCall(common.Address{0xdd}, ps)
	if len(logs) != 1 || logs[0].Topics[0] != WithdrawalsABI.Events["SignaturesPosted"].ID {
		t.Fatal("no SignaturesPosted event")
	}
	if bm := ReadPosted(h.st, h.addr, 1, 0); bm.Cmp(big.NewInt(4)) != 0 {
		t.Fatalf("posted bitmap %v, want 4", bm)
	}
	for name, d := range map[string][]byte{
		"wrong attempt": must(PostSignaturesCalldata(1, 1, 0, [][]byte{sig})),
		"wrong batch":   must(PostSignaturesCalldata(2, 0, 0, [][]byte{sig})),
		"short sig":     must(PostSignaturesCalldata(1, 0, 0, [][]byte{sig[:63]})),
		"two sigs":      must(PostSignaturesCalldata(1, 0, 0, [][]byte{sig, sig})),
	} {
		if _, verr, _ := h.call(common.Address{0xdd}, d); verr == nil {
			t.Fatalf("postSignatures %s accepted", name)
		}
	}

	// Re-derivation: attempt 1 at a higher rate.
	b2 := Rederive(b, fees, 7, 306, 6)
	if b2 == nil || b2.Attempt != 1 || b2.FeeRate <= b.FeeRate {
		t.Fatalf("rederive %+v", b2)
	}
	h.mustCall(systemAddr, must(OpenBatchCalldata(b2)))
	got, _ = ReadBatch(h.st, h.addr)
	if !batchEqual(got, b2) {
		t.Fatalf("attempt 1 read back %+v\nwant %+v", got, b2)
	}
	a0, err := got.AtAttempt(0, fees)
	if err == nil {
		a0.BtcHeight = b.BtcHeight // the derivation height is not part of the payout
	}
	if err != nil || !batchEqual(a0, b) {
		t.Fatalf("AtAttempt(0) %+v %v, want %+v", a0, err, b)
	}

	if p := ReadPendingSat(h.st, h.addr); p != 2_050_000 {
		t.Fatalf("pending %d before paid", p)
	}
	// Paid: items paid, queue head advances, batch closed.
	h.mustCall(systemAddr, must(MarkPaidCalldata(1, 0, chainhash.Hash{0x77})))
	if p := ReadPendingSat(h.st, h.addr); p != 0 {
		t.Fatalf("pending %d after paid", p)
	}
	if n := ReadPaidBy(h.st, h.addr, chainhash.Hash{0x77}); n != 1 {
		t.Fatalf("paidBy %d", n)
	}
	if txid, ok := ReadPaidTxid(h.st, h.addr, 1); !ok || txid != (chainhash.Hash{0x77}) {
		t.Fatalf("paidTxid %v %v", txid, ok)
	}
	if _, ok := ReadPaidTxid(h.st, h.addr, 2); ok {
		t.Fatal("batch 2 paid")
	}
	head := ReadQueueHead(h.st, h.addr)
	if head.FirstPending != 3 || head.LastBatch != 1 || head.NextID != 3 {
		t.Fatalf("head %+v", head)
	}
	got, _ = ReadBatch(h.st, h.addr)
	if got.Open {
		t.Fatal("batch still open after markPaid")
	}
	for id := uint64(0); id < 3; id++ {
		if it, _, _ := ReadItem(h.st, h.addr, id); it.Status != StatusPaid || it.Batch != 1 {
			t.Fatalf("item %d %+v", id, it)
		}
	}

	// Flags.
	spender := chainhash.Hash{0x55}
	h.mustCall(systemAddr, must(FlagVaultSpendCalldata(spender, wire.OutPoint{Hash: chainhash.Hash{1}}, 1000, false)))
	if !ReadFlaggedSpend(h.st, h.addr, spender) || ReadFlaggedSpend(h.st, h.addr, chainhash.Hash{0x56}) {
		t.Fatal("flagged spend not recorded")
	}
	h.mustCall(systemAddr, must(FlagShortfallCalldata(100, 250)))
	if head := ReadQueueHead(h.st, h.addr); head.LastShortfall != 150 {
		t.Fatalf("last shortfall %d", head.LastShortfall)
	}
	if _, verr, _ := h.call(user, must(FlagShortfallCalldata(1, 2))); verr == nil {
		t.Fatal("flagShortfall from a user accepted")
	}
}

func TestVaultSpendCancelsOpenBatch(t *testing.T) {
	h := newHarness(t)
	user := common.Address{0xcc}
	h.credit(user, 10_000_000)
	h.mustCall(user, must(WithdrawCalldata(sP2TR, 1_000_000, 20_000)))
	it, _, _ := ReadItem(h.st, h.addr, 0)
	b := SelectBatch(&Selection{Fees: testFees(t), Number: 1, FeeRate: 2, ViewHeight: 10, Eligible: []QueueItem{it},
		Vault: []BatchInput{{OutPoint: wire.OutPoint{Hash: chainhash.Hash{9}}, Amount: 2_000_000, Height: 5}}})
	h.mustCall(systemAddr, must(OpenBatchCalldata(b)))
	h.mustCall(systemAddr, must(FlagVaultSpendCalldata(chainhash.Hash{0x66}, b.Inputs[0].OutPoint, 2_000_000, true)))
	got, _ := ReadBatch(h.st, h.addr)
	if got.Open {
		t.Fatal("batch open after its input was spent elsewhere")
	}
	if it, _, _ := ReadItem(h.st, h.addr, 0); it.Status != StatusQueued || it.Batch != 0 {
		t.Fatalf("item not back in the queue: %+v", it)
	}
	// The next batch gets the next number.
	b.Number = 2
	h.mustCall(systemAddr, must(OpenBatchCalldata(b)))
	b.Number = 2
	if _, verr, _ := h.call(systemAddr, must(OpenBatchCalldata(b))); verr == nil {
		t.Fatal("reopened batch 2")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// testFees sizes payouts of the payout tests' 2-of-3 vault.
func testFees(t testing.TB) Fees {
	f, err := NewFees(newFixture(t, 10).vault)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func batchEqual(a, b *Batch) bool {
	if a.Number != b.Number || a.Attempt != b.Attempt || a.FeeRate != b.FeeRate || a.BtcHeight != b.BtcHeight ||
		a.Open != b.Open || a.Refresh != b.Refresh || a.Change != b.Change || a.Fee != b.Fee ||
		!slices.Equal(a.Inputs, b.Inputs) || !slices.Equal(a.AttemptRates, b.AttemptRates) || len(a.Outputs) != len(b.Outputs) {
		return false
	}
	for i := range a.Outputs {
		x, y := a.Outputs[i], b.Outputs[i]
		if x.ID != y.ID || x.Refund != y.Refund || !bytes.Equal(x.Script, y.Script) || x.Amount != y.Amount ||
			x.MaxFee != y.MaxFee || x.Value != y.Value {
			return false
		}
	}
	return true
}
