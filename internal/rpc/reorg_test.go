package rpc

import (
	"context"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/finality/tracker"
)

// alwaysPrefer is a fork choice that switches to every competing branch.
type alwaysPrefer struct{}

func (alwaysPrefer) Prefer(_, _ []tracker.KeystoneRef) bool { return true }

// sideBlock builds and seals a block with txs on parent, any stored block.
func (e *testEnv) sideBlock(parent *types.Header, txs ...*types.Transaction) *chain.Block {
	e.t.Helper()
	b, err := e.chain.BuildBlock(chain.BuildParams{Parent: parent, Time: parent.Time + 3, View: e.btc.Headers[e.view],
		Coinbase: crypto.PubkeyToAddress(seqKey.PublicKey), Txs: txs})
	if err != nil {
		e.t.Fatal(err)
	}
	if len(b.Skipped) > 0 {
		e.t.Fatalf("skipped: %v", b.Skipped[0].Err)
	}
	if err := block.Seal(b.Block.Header, seqKey); err != nil {
		e.t.Fatal(err)
	}
	return b.Block
}

// TestReorgFiltersAndSubscriptions: after an L2 reorg onto a shorter
// branch, block filters report the new branch's blocks (at numbers they
// reported before), newHeads delivers them, the logs subscription sends
// the old branch's logs with removed: true then the new ones, and a
// receipt of a transaction only in the old branch is null.
func TestReorgFiltersAndSubscriptions(t *testing.T) {
	e := newEnv(t, Config{})
	contract, deploy := e.deploy(0)
	b1 := e.mineWait(deploy)
	if err := e.chain.SetForkChoice(alwaysPrefer{}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var blockF, logF gethrpc.ID
	if err := e.rc.Call(&blockF, "eth_newBlockFilter"); err != nil {
		t.Fatal(err)
	}
	if err := e.rc.Call(&logF, "eth_newFilter", map[string]any{"address": contract}); err != nil {
		t.Fatal(err)
	}
	wc, err := ethclient.Dial(e.ws)
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	heads := make(chan *types.Header, 16)
	hsub, err := wc.SubscribeNewHead(ctx, heads)
	if err != nil {
		t.Fatal(err)
	}
	defer hsub.Unsubscribe()
	logs := make(chan types.Log, 16)
	lsub, err := wc.SubscribeFilterLogs(ctx, ethereum.FilterQuery{Addresses: []common.Address{contract}}, logs)
	if err != nil {
		t.Fatal(err)
	}
	defer lsub.Unsubscribe()

	// The old branch: b2 calls the contract (one log), b3.
	oldCall := e.sign(1, &types.LegacyTx{Nonce: 0, GasPrice: hexBig("0x2540be400").ToInt(), Gas: 100_000, To: &contract})
	b2 := e.mine(oldCall)
	b3 := e.mine()
	pollHashes := func(want ...*chain.Block) {
		t.Helper()
		var got []common.Hash
		if err := e.rc.Call(&got, "eth_getFilterChanges", blockF); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("block filter gave %d hashes, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i].Hash() {
				t.Fatalf("block filter hash %d is %s, want block %d %s", i, got[i], want[i].NumberU64(), want[i].Hash())
			}
		}
	}
	pollLogs := func(want ...*chain.Block) {
		t.Helper()
		var got []types.Log
		if err := e.rc.Call(&got, "eth_getFilterChanges", logF); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("log filter gave %d logs, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i].BlockHash != want[i].Hash() {
				t.Fatalf("log %d from block %s, want %d %s", i, got[i].BlockHash, want[i].NumberU64(), want[i].Hash())
			}
		}
	}
	pollHashes(b2, b3)
	pollLogs(b2)
	wantHead := func(want *chain.Block) {
		t.Helper()
		select {
		case h := <-heads:
			if h.Hash() != want.Hash() {
				t.Fatalf("newHeads gave %d %s, want %d %s", h.Number, h.Hash(), want.NumberU64(), want.Hash())
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("newHeads did not deliver block %d", want.NumberU64())
		}
	}
	wantLog := func(want *chain.Block, removed bool) {
		t.Helper()
		select {
		case l := <-logs:
			if l.BlockHash != want.Hash() || l.Removed != removed {
				t.Fatalf("log from %s removed=%v, want block %d removed=%v", l.BlockHash, l.Removed, want.NumberU64(), removed)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no log of block %d", want.NumberU64())
		}
	}
	wantHead(b2)
	wantHead(b3)
	wantLog(b2, false)

	// The competing branch on b1 wins at once (shorter at first): c2
	// transfers, c3 calls the contract.
	c2 := e.sideBlock(b1.Header, e.transfer(2, 0, common.Address{0xc2}, 1))
	if err := e.chain.InsertBlock(c2); err != nil {
		t.Fatal(err)
	}
	newCall := e.sign(2, &types.LegacyTx{Nonce: 1, GasPrice: hexBig("0x2540be400").ToInt(), Gas: 100_000, To: &contract})
	c3 := e.sideBlock(c2.Header, newCall)
	if err := e.chain.InsertBlock(c3); err != nil {
		t.Fatal(err)
	}
	if e.chain.Head().Hash() != c3.Hash() {
		t.Fatalf("head %d, want c3", e.chain.Head().Number)
	}
	wantHead(c2)
	wantHead(c3)
	wantLog(b2, true)
	wantLog(c3, false)
	pollHashes(c2, c3)
	pollLogs(c3)
	if r, err := e.ec.TransactionReceipt(ctx, oldCall.Hash()); err == nil || r != nil {
		t.Fatalf("receipt of a transaction only in the old branch: %v %v", r, err)
	}
	if r, err := e.ec.TransactionReceipt(ctx, newCall.Hash()); err != nil || r.BlockHash != c3.Hash() {
		t.Fatalf("receipt of the new branch's call: %v", err)
	}
}
