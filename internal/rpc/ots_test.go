package rpc

import (
	"context"
	"encoding/json"
	"log/slog"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/explorer/addrindex"
)

// withIndex runs an address index over the env's chain and serves it.
func withIndex(t *testing.T, out **addrindex.Index) func(*chain.Chain, *Config) {
	return func(c *chain.Chain, cfg *Config) {
		ix, err := addrindex.New(addrindex.Config{Chain: c, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- ix.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("address index: %v", err)
			}
			ix.Close()
		})
		cfg.AddressIndex = ix
		*out = ix
	}
}

func (e *testEnv) waitIndexed(ix *addrindex.Index) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ix.WaitFor(ctx, e.chain.Head().Hash()); err != nil {
		e.t.Fatalf("address index at %+v: %v", ix.Tip(), err)
	}
}

// forwarder forwards its call value to the address in its calldata's
// first word: CALL(gas, to, callvalue, 0, 0, 0, 0).
var forwarder = []byte{0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x34, 0x60, 0x00, 0x35, 0x5a, 0xf1, 0x00}

type otsPage struct {
	Txs []struct {
		Hash        common.Hash    `json:"hash"`
		BlockNumber *hexutil.Big   `json:"blockNumber"`
		From        common.Address `json:"from"`
	} `json:"txs"`
	Receipts []struct {
		TransactionHash common.Hash `json:"transactionHash"`
		Timestamp       uint64      `json:"timestamp"`
		Status          hexutil.Uint
	} `json:"receipts"`
	FirstPage bool `json:"firstPage"`
	LastPage  bool `json:"lastPage"`
}

func (e *testEnv) otsSearch(method string, addr common.Address, block, size uint64) otsPage {
	e.t.Helper()
	var p otsPage
	if err := e.rc.Call(&p, method, addr, block, size); err != nil {
		e.t.Fatalf("%s: %v", method, err)
	}
	return p
}

func checkHashes(t *testing.T, name string, p otsPage, first, last bool, want ...*types.Transaction) {
	t.Helper()
	if p.FirstPage != first || p.LastPage != last {
		t.Errorf("%s: firstPage %v lastPage %v, want %v %v", name, p.FirstPage, p.LastPage, first, last)
	}
	if len(p.Txs) != len(want) || len(p.Receipts) != len(want) {
		t.Fatalf("%s: %d txs and %d receipts, want %d", name, len(p.Txs), len(p.Receipts), len(want))
	}
	for i, tx := range want {
		if p.Txs[i].Hash != tx.Hash() || p.Receipts[i].TransactionHash != tx.Hash() || p.Receipts[i].Timestamp == 0 {
			t.Errorf("%s: entry %d is %s / %s at %d, want %s", name, i, p.Txs[i].Hash, p.Receipts[i].TransactionHash, p.Receipts[i].Timestamp, tx.Hash())
		}
	}
}

// TestOtsSearch: ots_searchTransactionsBefore/After page an address's
// history as Otterscan expects (newest first, firstPage/lastPage).
func TestOtsSearch(t *testing.T) {
	var ix *addrindex.Index
	e := newEnv(t, Config{}, withIndex(t, &ix))
	a1 := e.addr(1)
	var txs []*types.Transaction
	for n := range uint64(4) {
		tx := e.transfer(0, n, a1, 1)
		txs = append(txs, tx)
		e.mine(tx)
	}
	e.mine(e.transfer(2, 0, e.addr(3), 1)) // unrelated
	e.waitIndexed(ix)

	checkHashes(t, "before latest", e.otsSearch("ots_searchTransactionsBefore", a1, 0, 2), true, false, txs[3], txs[2])
	checkHashes(t, "before block 3", e.otsSearch("ots_searchTransactionsBefore", a1, 3, 2), false, true, txs[1], txs[0])
	checkHashes(t, "after genesis", e.otsSearch("ots_searchTransactionsAfter", a1, 0, 2), false, true, txs[1], txs[0])
	checkHashes(t, "after block 2", e.otsSearch("ots_searchTransactionsAfter", a1, 2, 2), true, false, txs[3], txs[2])
	checkHashes(t, "sender", e.otsSearch("ots_searchTransactionsBefore", e.addr(0), 0, 25), true, true, txs[3], txs[2], txs[1], txs[0])
	checkHashes(t, "nobody", e.otsSearch("ots_searchTransactionsBefore", common.Address{0x99}, 0, 25), true, true)

	for _, size := range []uint64{0, otsMaxPageSize + 1} {
		var p otsPage
		err := e.rc.Call(&p, "ots_searchTransactionsBefore", a1, 0, size)
		if code, _, _ := rpcErr(t, err); code != codeInvalidParams {
			t.Errorf("page size %d: code %d, want %d", size, code, codeInvalidParams)
		}
	}
	var lvl int
	if err := e.rc.Call(&lvl, "ots_getApiLevel"); err != nil || lvl != otsAPILevel {
		t.Errorf("ots_getApiLevel = %d, %v", lvl, err)
	}
}

// TestOtsWithoutIndex: a node without the index says so.
func TestOtsWithoutIndex(t *testing.T) {
	e := newEnv(t, Config{})
	var p otsPage
	err := e.rc.Call(&p, "ots_searchTransactionsBefore", e.addr(0), 0, 25)
	if code, msg, _ := rpcErr(t, err); code != codeServer || msg != ErrNoAddressIndex.Error() {
		t.Errorf("without an index: %d %q", code, msg)
	}
}

// TestOtsTxMethods: traces, internal operations, revert output,
// contract creator, nonce lookup, hasCode and the block methods, on
// transactions whose answers are known.
func TestOtsTxMethods(t *testing.T) {
	e := newEnv(t, Config{})
	a0, a2 := e.addr(0), e.addr(2)
	contract, deployTx := e.deploy(0)
	fwd := crypto.CreateAddress(a0, 1)
	fwdTx := e.sign(0, &types.DynamicFeeTx{ChainID: e.chainID(), Nonce: 1, GasTipCap: big.NewInt(params.GWei),
		GasFeeCap: big.NewInt(10 * params.GWei), Gas: 300_000, Data: initCode(forwarder)})
	e.mine(deployTx, fwdTx)
	okCall := e.sign(0, &types.DynamicFeeTx{ChainID: e.chainID(), Nonce: 2, GasTipCap: big.NewInt(params.GWei),
		GasFeeCap: big.NewInt(10 * params.GWei), Gas: 100_000, To: &contract})
	badCall := e.sign(0, &types.DynamicFeeTx{ChainID: e.chainID(), Nonce: 3, GasTipCap: big.NewInt(params.GWei),
		GasFeeCap: big.NewInt(10 * params.GWei), Gas: 100_000, To: &contract, Data: []byte{1}})
	send := e.sign(0, &types.DynamicFeeTx{ChainID: e.chainID(), Nonce: 4, GasTipCap: big.NewInt(params.GWei),
		GasFeeCap: big.NewInt(10 * params.GWei), Gas: 100_000, To: &fwd, Value: big.NewInt(5), Data: common.LeftPadBytes(a2[:], 32)})
	b2 := e.mine(okCall, badCall, send)

	// ots_getTransactionError: Error("boom") for the revert, 0x otherwise.
	var revert hexutil.Bytes
	if err := e.rc.Call(&revert, "ots_getTransactionError", badCall.Hash()); err != nil {
		t.Fatal(err)
	}
	if len(revert) != 100 || common.Bytes2Hex(revert[:4]) != "08c379a0" || string(revert[68:72]) != "boom" {
		t.Errorf("revert output %x", revert)
	}
	if err := e.rc.Call(&revert, "ots_getTransactionError", okCall.Hash()); err != nil || len(revert) != 0 {
		t.Errorf("successful call's error output %x, %v", revert, err)
	}

	// ots_traceTransaction: the call and the forwarded transfer.
	var trace []otsTraceEntry
	if err := e.rc.Call(&trace, "ots_traceTransaction", send.Hash()); err != nil {
		t.Fatal(err)
	}
	if len(trace) != 2 ||
		trace[0].Type != "CALL" || trace[0].Depth != 0 || trace[0].From != a0 || trace[0].To != fwd || trace[0].Value.ToInt().Int64() != 5 ||
		trace[1].Type != "CALL" || trace[1].Depth != 1 || trace[1].From != fwd || trace[1].To != a2 || trace[1].Value.ToInt().Int64() != 5 {
		t.Errorf("trace %s", mustJSON(trace))
	}
	if err := e.rc.Call(&trace, "ots_traceTransaction", okCall.Hash()); err != nil {
		t.Fatal(err)
	}
	if len(trace) != 1 || len(trace[0].Output) != 32 || trace[0].Output[31] != 42 {
		t.Errorf("trace of the successful call %s", mustJSON(trace))
	}

	// ots_getInternalOperations: the forwarded transfer only.
	var ops []otsOperation
	if err := e.rc.Call(&ops, "ots_getInternalOperations", send.Hash()); err != nil {
		t.Fatal(err)
	}
	if len(ops) != 1 || ops[0].Type != otsOpTransfer || ops[0].From != fwd || ops[0].To != a2 || ops[0].Value.ToInt().Int64() != 5 {
		t.Errorf("internal operations %s", mustJSON(ops))
	}
	if err := e.rc.Call(&ops, "ots_getInternalOperations", okCall.Hash()); err != nil || len(ops) != 0 {
		t.Errorf("internal operations of a plain call %s, %v", mustJSON(ops), err)
	}

	// ots_getContractCreator.
	var cc *otsContractCreator
	if err := e.rc.Call(&cc, "ots_getContractCreator", fwd); err != nil {
		t.Fatal(err)
	}
	if cc == nil || cc.Hash != fwdTx.Hash() || cc.Creator != a0 {
		t.Errorf("creator of the forwarder: %+v, want %s by %s", cc, fwdTx.Hash(), a0)
	}
	if err := e.rc.Call(&cc, "ots_getContractCreator", a2); err != nil || cc != nil {
		t.Errorf("creator of an account: %+v, %v", cc, err)
	}

	// ots_getTransactionBySenderAndNonce.
	for n, tx := range []*types.Transaction{deployTx, fwdTx, okCall, badCall, send} {
		var h *common.Hash
		if err := e.rc.Call(&h, "ots_getTransactionBySenderAndNonce", a0, hexutil.Uint64(n)); err != nil {
			t.Fatal(err)
		}
		if h == nil || *h != tx.Hash() {
			t.Errorf("nonce %d: %v, want %s", n, h, tx.Hash())
		}
	}
	var none *common.Hash
	if err := e.rc.Call(&none, "ots_getTransactionBySenderAndNonce", a0, hexutil.Uint64(5)); err != nil || none != nil {
		t.Errorf("nonce not used yet: %v, %v", none, err)
	}

	// ots_hasCode.
	for addr, want := range map[common.Address]bool{contract: true, fwd: true, a2: false} {
		var got bool
		if err := e.rc.Call(&got, "ots_hasCode", addr, "latest"); err != nil || got != want {
			t.Errorf("hasCode(%s) = %v, %v", addr, got, err)
		}
	}
	var early bool
	if err := e.rc.Call(&early, "ots_hasCode", contract, "0x0"); err != nil || early {
		t.Errorf("hasCode at the genesis = %v, %v", early, err)
	}

	// ots_getBlockDetails: no transaction list, their count, the fees.
	var details struct {
		Block     map[string]any `json:"block"`
		Issuance  map[string]any `json:"issuance"`
		TotalFees *hexutil.Big   `json:"totalFees"`
	}
	if err := e.rc.Call(&details, "ots_getBlockDetails", hexutil.EncodeUint64(b2.NumberU64())); err != nil {
		t.Fatal(err)
	}
	rs, err := e.chain.Receipts(b2.Hash())
	if err != nil {
		t.Fatal(err)
	}
	fees := new(big.Int)
	for _, r := range rs[len(b2.Body.SystemTxs):] {
		fees.Add(fees, new(big.Int).Mul(r.EffectiveGasPrice, new(big.Int).SetUint64(r.GasUsed)))
	}
	if _, ok := details.Block["transactions"]; ok || details.Block["transactionCount"] != float64(b2.Body.Len()) ||
		details.Block["logsBloom"] != nil || details.Block["hash"] != b2.Hash().Hex() || details.TotalFees.ToInt().Cmp(fees) != 0 ||
		details.Issuance["issuance"] != "0x0" || fees.Sign() == 0 {
		t.Errorf("block details %s, fees want %s", mustJSON(details), fees)
	}
	var missing map[string]any
	if err := e.rc.Call(&missing, "ots_getBlockDetails", "0x999"); err != nil || missing != nil {
		t.Errorf("details of a block above the head: %v, %v", missing, err)
	}

	// ots_getBlockTransactions: pages from the end; inputs cut to 4 bytes.
	var page struct {
		Fullblock struct {
			Transactions []struct {
				Hash  common.Hash   `json:"hash"`
				Input hexutil.Bytes `json:"input"`
			} `json:"transactions"`
		} `json:"fullblock"`
		Receipts []map[string]any `json:"receipts"`
	}
	if err := e.rc.Call(&page, "ots_getBlockTransactions", hexutil.EncodeUint64(b2.NumberU64()), 0, 2); err != nil {
		t.Fatal(err)
	}
	hashes := b2.Body.TxHashes()
	n := len(hashes)
	if len(page.Fullblock.Transactions) != 2 || page.Fullblock.Transactions[0].Hash != hashes[n-2] || page.Fullblock.Transactions[1].Hash != hashes[n-1] ||
		len(page.Fullblock.Transactions[1].Input) != 4 || len(page.Receipts) != 2 || page.Receipts[0]["logs"] != nil {
		t.Errorf("block transactions page %s", mustJSON(page))
	}

	var hdr map[string]any
	if err := e.rc.Call(&hdr, "erigon_getHeaderByNumber", hexutil.EncodeUint64(b2.NumberU64())); err != nil || hdr["hash"] != b2.Hash().Hex() {
		t.Errorf("erigon_getHeaderByNumber: %v, %v", hdr["hash"], err)
	}

	var unknown json.RawMessage
	err = e.rc.Call(&unknown, "ots_traceTransaction", common.Hash{1})
	if code, _, _ := rpcErr(t, err); code != codeServer {
		t.Errorf("trace of an unknown transaction: code %d", code)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
