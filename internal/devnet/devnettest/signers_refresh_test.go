package devnettest

import (
	"context"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/devnet"
	"github.com/hemi-go/hemi/internal/signer"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// TestDevnetSignersRefresh runs the tunnel's payout path end to end on the
// devnet: a vault output reaches half the recovery delay, the chain's
// withdrawal deriver opens a refresh batch, the three in-process signers
// read it from the node, each derives and checks it, signs and posts in an
// L2 transaction, one assembles k good sets and broadcasts; the payout is
// mined, spends the vault output back to the vault, and the batch is
// marked paid once the payout has its confirmations in the view.
func TestDevnetSignersRefresh(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a regtest node, an indexer, an L2 and three signers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s, err := StartStack(ctx, StackConfig{L2BlockTime: time.Second, KeystoneInterval: 2, RPC: true, PoPM: devnet.PoPMConfig{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tc := s.L2.File.Config.Tunnel
	v, err := tunnel.NewVault(tc, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}

	// Fund the vault from the dev miner's second coinbase (mature).
	key, _, err := devnet.MinerKey()
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := s.BTC.HashAt(2)
	b2, err := s.BTC.Block(h2)
	if err != nil {
		t.Fatal(err)
	}
	cb := b2.Transactions[0]
	change, _ := key.PkScript(txgen.P2WPKH)
	sp := txgen.Spend{
		Inputs:  []txgen.UTXO{{OutPoint: wire.OutPoint{Hash: cb.TxHash()}, Value: cb.TxOut[0].Value, Key: key, Kind: txgen.P2WPKH}},
		Outputs: []*wire.TxOut{wire.NewTxOut(10_000_000, v.PkScript())},
		Change:  change, FeeRate: 2,
	}
	fund, _, _, err := sp.Build()
	if err != nil {
		t.Fatal(err)
	}
	if err := txgen.Sign(fund, sp.Inputs); err != nil {
		t.Fatal(err)
	}
	if err := s.BTC.AcceptTx(fund); err != nil {
		t.Fatal(err)
	}
	vaultOut := wire.OutPoint{Hash: fund.TxHash(), Index: 0}
	if _, err := s.MineBTC(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// Half the recovery delay (72 blocks) plus the view lag.
	if _, err := s.MineBTC(ctx, int(tc.RecoveryDelay/2)+3); err != nil {
		t.Fatal(err)
	}

	c, err := ethclient.DialContext(ctx, s.RPCURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var batch *tunnel.Batch
	waitFor(ctx, t, "the refresh batch to open", func() bool {
		b, _, err := signer.ReadBatch(ctx, c, tc.TunnelAddress)
		if err != nil {
			t.Fatal(err)
		}
		batch = b
		return b.Open
	})
	if !batch.Refresh || len(batch.Inputs) != 1 || batch.Inputs[0].OutPoint != vaultOut {
		t.Fatalf("batch %+v, want a refresh of %s", batch, vaultOut)
	}
	payout, err := tunnel.BuildPayout(batch, v)
	if err != nil {
		t.Fatal(err)
	}
	txid := payout.TxHash()
	waitFor(ctx, t, "the signers' payout in the mempool", func() bool {
		_, err := s.BTC.MempoolTx(txid)
		return err == nil
	})
	signed, _ := s.BTC.MempoolTx(txid)
	if err := tunnel.CheckSpend(signed, tunnel.PayoutPrevouts(batch, v)); err != nil {
		t.Fatal(err)
	}
	if len(signed.TxOut) != 2 || string(signed.TxOut[0].PkScript) != string(v.PkScript()) {
		t.Fatalf("refresh payout outputs %+v", signed.TxOut)
	}
	if _, err := s.MineBTC(ctx, int(tc.WithdrawalConfirmations)+3); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "the batch marked paid", func() bool {
		b, _, err := signer.ReadBatch(ctx, c, tc.TunnelAddress)
		if err != nil {
			t.Fatal(err)
		}
		return b.Number == batch.Number && !b.Open
	})
	mined := false
	tip, _ := s.BTC.Tip()
	for h := tip; !mined; {
		blk, err := s.BTC.Block(h)
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range blk.Transactions {
			if tx.TxHash() == txid {
				mined = true
			}
		}
		if blk.Header.PrevBlock == (chainhash.Hash{}) {
			break
		}
		h = blk.Header.PrevBlock
	}
	if !mined {
		t.Fatal("payout not in the chain")
	}
}

// waitFor polls cond every 200 ms until it holds or ctx ends.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
