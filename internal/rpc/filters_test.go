package rpc

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// TestPollingFilters: block, log and pending-transaction filters report
// what happened since the last poll; uninstall and expiry remove them.
func TestPollingFilters(t *testing.T) {
	e := newEnv(t, Config{})
	contract, deploy := e.deploy(0)
	e.mineWait(deploy)

	var blockF, logF, pendF, allLogF gethrpc.ID
	if err := e.rc.Call(&blockF, "eth_newBlockFilter"); err != nil {
		t.Fatal(err)
	}
	if err := e.rc.Call(&logF, "eth_newFilter", map[string]any{"address": contract, "topics": [][]common.Hash{{common.HexToHash("0xabc")}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.rc.Call(&allLogF, "eth_newFilter", map[string]any{"fromBlock": "earliest", "address": []common.Address{contract}}); err != nil {
		t.Fatal(err)
	}
	if err := e.rc.Call(&pendF, "eth_newPendingTransactionFilter"); err != nil {
		t.Fatal(err)
	}
	call := e.sign(1, &types.DynamicFeeTx{ChainID: e.chainID(), Nonce: 0, GasTipCap: common.Big1, GasFeeCap: hexBig("0x2540be400").ToInt(), Gas: 100_000, To: &contract})
	if err := e.ec.SendTransaction(context.Background(), call); err != nil {
		t.Fatal(err)
	}
	// The pool feed reaches the filter asynchronously.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var hashes []common.Hash
		if err := e.rc.Call(&hashes, "eth_getFilterChanges", pendF); err != nil {
			t.Fatal(err)
		}
		if len(hashes) == 1 && hashes[0] == call.Hash() {
			break
		}
		if len(hashes) != 0 || time.Now().After(deadline) {
			t.Fatalf("pending hashes %v", hashes)
		}
		time.Sleep(5 * time.Millisecond)
	}
	b2 := e.mineWait(call)
	b3 := e.mine()

	var hashes []common.Hash
	if err := e.rc.Call(&hashes, "eth_getFilterChanges", blockF); err != nil || len(hashes) != 2 || hashes[0] != b2.Hash() || hashes[1] != b3.Hash() {
		t.Fatalf("block filter %v %v", hashes, err)
	}
	if err := e.rc.Call(&hashes, "eth_getFilterChanges", blockF); err != nil || len(hashes) != 0 {
		t.Fatalf("second poll %v %v", hashes, err)
	}
	var logs []types.Log
	if err := e.rc.Call(&logs, "eth_getFilterChanges", logF); err != nil || len(logs) != 1 || logs[0].TxHash != call.Hash() {
		t.Fatalf("log filter %v %v", logs, err)
	}
	if err := e.rc.Call(&logs, "eth_getFilterChanges", logF); err != nil || len(logs) != 0 {
		t.Fatalf("log filter second poll %v %v", logs, err)
	}
	if err := e.rc.Call(&logs, "eth_getFilterLogs", allLogF); err != nil || len(logs) != 1 {
		t.Fatalf("filter logs %v %v", logs, err)
	}
	var ok bool
	if err := e.rc.Call(&ok, "eth_uninstallFilter", logF); err != nil || !ok {
		t.Fatalf("uninstall %v %v", ok, err)
	}
	if err := e.rc.Call(&ok, "eth_uninstallFilter", logF); err != nil || ok {
		t.Fatalf("second uninstall %v %v", ok, err)
	}
	if _, msg, _ := rpcErr(t, e.rc.Call(&logs, "eth_getFilterChanges", logF)); msg != "filter not found" {
		t.Fatal(msg)
	}

	// Expiry: a filter not polled for FilterTimeout goes.
	fs := e.srv.filters
	fs.mu.Lock()
	fs.now = func() time.Time { return time.Now().Add(2 * DefaultFilterTimeout) }
	fs.mu.Unlock()
	fs.expire()
	if _, msg, _ := rpcErr(t, e.rc.Call(&hashes, "eth_getFilterChanges", blockF)); msg != "filter not found" {
		t.Fatal(msg)
	}
}

func hexBig(s string) *hexutil.Big {
	var b hexutil.Big
	if err := b.UnmarshalText([]byte(s)); err != nil {
		panic(err)
	}
	return &b
}

// TestGetLogsLimits: the block range and result limits.
func TestGetLogsLimits(t *testing.T) {
	e := newEnv(t, Config{LogsBlockRange: 2, LogsMaxResults: 1})
	contract, deploy := e.deploy(0)
	e.mine(deploy)
	for i := range uint64(2) {
		e.mine(e.sign(1, &types.LegacyTx{Nonce: i, GasPrice: hexBig("0x2540be400").ToInt(), Gas: 100_000, To: &contract}))
	}
	ctx := context.Background()
	if _, err := e.ec.FilterLogs(ctx, ethereum.FilterQuery{FromBlock: common.Big0}); err == nil {
		t.Fatal("range over the limit answered")
	} else if code, _, _ := rpcErr(t, err); code != codeLimit {
		t.Fatalf("code %d", code)
	}
	if _, err := e.ec.FilterLogs(ctx, ethereum.FilterQuery{FromBlock: common.Big2, ToBlock: common.Big3}); err == nil {
		t.Fatal("too many results answered")
	}
	if logs, err := e.ec.FilterLogs(ctx, ethereum.FilterQuery{FromBlock: common.Big3}); err != nil || len(logs) != 1 {
		t.Fatalf("one block: %v %v", logs, err)
	}
}

// TestSubscriptions: logs and newPendingTransactions over WebSocket.
func TestSubscriptions(t *testing.T) {
	e := newEnv(t, Config{})
	contract, deploy := e.deploy(0)
	e.mineWait(deploy)
	ctx := context.Background()
	wc, err := ethclient.Dial(e.ws)
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	logs := make(chan types.Log, 4)
	lsub, err := wc.SubscribeFilterLogs(ctx, ethereum.FilterQuery{Addresses: []common.Address{contract}}, logs)
	if err != nil {
		t.Fatal(err)
	}
	defer lsub.Unsubscribe()
	rc, err := gethrpc.Dial(e.ws)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	pending := make(chan common.Hash, 4)
	psub, err := rc.EthSubscribe(ctx, pending, "newPendingTransactions")
	if err != nil {
		t.Fatal(err)
	}
	defer psub.Unsubscribe()
	full := make(chan json.RawMessage, 4)
	fsub, err := rc.EthSubscribe(ctx, full, "newPendingTransactions", true)
	if err != nil {
		t.Fatal(err)
	}
	defer fsub.Unsubscribe()

	call := e.sign(1, &types.LegacyTx{Nonce: 0, GasPrice: hexBig("0x2540be400").ToInt(), Gas: 100_000, To: &contract})
	if err := e.ec.SendTransaction(ctx, call); err != nil {
		t.Fatal(err)
	}
	select {
	case h := <-pending:
		if h != call.Hash() {
			t.Fatalf("pending %s", h)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no pending tx")
	}
	select {
	case raw := <-full:
		var tx struct{ Hash common.Hash }
		if err := json.Unmarshal(raw, &tx); err != nil || tx.Hash != call.Hash() {
			t.Fatalf("full pending %s %v", raw, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no full pending tx")
	}
	b := e.mineWait(call)
	select {
	case l := <-logs:
		if l.TxHash != call.Hash() || l.BlockHash != b.Hash() {
			t.Fatalf("log %+v", l)
		}
	case err := <-lsub.Err():
		t.Fatal(err)
	case <-time.After(5 * time.Second):
		t.Fatal("no log")
	}
}
