package devnettest

import (
	"slices"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/devnet"
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
	e := startTunnelEnv(t, 4*time.Minute, StackConfig{L2BlockTime: time.Second, KeystoneInterval: 2, RPC: true, PoPM: devnet.PoPMConfig{Off: true}})
	vaultOut, batch, txid := e.openRefresh()
	if !batch.Refresh || len(batch.Inputs) != 1 || batch.Inputs[0].OutPoint != vaultOut {
		t.Fatalf("batch %+v, want a refresh of %s", batch, vaultOut)
	}
	signed, _ := e.BTC.MempoolTx(txid)
	if err := tunnel.CheckSpend(signed, tunnel.PayoutPrevouts(batch, e.v)); err != nil {
		t.Fatal(err)
	}
	if len(signed.TxOut) != 2 || string(signed.TxOut[0].PkScript) != string(e.v.PkScript()) {
		t.Fatalf("refresh payout outputs %+v", signed.TxOut)
	}
	if _, err := e.MineBTC(e.ctx, int(e.tc.WithdrawalConfirmations)+3); err != nil {
		t.Fatal(err)
	}
	waitFor(e.ctx, t, "the batch marked paid", func() bool {
		b := e.readBatch()
		return b.Number == batch.Number && !b.Open
	})
	if !slices.ContainsFunc(e.bestChain(), func(b *wire.MsgBlock) bool { return holds(b, txid) }) {
		t.Fatal("payout not in the chain")
	}
}
