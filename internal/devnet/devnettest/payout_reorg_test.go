package devnettest

import (
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hemi-go/hemi/internal/devnet"
	"github.com/hemi-go/hemi/internal/testtools/testkit"
)

// TestPayoutReorgedOut: the in-process signers' payout (a refresh batch)
// is mined, then its block is reorged out before the payout has its
// confirmations. The reorg returns it to the Bitcoin node's mempool (as
// btcd and Bitcoin Core do); the node then forgets its mempool
// (regtest.DropMempool: what a restart of btcd, which keeps no mempool,
// does), so the payout is neither in a block nor in the mempool and only
// the signers' own re-broadcast (their broadcasts counter moves) brings
// it back. The batch stays open (no paid marker from an orphaned block),
// the same payout is mined again on the new branch, and the batch is
// marked paid once: the vault output is spent exactly once in the best
// chain, by that payout, and its change is the vault's only output.
func TestPayoutReorgedOut(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a regtest node, an indexer, an L2 and three signers")
	}
	reg := prometheus.NewRegistry()
	e := startTunnelEnv(t, 5*time.Minute, StackConfig{L2BlockTime: time.Second, KeystoneInterval: 2, RPC: true, PoPM: devnet.PoPMConfig{Off: true},
		SignerRebroadcast: 3 * time.Second, Registerer: reg})
	vaultOut, batch, txid := e.openRefresh()

	// Mined, then reorged out with fewer than its confirmations.
	hs, err := e.MineBTC(e.ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if blk, _ := e.BTC.Block(hs[0]); !holds(blk, txid) {
		t.Fatal("the payout is not in the next block")
	}
	_, before := e.BTC.Tip()
	if err := e.BTC.InvalidateBlock(hs[0]); err != nil {
		t.Fatal(err)
	}
	_, fork := e.BTC.Tip()
	if _, err := e.MineEmptyBTC(e.ctx, int(before-fork)+1); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitIndexed(e.ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(e.ctx, t, "the orphaned payout back in the mempool", func() bool { return e.inMempool(txid) })
	if b := e.readBatch(); b.Number != batch.Number || !b.Open {
		t.Fatalf("batch %d after the reorg: %+v, want still open", batch.Number, b)
	}

	// The Bitcoin node forgets it: from here only a re-broadcast helps.
	if n, err := e.BTC.DropMempool(); err != nil || n == 0 {
		t.Fatalf("DropMempool: %d, %v", n, err)
	}
	if e.inMempool(txid) {
		t.Fatal("the payout is still in the mempool")
	}
	if _, err := e.TBC.Index().TxByID(txid, chainhash.Hash{}); err == nil {
		t.Fatal("the payout is still in the indexed best chain")
	}
	broadcasts := func() float64 { return testkit.MetricValue(t, reg, "hemi_signer_broadcasts_total") }
	sent := broadcasts()
	waitFor(e.ctx, t, "the signers to re-broadcast the payout", func() bool { return e.inMempool(txid) })
	if now := broadcasts(); now <= sent {
		t.Fatalf("the payout is back in the mempool but the signers' broadcasts stayed at %v", sent)
	}

	// Mined again: paid once.
	if _, err := e.MineBTC(e.ctx, int(e.tc.WithdrawalConfirmations)+3); err != nil {
		t.Fatal(err)
	}
	waitFor(e.ctx, t, "the batch marked paid", func() bool {
		b := e.readBatch()
		return b.Number == batch.Number && !b.Open
	})
	if b := e.readBatch(); b.Number != batch.Number {
		t.Fatalf("batch %d after the payout, want %d (nothing derived twice)", b.Number, batch.Number)
	}
	var spends []chainhash.Hash
	vaultOuts := map[wire.OutPoint]bool{}
	for _, b := range e.bestChain() {
		for _, tx := range b.Transactions {
			for _, in := range tx.TxIn {
				if in.PreviousOutPoint == vaultOut {
					spends = append(spends, tx.TxHash())
				}
				delete(vaultOuts, in.PreviousOutPoint)
			}
			for j, o := range tx.TxOut {
				if string(o.PkScript) == string(e.v.PkScript()) {
					vaultOuts[wire.OutPoint{Hash: tx.TxHash(), Index: uint32(j)}] = true
				}
			}
		}
	}
	if len(spends) != 1 || spends[0] != txid {
		t.Fatalf("vault output spent by %v in the best chain, want once by the payout %s", spends, txid)
	}
	if len(vaultOuts) != 1 || !vaultOuts[wire.OutPoint{Hash: txid, Index: 0}] {
		t.Fatalf("vault outputs %v, want only the payout's change", vaultOuts)
	}
}
