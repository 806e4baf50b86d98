package devnettest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hemi-go/hemi/internal/devnet"
	"github.com/hemi-go/hemi/internal/signer"
	"github.com/hemi-go/hemi/internal/tunnel"
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	reg := prometheus.NewRegistry()
	s, err := StartStack(ctx, StackConfig{L2BlockTime: time.Second, KeystoneInterval: 2, RPC: true, PoPM: devnet.PoPMConfig{Off: true},
		SignerRebroadcast: 3 * time.Second, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tc := s.L2.File.Config.Tunnel
	v, err := tunnel.NewVault(tc, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	fund := fundVault(t, s, v, 2, 10_000_000)
	vaultOut := wire.OutPoint{Hash: fund.TxHash(), Index: 0}
	if _, err := s.MineBTC(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MineBTC(ctx, int(tc.RecoveryDelay/2)+3); err != nil {
		t.Fatal(err)
	}
	c, err := ethclient.DialContext(ctx, s.RPCURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	readBatch := func() *tunnel.Batch {
		b, _, err := signer.ReadBatch(ctx, c, tc.TunnelAddress)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var batch *tunnel.Batch
	waitFor(ctx, t, "the refresh batch to open", func() bool {
		batch = readBatch()
		return batch.Open
	})
	payout, err := tunnel.BuildPayout(batch, v)
	if err != nil {
		t.Fatal(err)
	}
	txid := payout.TxHash()
	waitFor(ctx, t, "the signers' payout in the mempool", func() bool {
		_, err := s.BTC.MempoolTx(txid)
		return err == nil
	})

	// Mined, then reorged out with fewer than its confirmations.
	hs, err := s.MineBTC(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if blk, _ := s.BTC.Block(hs[0]); !slices.ContainsFunc(blk.Transactions, func(tx *wire.MsgTx) bool { return tx.TxHash() == txid }) {
		t.Fatal("the payout is not in the next block")
	}
	_, before := s.BTC.Tip()
	if err := s.BTC.InvalidateBlock(hs[0]); err != nil {
		t.Fatal(err)
	}
	_, fork := s.BTC.Tip()
	if _, err := s.MineEmptyBTC(ctx, int(before-fork)+1); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitIndexed(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "the orphaned payout back in the mempool", func() bool {
		_, err := s.BTC.MempoolTx(txid)
		return err == nil
	})
	if b := readBatch(); b.Number != batch.Number || !b.Open {
		t.Fatalf("batch %d after the reorg: %+v, want still open", batch.Number, b)
	}

	// The Bitcoin node forgets it: from here only a re-broadcast helps.
	if n, err := s.BTC.DropMempool(); err != nil || n == 0 {
		t.Fatalf("DropMempool: %d, %v", n, err)
	}
	if _, err := s.BTC.MempoolTx(txid); err == nil {
		t.Fatal("the payout is still in the mempool")
	}
	if _, err := s.TBC.Index().TxByID(txid, chainhash.Hash{}); err == nil {
		t.Fatal("the payout is still in the indexed best chain")
	}
	sent := broadcasts(t, reg)
	waitFor(ctx, t, "the signers to re-broadcast the payout", func() bool {
		_, err := s.BTC.MempoolTx(txid)
		return err == nil
	})
	if now := broadcasts(t, reg); now <= sent {
		t.Fatalf("the payout is back in the mempool but the signers' broadcasts stayed at %v", sent)
	}

	// Mined again: paid once.
	if _, err := s.MineBTC(ctx, int(tc.WithdrawalConfirmations)+3); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "the batch marked paid", func() bool {
		b := readBatch()
		return b.Number == batch.Number && !b.Open
	})
	if b := readBatch(); b.Number != batch.Number {
		t.Fatalf("batch %d after the payout, want %d (nothing derived twice)", b.Number, batch.Number)
	}
	var spends []chainhash.Hash
	vaultOuts := map[wire.OutPoint]bool{}
	hash, height := s.BTC.Tip()
	var blocks []*wire.MsgBlock
	for ; height >= 0; height-- {
		b, err := s.BTC.Block(hash)
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, b)
		hash = b.Header.PrevBlock
	}
	for i := len(blocks) - 1; i >= 0; i-- {
		for _, tx := range blocks[i].Transactions {
			for _, in := range tx.TxIn {
				if in.PreviousOutPoint == vaultOut {
					spends = append(spends, tx.TxHash())
				}
				delete(vaultOuts, in.PreviousOutPoint)
			}
			for j, o := range tx.TxOut {
				if string(o.PkScript) == string(v.PkScript()) {
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

// broadcasts sums the in-process signers' hemi_signer_broadcasts_total.
func broadcasts(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == "hemi_signer_broadcasts_total" {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
