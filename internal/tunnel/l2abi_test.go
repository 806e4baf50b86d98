package tunnel_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/big"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/tunnel"
)

var (
	tunnelAddr = genesis.DefaultTunnelAddress
	hbtcAddr   = genesis.DefaultHBTCAddress
	alice      = common.HexToAddress("0xa11ce00000000000000000000000000000000001")
	bob        = common.HexToAddress("0xb0b0000000000000000000000000000000000002")
)

// env executes messages on a go-ethereum EVM over a genesis state with the
// tunnel predeploys, as the block processor does (core.ApplyMessage,
// system transactions from genesis.SystemAddress at gas price 0).
type env struct {
	t      *testing.T
	st     *state.StateDB
	cfg    *params.ChainConfig
	number int64
	logs   []*types.Log
}

func newEnv(t *testing.T, extra types.GenesisAlloc) *env {
	t.Helper()
	p := &chaincfg.RegressionNetParams
	view := hvm.Header{Height: 7, Hash: p.GenesisBlock.Header.BlockHash(), Header: p.GenesisBlock.Header}
	s := &genesis.Spec{
		Config:    genesis.DevnetConfig(common.Address{0x5e}),
		Timestamp: 1_700_000_000,
		View:      view,
		Alloc:     extra,
	}
	tc, err := genesis.DevTunnelConfig()
	if err != nil {
		t.Fatal(err)
	}
	s.Config.Tunnel = tc
	_, st, err := s.InMemory()
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, st: st, cfg: s.Config.ChainConfig(), number: 1}
}

func (e *env) blockContext() vm.BlockContext {
	return vm.BlockContext{
		CanTransfer: core.CanTransfer,
		Transfer:    core.Transfer,
		GetHash:     func(uint64) common.Hash { return common.Hash{} },
		BlockNumber: big.NewInt(e.number),
		Time:        1_700_000_002,
		GasLimit:    genesis.DefaultGasLimit,
		BaseFee:     new(big.Int),
		BlobBaseFee: big.NewInt(1),
		Random:      &common.Hash{},
	}
}

func (e *env) apply(from, to common.Address, data []byte, gas uint64) *core.ExecutionResult {
	e.t.Helper()
	evm := vm.NewEVM(e.blockContext(), e.st, e.cfg, vm.Config{})
	msg := &core.Message{
		From: from, To: &to, Nonce: e.st.GetNonce(from), Value: new(uint256.Int), GasLimit: gas,
		GasPrice: new(uint256.Int), GasFeeCap: new(uint256.Int), GasTipCap: new(uint256.Int), Data: data,
	}
	txh := crypto.Keccak256Hash(data, big.NewInt(int64(len(e.logs))).Bytes())
	e.st.SetTxContext(txh, 0, 0)
	res, err := core.ApplyMessage(evm, msg, core.NewGasPool(genesis.DefaultGasLimit))
	if err != nil {
		e.t.Fatalf("apply: %v", err)
	}
	e.logs = e.st.GetLogs(txh, uint64(e.number), common.Hash{}, 0)
	e.st.Finalise(e.cfg.Rules(big.NewInt(e.number), true, 1_700_000_002))
	return res
}

// system executes data as a system transaction to the Tunnel, as the
// block processor does (chain.ApplySystemTx: no intrinsic gas), and
// requires success; it returns the gas used.
func (e *env) system(data []byte) uint64 {
	e.t.Helper()
	to := tunnelAddr
	stx := &block.SystemTx{From: genesis.SystemAddress, To: &to, Gas: tunnel.DepositGas, Data: data}
	rules := e.cfg.Rules(big.NewInt(e.number), true, 1_700_000_002)
	evm := vm.NewEVM(e.blockContext(), e.st, e.cfg, vm.Config{})
	txh := crypto.Keccak256Hash(data, big.NewInt(e.number).Bytes())
	e.st.SetTxContext(txh, 0, 0)
	used, _, err := chain.ApplySystemTx(evm, rules, common.Address{}, stx)
	if err != nil {
		e.t.Fatalf("system call %x: %v", data[:4], err)
	}
	e.logs = e.st.GetLogs(txh, uint64(e.number), common.Hash{}, 0)
	e.st.Finalise(e.cfg.Rules(big.NewInt(e.number), true, 1_700_000_002))
	return used
}

func (e *env) call(to common.Address, a *abi.ABI, method string, args ...any) []any {
	e.t.Helper()
	data, err := a.Pack(method, args...)
	if err != nil {
		e.t.Fatal(err)
	}
	res := e.apply(common.Address{0xee}, to, data, 1_000_000)
	if res.Err != nil {
		e.t.Fatalf("%s: %v", method, res.Err)
	}
	out, err := a.Unpack(method, res.ReturnData)
	if err != nil {
		e.t.Fatalf("%s: unpack: %v", method, err)
	}
	return out
}

func (e *env) balance(owner common.Address) uint64 {
	return e.call(hbtcAddr, &tunnel.HBTCABI, "balanceOf", owner)[0].(*big.Int).Uint64()
}

func wantRevert(t *testing.T, res *core.ExecutionResult, a *abi.ABI, errName string) {
	t.Helper()
	if !errors.Is(res.Err, vm.ErrExecutionReverted) {
		t.Fatalf("want revert %s, got %v", errName, res.Err)
	}
	id := a.Errors[errName].ID
	if !bytes.HasPrefix(res.Revert(), id[:4]) {
		t.Fatalf("reverted with %x, want %s", res.Revert(), errName)
	}
}

func outpoint(b byte, vout uint32) wire.OutPoint {
	var h chainhash.Hash
	h[0], h[31] = b, 0xaa
	return wire.OutPoint{Hash: h, Index: vout}
}

// TestGenesisPredeploys: the genesis writes the slots the contracts read
// (so the Go namespace constants agree with the contracts').
func TestGenesisPredeploys(t *testing.T) {
	e := newEnv(t, nil)
	if got := e.call(tunnelAddr, &tunnel.TunnelABI, "hbtc")[0].(common.Address); got != hbtcAddr {
		t.Fatalf("Tunnel.hbtc() = %v", got)
	}
	if got := e.call(hbtcAddr, &tunnel.HBTCABI, "tunnel")[0].(common.Address); got != tunnelAddr {
		t.Fatalf("HBTC.tunnel() = %v", got)
	}
	cur := e.call(tunnelAddr, &tunnel.TunnelABI, "depositCursor")
	if cur[0].(uint32) != 7 || cur[1].(uint32) != 0 || cur[2].(uint32) != 0 {
		t.Fatalf("depositCursor() = %v, want the genesis view height 7", cur)
	}
	if c := tunnel.ReadCursor(e.st, tunnelAddr); c != (tunnel.Cursor{Height: 7}) {
		t.Fatalf("ReadCursor = %+v", c)
	}
	if e.call(tunnelAddr, &tunnel.TunnelABI, "SYSTEM")[0].(common.Address) != genesis.SystemAddress {
		t.Fatal("SYSTEM differs from genesis.SystemAddress")
	}
	for _, m := range []string{"name", "symbol"} {
		t.Logf("%s = %v", m, e.call(hbtcAddr, &tunnel.HBTCABI, m)[0])
	}
	if e.call(hbtcAddr, &tunnel.HBTCABI, "symbol")[0].(string) != "hBTC" || e.call(hbtcAddr, &tunnel.HBTCABI, "decimals")[0].(uint8) != 8 {
		t.Fatal("hBTC symbol or decimals")
	}
}

func TestMintOncePerKey(t *testing.T) {
	e := newEnv(t, nil)
	op := outpoint(1, 3)
	key := tunnel.DepositKey(op)
	if want := crypto.Keccak256Hash(append(op.Hash[:], 0, 0, 0, 3)); key != want {
		t.Fatalf("DepositKey %v want %v", key, want)
	}
	onchain := e.call(tunnelAddr, &tunnel.TunnelABI, "depositKey", [32]byte(op.Hash), uint32(3))[0].([32]byte)
	if common.Hash(onchain) != key {
		t.Fatalf("Tunnel.depositKey %x, Go %v", onchain, key)
	}
	e.number = 42
	used := e.system(tunnel.MintCalldata(op, alice, 150_000_000))
	t.Logf("first mint gas %d (limit %d)", used, tunnel.DepositGas)
	if used > tunnel.DepositGas { // TestSystemTxGasBudget has the worst cases
		t.Fatalf("mint used %d gas, more than its limit %d", used, tunnel.DepositGas)
	}
	// Events: hBTC's Transfer from zero, then DepositMinted.
	if len(e.logs) != 2 || e.logs[0].Address != hbtcAddr || e.logs[1].Address != tunnelAddr {
		t.Fatalf("logs %+v", e.logs)
	}
	if e.logs[0].Topics[0] != tunnel.HBTCABI.Events["Transfer"].ID || e.logs[0].Topics[1] != (common.Hash{}) ||
		common.BytesToAddress(e.logs[0].Topics[2][:]) != alice || new(big.Int).SetBytes(e.logs[0].Data).Uint64() != 150_000_000 {
		t.Fatalf("Transfer log %+v", e.logs[0])
	}
	ev, ok, err := tunnel.ParseDepositEvent(e.logs[1])
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if (*ev != tunnel.DepositEvent{Kind: tunnel.EventMinted, Key: key, Outpoint: op, To: alice, AmountSat: 150_000_000}) {
		t.Fatalf("event %+v", ev)
	}
	m, ok := tunnel.ReadMinted(e.st, tunnelAddr, key)
	if !ok || (m != tunnel.Minted{To: alice, AmountSat: 150_000_000, L2Block: 42}) {
		t.Fatalf("minted %+v %v", m, ok)
	}
	if e.balance(alice) != 150_000_000 || tunnel.HBTCBalance(e.st, hbtcAddr, alice).Uint64() != 150_000_000 ||
		tunnel.HBTCSupply(e.st, hbtcAddr).Uint64() != 150_000_000 {
		t.Fatal("balance or supply")
	}
	// The same outpoint again, to another recipient, or refunded or
	// recorded: nothing changes, no event, no revert.
	e.number = 43
	for _, data := range [][]byte{
		tunnel.MintCalldata(op, alice, 150_000_000),
		tunnel.MintCalldata(op, bob, 1),
		tunnel.RefundDepositCalldata(op, bob, []byte{0x51}, 5, 1),
		tunnel.RecordDepositCalldata(op, bob, 5, 1),
	} {
		e.system(data)
		if len(e.logs) != 0 {
			t.Fatalf("second processing of a key emitted %d logs", len(e.logs))
		}
	}
	if e.balance(alice) != 150_000_000 || e.balance(bob) != 0 || tunnel.HBTCSupply(e.st, hbtcAddr).Uint64() != 150_000_000 {
		t.Fatal("a second mint of one key changed balances")
	}
	if _, ok := tunnel.ReadSettled(e.st, tunnelAddr, key); ok {
		t.Fatal("a minted key was also settled")
	}
	// Another vout of the same transaction is another deposit.
	e.system(tunnel.MintCalldata(outpoint(1, 4), alice, 10_000))
	if e.balance(alice) != 150_010_000 {
		t.Fatal("second output not minted")
	}
}

func TestSystemOnly(t *testing.T) {
	e := newEnv(t, nil)
	op := outpoint(2, 0)
	for _, data := range [][]byte{
		tunnel.MintCalldata(op, alice, 1),
		tunnel.RefundDepositCalldata(op, alice, []byte{0x51}, 1, 1),
		tunnel.RecordDepositCalldata(op, alice, 1, 1),
		tunnel.SetDepositCursorCalldata(tunnel.Cursor{Height: 9}),
		tunnel.SetFeeRateCalldata(5, 9),
	} {
		wantRevert(t, e.apply(alice, tunnelAddr, data, 1_000_000), &tunnel.TunnelABI, "NotSystem")
	}
	// hBTC: only the Tunnel mints and burns.
	for _, m := range []string{"mint", "burn"} {
		data, _ := tunnel.HBTCABI.Pack(m, alice, big.NewInt(1))
		for _, from := range []common.Address{alice, genesis.SystemAddress} {
			wantRevert(t, e.apply(from, hbtcAddr, data, 1_000_000), &tunnel.HBTCABI, "NotTunnel")
		}
	}
	if tunnel.Processed(e.st, tunnelAddr, tunnel.DepositKey(op)) || e.balance(alice) != 0 {
		t.Fatal("a refused call changed state")
	}
}

func TestRefundAndRecord(t *testing.T) {
	e := newEnv(t, nil)
	script := append([]byte{0x00, 0x14}, bytes.Repeat([]byte{0x77}, 20)...)
	op1, op2, op3 := outpoint(3, 0), outpoint(3, 1), outpoint(4, 2)
	e.number = 10
	used := e.system(tunnel.RefundDepositCalldata(op1, common.Address{}, script, 9_000, 2))
	t.Logf("refund gas %d", used)
	if used > tunnel.DepositGas { // TestSystemTxGasBudget has the worst cases
		t.Fatalf("refund used %d gas", used)
	}
	// RefundQueued (TunnelWithdrawals) then DepositRefundQueued.
	if len(e.logs) != 2 || e.logs[0].Topics[0] != tunnel.TopicRefundQueued {
		t.Fatalf("logs %+v", e.logs)
	}
	rq, err := tunnel.TunnelABI.Events["RefundQueued"].Inputs.NonIndexed().Unpack(e.logs[0].Data)
	if err != nil || rq[0].([32]byte) != [32]byte(op1.Hash) || rq[1].(uint32) != 0 || !bytes.Equal(rq[2].([]byte), script) || rq[3].(uint64) != 9_000 {
		t.Fatalf("RefundQueued %v %v", rq, err)
	}
	ev, ok, err := tunnel.ParseDepositEvent(e.logs[1])
	if err != nil || !ok || (*ev != tunnel.DepositEvent{Kind: tunnel.EventRefundQueued, Key: tunnel.DepositKey(op1), RefundID: 0, Reason: 2}) {
		t.Fatalf("event %+v %v %v", ev, ok, err)
	}
	e.number = 11
	e.system(tunnel.RefundDepositCalldata(op2, alice, script, 500, 3))
	s, ok := tunnel.ReadSettled(e.st, tunnelAddr, tunnel.DepositKey(op2))
	if !ok || (s != tunnel.Settled{Kind: tunnel.SettledRefund, Reason: 3, AmountSat: 500, RefundID: 1, L2Block: 11}) {
		t.Fatalf("settled %+v", s)
	}
	if ev, _, _ := tunnel.ParseDepositEvent(e.logs[1]); ev.To != alice {
		t.Fatalf("refund event recipient %v", ev.To)
	}
	// The withdrawal queue's next id (its namespace's first word, low
	// 8 bytes; ids count from 0) counts the two refunds.
	if w := e.st.GetState(tunnelAddr, genesis.TunnelWithdrawalsSlot); binary.BigEndian.Uint64(w[24:]) != 2 {
		t.Fatalf("refund counter %v", w)
	}
	e.number = 12
	e.system(tunnel.RecordDepositCalldata(op3, bob, 300, 4))
	ev, ok, err = tunnel.ParseDepositEvent(e.logs[0])
	if err != nil || !ok || (*ev != tunnel.DepositEvent{Kind: tunnel.EventRecorded, Key: tunnel.DepositKey(op3), Outpoint: op3, To: bob, AmountSat: 300, Reason: 4}) {
		t.Fatalf("event %+v %v %v", ev, ok, err)
	}
	e.system(tunnel.MintCalldata(outpoint(5, 0), common.Address{}, 700)) // zero recipient: recorded
	s, ok = tunnel.ReadSettled(e.st, tunnelAddr, tunnel.DepositKey(outpoint(5, 0)))
	if !ok || s.Kind != tunnel.SettledRecorded || s.Reason != 0xff || s.AmountSat != 700 {
		t.Fatalf("zero recipient %+v", s)
	}
	if got := tunnel.ReadRecordedSat(e.st, tunnelAddr); got != 1_000 {
		t.Fatalf("recordedSat %d, want 1000", got)
	}
	if tunnel.HBTCSupply(e.st, hbtcAddr).Sign() != 0 {
		t.Fatal("refunds or records minted hBTC")
	}
}

func TestCursorAndFeeRate(t *testing.T) {
	e := newEnv(t, nil)
	c := tunnel.Cursor{Height: 1_000_000, TxPos: 4_000, Vout: 3}
	e.system(tunnel.SetDepositCursorCalldata(c))
	if got := tunnel.ReadCursor(e.st, tunnelAddr); got != c {
		t.Fatalf("cursor %+v", got)
	}
	if r, h := tunnel.ReadFeeRate(e.st, tunnelAddr); r != 0 || h != 0 {
		t.Fatal("fee rate before the first record")
	}
	e.system(tunnel.SetFeeRateCalldata(37, 812_345))
	if r, h := tunnel.ReadFeeRate(e.st, tunnelAddr); r != 37 || h != 812_345 {
		t.Fatalf("fee rate %d at %d", r, h)
	}
	if e.call(tunnelAddr, &tunnel.TunnelABI, "feeRate")[0].(uint64) != 37 {
		t.Fatal("feeRate()")
	}
	// The cursor shares nothing with the fee rate's slot.
	if got := tunnel.ReadCursor(e.st, tunnelAddr); got != c {
		t.Fatalf("cursor %+v after the fee rate", got)
	}
}

// FuzzParseDepositEvent: any log, with a deposit event's topic or not,
// decodes or errors without panicking; a decoded event re-encodes to the
// same data.
func FuzzParseDepositEvent(f *testing.F) {
	for _, id := range []common.Hash{tunnel.TopicDepositMinted, tunnel.TopicDepositRefundQueued, tunnel.TopicDepositRecorded, {1}} {
		f.Add(id[:], 3, []byte{})
		f.Add(id[:], 3, make([]byte, 96))
		f.Add(id[:], 2, make([]byte, 128))
	}
	minted, _ := tunnel.TunnelABI.Events["DepositMinted"].Inputs.NonIndexed().Pack([32]byte{9}, uint32(2), uint64(77))
	f.Add(tunnel.TopicDepositMinted[:], 3, minted)
	f.Fuzz(func(t *testing.T, topic0 []byte, ntopics int, data []byte) {
		l := &types.Log{Data: data}
		if ntopics > 0 && ntopics < 6 {
			l.Topics = append(l.Topics, common.BytesToHash(topic0))
			for i := 1; i < ntopics; i++ {
				l.Topics = append(l.Topics, common.Hash{byte(i)})
			}
		}
		ev, ok, err := tunnel.ParseDepositEvent(l)
		if err != nil || !ok {
			return
		}
		var re []byte
		switch ev.Kind {
		case tunnel.EventMinted:
			re, err = tunnel.TunnelABI.Events["DepositMinted"].Inputs.NonIndexed().Pack([32]byte(ev.Outpoint.Hash), ev.Outpoint.Index, ev.AmountSat)
		case tunnel.EventRefundQueued:
			re, err = tunnel.TunnelABI.Events["DepositRefundQueued"].Inputs.NonIndexed().Pack(ev.RefundID, ev.Reason)
		case tunnel.EventRecorded:
			re, err = tunnel.TunnelABI.Events["DepositRecorded"].Inputs.NonIndexed().Pack([32]byte(ev.Outpoint.Hash), ev.Outpoint.Index, ev.AmountSat, ev.Reason)
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(re, data[:len(re)]) {
			t.Fatalf("re-encoded %x, data %x", re, data)
		}
	})
}
