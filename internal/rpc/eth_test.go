package rpc

import (
	"context"
	"encoding/json"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
)

// TestEthclient drives the server with go-ethereum's ethclient over HTTP
// and WebSocket: chain id, state, blocks, receipts, calls, estimates,
// logs and a newHeads subscription.
func TestEthclient(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	ec := e.ec

	contract, deploy := e.deploy(0)
	tr := e.transfer(1, 0, e.addr(2), 12345)
	b1 := e.mine(deploy, tr)
	call := e.sign(0, &types.LegacyTx{Nonce: 1, GasPrice: big.NewInt(10 * params.GWei), Gas: 100_000, To: &contract})
	b2 := e.mine(call)

	if id, err := ec.ChainID(ctx); err != nil || id.Uint64() != genesis.DevnetChainID {
		t.Fatalf("chain id %v, %v", id, err)
	}
	if n, err := ec.BlockNumber(ctx); err != nil || n != 2 {
		t.Fatalf("block number %d, %v", n, err)
	}
	// Headers decode to the same hash (every field round-trips).
	for _, want := range []common.Hash{e.chain.Genesis().Hash(), b1.Hash(), b2.Hash()} {
		h, err := ec.HeaderByHash(ctx, want)
		if err != nil || h.Hash() != want {
			t.Fatalf("header %s: %v, %v", want, h, err)
		}
	}
	for n := range uint64(3) {
		h, err := ec.HeaderByNumber(ctx, new(big.Int).SetUint64(n))
		if err != nil || h.Number.Uint64() != n {
			t.Fatalf("header %d: %v", n, err)
		}
	}
	// A block without system transactions decodes fully with ethclient
	// (go-ethereum's types cannot decode type 0x7e: see TestSystemTxJSON).
	if g, err := ec.BlockByNumber(ctx, big.NewInt(0)); err != nil || g.Hash() != e.chain.Genesis().Hash() {
		t.Fatalf("genesis block: %v", err)
	}
	if _, err := ec.HeaderByNumber(ctx, big.NewInt(99)); err != ethereum.NotFound {
		t.Fatalf("unknown block: %v", err)
	}

	bal, err := ec.BalanceAt(ctx, e.addr(2), nil)
	want := new(big.Int).Add(genesis.DevBalance(), big.NewInt(12345))
	if err != nil || bal.Cmp(want) != 0 {
		t.Fatalf("balance %v, want %v (%v)", bal, want, err)
	}
	if bal, err := ec.BalanceAt(ctx, e.addr(2), big.NewInt(0)); err != nil || bal.Cmp(genesis.DevBalance()) != 0 {
		t.Fatalf("balance at 0: %v %v", bal, err)
	}
	if n, err := ec.NonceAt(ctx, e.addr(0), nil); err != nil || n != 2 {
		t.Fatalf("nonce %d %v", n, err)
	}
	if code, err := ec.CodeAt(ctx, contract, nil); err != nil || string(code) != string(testRuntime) {
		t.Fatalf("code %x %v", code, err)
	}
	if v, err := ec.StorageAt(ctx, contract, common.Hash{}, nil); err != nil || new(big.Int).SetBytes(v).Uint64() != 2 {
		t.Fatalf("slot 0 = %x (%v), want block number 2", v, err)
	}

	// Receipts: deploy (contract address), transfer, and the system tx.
	r, err := ec.TransactionReceipt(ctx, deploy.Hash())
	if err != nil || r.ContractAddress != contract || r.Status != 1 || r.BlockHash != b1.Hash() || r.TransactionIndex != 1 {
		t.Fatalf("deploy receipt %+v %v", r, err)
	}
	r, err = ec.TransactionReceipt(ctx, call.Hash())
	if err != nil || len(r.Logs) != 1 || r.Logs[0].Topics[0] != common.HexToHash("0xabc") || r.Type != types.LegacyTxType {
		t.Fatalf("call receipt %+v %v", r, err)
	}
	sysR, err := ec.TransactionReceipt(ctx, b1.Body.SystemTxs[0].Hash())
	if err != nil || sysR.Type != block.SystemTxType || sysR.Status != 1 {
		t.Fatalf("system receipt %+v %v", sysR, err)
	}
	tx, pending, err := ec.TransactionByHash(ctx, tr.Hash())
	if err != nil || pending || tx.Hash() != tr.Hash() {
		t.Fatalf("tx by hash: %v %v", pending, err)
	}
	if n, err := ec.TransactionCount(ctx, b1.Hash()); err != nil || n != 3 {
		t.Fatalf("tx count %d %v", n, err)
	}
	if rs, err := ec.BlockReceipts(ctx, rpcBlockHash(b1.Hash())); err != nil || len(rs) != 3 || rs[0].Type != block.SystemTxType {
		t.Fatalf("block receipts %v", err)
	}

	// Calls and estimates.
	out, err := ec.CallContract(ctx, ethereum.CallMsg{To: &contract}, nil)
	if err != nil || new(big.Int).SetBytes(out).Uint64() != 42 {
		t.Fatalf("call %x %v", out, err)
	}
	// On "pending" the call sees the next block's NUMBER, as the
	// transaction will (SSTORE of a new value costs more than a no-op).
	var hgas hexutil.Uint64
	err = e.rc.Call(&hgas, "eth_estimateGas", map[string]any{"from": e.addr(3), "to": contract}, "pending")
	gas := uint64(hgas)
	if err != nil || gas <= params.TxGas {
		t.Fatalf("estimate %d %v", gas, err)
	}
	if g, err := ec.EstimateGas(ctx, ethereum.CallMsg{From: e.addr(3), To: &common.Address{1}, Value: big.NewInt(1)}); err != nil || g != params.TxGas {
		t.Fatalf("transfer estimate %d %v", g, err)
	}
	// The estimate is enough: a transaction with exactly that gas succeeds.
	est := e.sign(3, &types.DynamicFeeTx{ChainID: e.chainID(), Nonce: 0, GasTipCap: big.NewInt(params.GWei),
		GasFeeCap: big.NewInt(10 * params.GWei), Gas: gas, To: &contract})
	e.mine(est)
	if r, err := ec.TransactionReceipt(ctx, est.Hash()); err != nil || r.Status != 1 {
		t.Fatalf("estimated tx failed: %+v %v", r, err)
	}

	logs, err := ec.FilterLogs(ctx, ethereum.FilterQuery{FromBlock: big.NewInt(0), Addresses: []common.Address{contract}})
	if err != nil || len(logs) != 2 || logs[0].TxHash != call.Hash() || logs[0].BlockNumber != 2 {
		t.Fatalf("logs %v %v", logs, err)
	}
	if logs, err := ec.FilterLogs(ctx, ethereum.FilterQuery{BlockHash: ptr(b2.Hash()), Topics: [][]common.Hash{{common.HexToHash("0xdead")}}}); err != nil || len(logs) != 0 {
		t.Fatalf("topic mismatch logs %v %v", logs, err)
	}

	if tip, err := ec.SuggestGasTipCap(ctx); err != nil || tip.Sign() <= 0 {
		t.Fatalf("tip %v %v", tip, err)
	}
	if p, err := ec.SuggestGasPrice(ctx); err != nil || p.Cmp(big.NewInt(params.GWei)) < 0 {
		t.Fatalf("gas price %v %v", p, err)
	}
	fh, err := ec.FeeHistory(ctx, 3, nil, []float64{10, 90})
	if err != nil || fh.OldestBlock.Uint64() != 1 || len(fh.BaseFee) != 4 || len(fh.Reward) != 3 || len(fh.GasUsedRatio) != 3 {
		t.Fatalf("fee history %+v %v", fh, err)
	}
	if fh.Reward[0][0].Uint64() != params.GWei {
		t.Fatalf("reward %v, want the 1 gwei tip", fh.Reward[0][0])
	}
	if s, err := ec.SyncProgress(ctx); err != nil || s != nil {
		t.Fatalf("syncing %v %v", s, err)
	}

	// newHeads over WebSocket.
	wc, err := ethclient.Dial(e.ws)
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	heads := make(chan *types.Header, 4)
	sub, err := wc.SubscribeNewHead(ctx, heads)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	b4 := e.mine()
	select {
	case h := <-heads:
		if h.Hash() != b4.Hash() {
			t.Fatalf("head %d %s, want %s", h.Number, h.Hash(), b4.Hash())
		}
	case err := <-sub.Err():
		t.Fatal(err)
	case <-time.After(5 * time.Second):
		t.Fatal("no head")
	}
}

func ptr[T any](v T) *T { return &v }

// TestSystemTxJSON: system transactions are shown as op-geth shows OP
// deposits (type 0x7e, sourceHash, mint, gasPrice 0, zeroed v, r, s, no
// yParity), first in blocks.
func TestSystemTxJSON(t *testing.T) {
	e := newEnv(t, Config{})
	b := e.mine(e.transfer(1, 0, e.addr(2), 1))
	stx := b.Body.SystemTxs[0]

	var blk map[string]json.RawMessage
	if err := e.rc.Call(&blk, "eth_getBlockByNumber", "0x1", true); err != nil {
		t.Fatal(err)
	}
	var txs []map[string]any
	if err := json.Unmarshal(blk["transactions"], &txs); err != nil || len(txs) != 2 {
		t.Fatalf("transactions %s %v", blk["transactions"], err)
	}
	sys := txs[0]
	for k, want := range map[string]any{
		"type": "0x7e", "hash": stx.Hash().Hex(), "from": stx.From.Hex(), "to": stx.To.Hex(),
		"sourceHash": stx.SourceHash.Hex(), "mint": "0x0", "value": "0x0", "gasPrice": "0x0",
		"gas": hexutil.EncodeUint64(stx.Gas), "input": hexutil.Encode(stx.Data), "nonce": "0x0",
		"transactionIndex": "0x0", "blockHash": b.Hash().Hex(), "blockNumber": "0x1",
		"v": "0x0", "r": "0x0", "s": "0x0", // zeroed, as op-geth (ethers v6 needs r)
	} {
		got := sys[k]
		if s, ok := got.(string); ok {
			got = lowerHex(s)
		}
		if w, ok := want.(string); ok {
			want = lowerHex(w)
		}
		if got != want {
			t.Errorf("system tx %s = %v, want %v", k, got, want)
		}
	}
	for _, k := range []string{"yParity", "isSystemTx", "accessList", "chainId", "maxFeePerGas"} {
		if _, ok := sys[k]; ok {
			t.Errorf("system tx has %s", k)
		}
	}
	if txs[1]["type"] != "0x2" || txs[1]["v"] == nil || txs[1]["transactionIndex"] != "0x1" {
		t.Errorf("user tx %v", txs[1])
	}
	// Hashes only: block order.
	var hashes struct{ Transactions []common.Hash }
	if err := e.rc.Call(&hashes, "eth_getBlockByHash", b.Hash(), false); err != nil {
		t.Fatal(err)
	}
	if len(hashes.Transactions) != 2 || hashes.Transactions[0] != stx.Hash() {
		t.Fatalf("hashes %v", hashes.Transactions)
	}
	var byHash, byIndex map[string]any
	if err := e.rc.Call(&byHash, "eth_getTransactionByHash", stx.Hash()); err != nil || byHash["type"] != "0x7e" {
		t.Fatalf("by hash %v %v", byHash, err)
	}
	if err := e.rc.Call(&byIndex, "eth_getTransactionByBlockNumberAndIndex", "latest", "0x0"); err != nil || byIndex["hash"] != byHash["hash"] {
		t.Fatalf("by index %v %v", byIndex, err)
	}
	var rcpt map[string]any
	if err := e.rc.Call(&rcpt, "eth_getTransactionReceipt", stx.Hash()); err != nil || rcpt["type"] != "0x7e" ||
		lowerHex(rcpt["from"].(string)) != lowerHex(genesis.SystemAddress.Hex()) || rcpt["effectiveGasPrice"] != "0x0" {
		t.Fatalf("receipt %v %v", rcpt, err)
	}
	var raw hexutil.Bytes
	if err := e.rc.Call(&raw, "eth_getRawTransactionByHash", stx.Hash()); err != nil || raw[0] != block.SystemTxType {
		t.Fatalf("raw %x %v", raw, err)
	}
	// The second block's view update is the sender's second nonce.
	e.mine()
	if err := e.rc.Call(&byIndex, "eth_getTransactionByBlockNumberAndIndex", "0x2", "0x0"); err != nil || byIndex["nonce"] != "0x1" {
		t.Fatalf("second view update %v %v", byIndex, err)
	}
	var missing map[string]any
	if err := e.rc.Call(&missing, "eth_getTransactionByBlockNumberAndIndex", "0x2", "0x5"); err != nil || missing != nil {
		t.Fatalf("out of range %v %v", missing, err)
	}
}

func lowerHex(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'F' {
			b[i] = c + 32
		}
	}
	return string(b)
}

// TestTags: every block tag resolves (safe and finalized to genesis).
func TestTags(t *testing.T) {
	e := newEnv(t, Config{})
	e.mine()
	e.mine()
	for _, tc := range []struct {
		tag  string
		want uint64
	}{
		{"latest", 2}, {"pending", 2}, {"earliest", 0}, {"safe", 0}, {"finalized", 0}, {"0x1", 1},
	} {
		t.Run(tc.tag, func(t *testing.T) {
			var h struct{ Number hexutil.Uint64 }
			if err := e.rc.Call(&h, "eth_getBlockByNumber", tc.tag, false); err != nil || uint64(h.Number) != tc.want {
				t.Fatalf("%s: %d %v", tc.tag, h.Number, err)
			}
			var bal hexutil.Big
			if err := e.rc.Call(&bal, "eth_getBalance", e.addr(0), tc.tag); err != nil {
				t.Fatalf("balance at %s: %v", tc.tag, err)
			}
		})
	}
	var none map[string]any
	if err := e.rc.Call(&none, "eth_getBlockByNumber", "0x10", false); err != nil || none != nil {
		t.Fatalf("future block %v %v", none, err)
	}
	var bal hexutil.Big
	code, msg, _ := rpcErr(t, e.rc.Call(&bal, "eth_getBalance", e.addr(0), "0x10"))
	if code != codeServer || msg != "header not found" {
		t.Fatalf("future state: %d %s", code, msg)
	}
}

func rpcBlockHash(h common.Hash) gethrpc.BlockNumberOrHash {
	return gethrpc.BlockNumberOrHashWithHash(h, false)
}
