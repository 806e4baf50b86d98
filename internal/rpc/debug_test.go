package rpc

import (
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"

	"github.com/hemi-go/hemi/internal/chain/genesis"
)

// TestTracing: go-ethereum's tracers over re-executed transactions,
// blocks (system transactions first) and calls.
func TestTracing(t *testing.T) {
	e := newEnv(t, Config{APIs: withDebug})
	contract, deploy := e.deploy(0)
	e.mine(deploy)
	tr := e.transfer(2, 0, e.addr(3), 7)
	call := e.sign(1, &types.LegacyTx{Nonce: 0, GasPrice: big.NewInt(10 * params.GWei), Gas: 100_000, To: &contract})
	b := e.mine(tr, call)
	stx := b.Body.SystemTxs[0]

	type callFrame struct {
		Type    string
		From    common.Address
		To      common.Address
		Gas     hexutil.Uint64
		GasUsed hexutil.Uint64
		Output  hexutil.Bytes
		Error   string
		Logs    []json.RawMessage
	}
	var cf callFrame
	if err := e.rc.Call(&cf, "debug_traceTransaction", call.Hash(), map[string]any{"tracer": "callTracer", "tracerConfig": map[string]any{"withLog": true}}); err != nil {
		t.Fatal(err)
	}
	rcpt, err := e.ec.TransactionReceipt(t.Context(), call.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if cf.Type != "CALL" || cf.From != e.addr(1) || cf.To != contract || new(big.Int).SetBytes(cf.Output).Uint64() != 42 ||
		uint64(cf.GasUsed) != rcpt.GasUsed || len(cf.Logs) != 1 {
		t.Fatalf("call frame %+v (receipt gas %d)", cf, rcpt.GasUsed)
	}

	// The struct logger replays the same gas.
	var sl struct {
		Gas         uint64
		Failed      bool
		ReturnValue hexutil.Bytes
		StructLogs  []struct{ Op string }
	}
	if err := e.rc.Call(&sl, "debug_traceTransaction", call.Hash()); err != nil {
		t.Fatal(err)
	}
	if sl.Gas != rcpt.GasUsed || sl.Failed || len(sl.StructLogs) == 0 || sl.StructLogs[len(sl.StructLogs)-1].Op != "RETURN" {
		t.Fatalf("struct logger gas %d failed %v ops %d", sl.Gas, sl.Failed, len(sl.StructLogs))
	}

	// prestateTracer sees the state before the transaction: after the
	// system transaction and the transfer before it.
	var pre map[common.Address]struct {
		Balance *hexutil.Big
		Nonce   uint64
		Storage map[common.Hash]common.Hash
	}
	if err := e.rc.Call(&pre, "debug_traceTransaction", call.Hash(), map[string]any{"tracer": "prestateTracer"}); err != nil {
		t.Fatal(err)
	}
	if got, ok := pre[contract].Storage[common.Hash{}]; !ok || got != (common.Hash{}) {
		t.Fatalf("contract slot 0 before the call %x (%v), want 0", got, ok)
	}
	if acc, ok := pre[e.addr(1)]; !ok || acc.Nonce != 0 || acc.Balance.ToInt().Cmp(genesis.DevBalance()) != 0 {
		t.Fatalf("sender prestate %+v", acc)
	}

	// The block: the view update (system) first, then the two users'.
	var block []struct {
		TxHash common.Hash
		Result callFrame
		Error  string
	}
	if err := e.rc.Call(&block, "debug_traceBlockByNumber", "0x2", map[string]any{"tracer": "callTracer"}); err != nil {
		t.Fatal(err)
	}
	if len(block) != 3 || block[0].TxHash != stx.Hash() || block[1].TxHash != tr.Hash() || block[2].TxHash != call.Hash() {
		t.Fatalf("block trace %+v", block)
	}
	if block[0].Result.From != genesis.SystemAddress || block[0].Result.To != genesis.HVMStateAddress || block[0].Result.Error != "" {
		t.Fatalf("system tx frame %+v", block[0].Result)
	}
	sysR, err := e.ec.TransactionReceipt(t.Context(), stx.Hash())
	if err != nil || uint64(block[0].Result.GasUsed) != sysR.GasUsed {
		t.Fatalf("system frame gas %d, receipt %d (%v)", block[0].Result.GasUsed, sysR.GasUsed, err)
	}
	if block[2].Result.GasUsed != cf.GasUsed {
		t.Fatalf("block trace gas %d, tx trace %d", block[2].Result.GasUsed, cf.GasUsed)
	}
	var byHash []json.RawMessage
	if err := e.rc.Call(&byHash, "debug_traceBlockByHash", b.Hash(), map[string]any{"tracer": "4byteTracer"}); err != nil || len(byHash) != 3 {
		t.Fatalf("by hash %d %v", len(byHash), err)
	}
	var sysTrace json.RawMessage
	if err := e.rc.Call(&sysTrace, "debug_traceTransaction", stx.Hash(), map[string]any{"tracer": "callTracer"}); err != nil ||
		!strings.Contains(strings.ToLower(string(sysTrace)), strings.ToLower(genesis.HVMStateAddress.Hex())) {
		t.Fatalf("system tx trace %s %v", sysTrace, err)
	}

	// traceCall with a state override and a revert.
	if err := e.rc.Call(&cf, "debug_traceCall", map[string]any{"to": contract, "input": "0x01"}, "latest", map[string]any{"tracer": "callTracer"}); err != nil {
		t.Fatal(err)
	}
	if cf.Error != "execution reverted" {
		t.Fatalf("reverting call frame %+v", cf)
	}
	other := common.Address{0x99}
	if err := e.rc.Call(&cf, "debug_traceCall", map[string]any{"to": other}, "latest",
		map[string]any{"tracer": "callTracer", "stateOverrides": map[string]any{other.Hex(): map[string]any{"code": hexutil.Bytes(testRuntime)}}}); err != nil {
		t.Fatal(err)
	}
	if new(big.Int).SetBytes(cf.Output).Uint64() != 42 {
		t.Fatalf("overridden code frame %+v", cf)
	}
	if err := e.rc.Call(&byHash, "debug_traceBlockByNumber", "0x0"); err == nil {
		t.Fatal("genesis traced")
	}
}

// TestCallOverridesAndAccessList: eth_call with state overrides and
// eth_createAccessList.
func TestCallOverridesAndAccessList(t *testing.T) {
	e := newEnv(t, Config{})
	contract, deploy := e.deploy(0)
	e.mine(deploy)
	other := common.Address{0x42}
	var out hexutil.Bytes
	if err := e.rc.Call(&out, "eth_call", map[string]any{"to": other}, "latest",
		map[string]any{other.Hex(): map[string]any{"code": hexutil.Bytes(testRuntime), "balance": "0x1"}}); err != nil || new(big.Int).SetBytes(out).Uint64() != 42 {
		t.Fatalf("override call %x %v", out, err)
	}
	// Block overrides: code returning NUMBER sees the overridden one.
	numberCode := hexutil.Bytes{0x43, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3}
	if err := e.rc.Call(&out, "eth_call", map[string]any{"to": other}, "latest",
		map[string]any{other.Hex(): map[string]any{"code": numberCode}},
		map[string]any{"number": "0x99", "time": "0x1", "feeRecipient": other}); err != nil || new(big.Int).SetBytes(out).Uint64() != 0x99 {
		t.Fatalf("block override call %x %v", out, err)
	}
	if code, _, _ := rpcErr(t, e.rc.Call(&out, "eth_call", map[string]any{"to": contract}, "latest", nil,
		map[string]any{"baseFeePerGas": "-0x1"})); code != codeInvalidParams {
		t.Fatalf("negative base fee code %d", code)
	}
	code, msg, _ := rpcErr(t, e.rc.Call(&out, "eth_call", map[string]any{"to": other}, "latest",
		map[string]any{other.Hex(): map[string]any{"state": map[string]string{}, "stateDiff": map[string]string{}}}))
	if code != codeInvalidParams || !strings.Contains(msg, "both 'state' and 'stateDiff'") {
		t.Fatalf("%d %s", code, msg)
	}
	// A contract calling testRuntime's contract: the access list names it
	// and its slot 0.
	caller := []byte{0x60, 0x20, 0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x73}
	caller = append(caller, contract.Bytes()...)
	caller = append(caller, 0x5a, 0xf1, 0x00) // CALL(gas, contract, 0, 0, 0, 0, 32) STOP
	var al struct {
		AccessList types.AccessList
		GasUsed    hexutil.Uint64
		Error      string
	}
	if err := e.rc.Call(&al, "eth_createAccessList", map[string]any{"from": e.addr(1), "to": other}, "pending",
		map[string]any{other.Hex(): map[string]any{"code": hexutil.Bytes(caller)}}); err != nil {
		t.Fatal(err)
	}
	if len(al.AccessList) != 1 || al.AccessList[0].Address != contract || len(al.AccessList[0].StorageKeys) != 1 || al.GasUsed == 0 || al.Error != "" {
		t.Fatalf("access list %+v", al)
	}
	_ = crypto.Keccak256
}

// TestMisc: net, web3, hemi namespaces.
func TestMisc(t *testing.T) {
	e := newEnv(t, Config{ClientVersion: "hemi-test/1"})
	b := e.mine()
	var s string
	if err := e.rc.Call(&s, "net_version"); err != nil || s != "7431337" {
		t.Fatalf("net_version %q %v", s, err)
	}
	var listening bool
	if err := e.rc.Call(&listening, "net_listening"); err != nil || !listening {
		t.Fatal(err)
	}
	var peers hexutil.Uint
	if err := e.rc.Call(&peers, "net_peerCount"); err != nil {
		t.Fatal(err)
	}
	if err := e.rc.Call(&s, "web3_clientVersion"); err != nil || s != "hemi-test/1" {
		t.Fatalf("client version %q %v", s, err)
	}
	var h hexutil.Bytes
	if err := e.rc.Call(&h, "web3_sha3", "0x68656c6c6f"); err != nil || common.BytesToHash(h) != crypto.Keccak256Hash([]byte("hello")) {
		t.Fatalf("sha3 %x %v", h, err)
	}
	var accts []common.Address
	if err := e.rc.Call(&accts, "eth_accounts"); err != nil || len(accts) != 0 {
		t.Fatal(accts, err)
	}
	var view struct {
		Height hexutil.Uint64
		Hash   string
	}
	if err := e.rc.Call(&view, "hemi_bitcoinView", "latest"); err != nil || int(view.Height) != e.view || view.Hash != e.btc.Headers[e.view].Hash.String() {
		t.Fatalf("bitcoin view %+v %v", view, err)
	}
	if err := e.rc.Call(&view, "hemi_bitcoinView", b.Hash()); err != nil || int(view.Height) != e.view {
		t.Fatalf("bitcoin view by hash %+v %v", view, err)
	}
	if err := e.rc.Call(&view, "hemi_bitcoinView", "earliest"); err != nil || view.Height != 1 {
		t.Fatalf("genesis view %+v %v", view, err)
	}
	if err := e.rc.Call(&view, "hemi_btcTip"); err != nil || int(view.Height) != len(e.btc.Headers)-1 {
		t.Fatalf("btc tip %+v %v", view, err)
	}
	var count hexutil.Uint
	if err := e.rc.Call(&count, "eth_getUncleCountByBlockNumber", "latest"); err != nil || count != 0 {
		t.Fatal(err)
	}
	if err := e.rc.Call(&count, "eth_getBlockTransactionCountByNumber", "latest"); err != nil || count != 1 {
		t.Fatalf("tx count %d %v", count, err)
	}
	var fee hexutil.Big
	if err := e.rc.Call(&fee, "eth_blobBaseFee"); err != nil || fee.ToInt().Int64() != params.BlobTxMinBlobGasprice {
		t.Fatalf("blob base fee %v %v", &fee, err)
	}
	var tip1, tip2 hexutil.Big
	if err := e.rc.Call(&tip1, "eth_maxPriorityFeePerGas"); err != nil || tip1.ToInt().Int64() != MinSuggestedTip {
		t.Fatalf("tip %v %v", &tip1, err)
	}
	if err := e.rc.Call(&tip2, "eth_maxPriorityFeePerGas"); err != nil || tip2.ToInt().Cmp(tip1.ToInt()) != 0 {
		t.Fatalf("cached tip %v %v", &tip2, err)
	}
}
