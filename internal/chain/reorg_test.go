package chain

import (
	"bytes"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/hemi-go/hemi/internal/btc/indextest"
	"github.com/hemi-go/hemi/internal/node/indexadapt"
)

// TestReexecuteAfterBitcoinReorg is DESIGN 3.4's promise at the chain
// level: an L2 block whose contract read Bitcoin through 0x44 is
// re-executed by a fresh node (its own index and database) after the
// block's Bitcoin view was reorged out, to the same state root; the
// sequencer then moves its view onto the new most-work branch, which
// both nodes accept, and a view on a lighter branch is refused.
func TestReexecuteAfterBitcoinReorg(t *testing.T) {
	f := newBTCFixture(t, 12)
	fork := f.Fork(t, 8, 6) // heights 9'..14', more work than 1..12
	reader := common.HexToAddress("0xb7c0000000000000000000000000000000000001")

	ixA := indextest.Open(t, regtest, t.TempDir())
	defer ixA.Close()
	indextest.Feed(t, ixA, f.Blocks)
	spec := testGenesis(t, viewAt(t, indexadapt.NewChain(ixA), f.Blocks[1]))
	spec.Alloc[reader] = types.Account{Code: btcReaderRuntime, Balance: common.Big0}
	seq := newHarness(t, ixA, "", spec)

	v10 := viewAt(t, seq.btc, f.Blocks[9])
	call := seq.signTx(userKeys[0], &types.LegacyTx{Nonce: 0, GasPrice: big1Gwei(), Gas: 100_000, To: &reader})
	b1 := seq.mine(v10, call)
	rec := headerRecord(t, v10)

	// Bitcoin reorgs: block 10 of the old branch is no longer on the
	// most-work chain of the sequencer's index.
	indextest.Feed(t, ixA, fork)
	if on, err := seq.btc.Contains(v10.Hash, fork[len(fork)-1].BlockHash()); err != nil || on {
		t.Fatalf("view 10 still in the best chain: %v %v", on, err)
	}

	// A fresh node that saw both branches (as any node syncing Bitcoin
	// while the reorg happened) re-executes block 1.
	ixB := indextest.Open(t, regtest, t.TempDir())
	defer ixB.Close()
	indextest.Feed(t, ixB, f.Blocks)
	indextest.Feed(t, ixB, fork)
	fresh := newHarness(t, ixB, "", spec)
	if err := fresh.chain.InsertBlock(b1); err != nil {
		t.Fatalf("re-executing block 1 after the reorg: %v", err)
	}
	st, err := fresh.chain.StateAt(fresh.chain.Head().Root)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.GetState(reader, common.Hash{}); !bytes.Equal(got[:], rec[:32]) {
		t.Fatalf("the re-executed read saw %x, the old branch's block 10 is %x", got, rec[:32])
	}

	// Onto the new branch: fork block 12' has more work than old 10.
	v12f := viewAt(t, seq.btc, fork[3])
	b2 := seq.mine(v12f, seq.signTx(userKeys[0], &types.LegacyTx{Nonce: 1, GasPrice: big1Gwei(), Gas: 100_000, To: &reader}))
	if err := fresh.chain.InsertBlock(b2); err != nil {
		t.Fatalf("view switching onto the new branch: %v", err)
	}
	st, _ = fresh.chain.StateAt(b2.Header.Root)
	if got, want := st.GetState(reader, common.Hash{}), headerRecord(t, v12f); !bytes.Equal(got[:], want[:32]) {
		t.Fatalf("after the switch the contract read %x, want %x", got, want[:32])
	}

	// A view back on a branch with less work than the parent's is refused.
	lighter := viewAt(t, seq.btc, f.Blocks[10]) // old 11: work 11 < 12'
	head := seq.chain.Head()
	_, err = seq.chain.BuildBlock(BuildParams{Parent: head, Time: head.Time + 2, View: lighter})
	wantErr(t, err, ErrBadView)
}

func big1Gwei() *big.Int { return big.NewInt(params.GWei) }
