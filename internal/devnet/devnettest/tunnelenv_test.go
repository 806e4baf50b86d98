package devnettest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/signer"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// tunnelEnv is the set-up the tunnel's end-to-end tests share: a stack
// (closed when the test ends, before its context is cancelled), its
// tunnel's genesis section and vault, and with StackConfig.RPC a client
// of its JSON-RPC.
type tunnelEnv struct {
	*Stack
	t   *testing.T
	ctx context.Context // the test's: ends after timeout
	tc  *genesis.TunnelConfig
	v   *tunnel.Vault
	c   *ethclient.Client // the stack's JSON-RPC; nil without cfg.RPC
}

// startTunnelEnv starts a stack with cfg for a test that takes at most
// timeout.
func startTunnelEnv(t *testing.T, timeout time.Duration, cfg StackConfig) *tunnelEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel) // cleanups run last-in first-out: this one last
	s, err := StartStack(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	e := &tunnelEnv{Stack: s, t: t, ctx: ctx, tc: s.L2.File.Config.Tunnel}
	if e.v, err = s.Vault(); err != nil {
		t.Fatal(err)
	}
	if cfg.RPC {
		if e.c, err = ethclient.DialContext(ctx, s.RPCURL); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.c.Close)
	}
	return e
}

// readBatch is the tunnel's open or last batch over the stack's
// JSON-RPC, as a signer reads it.
func (e *tunnelEnv) readBatch() *tunnel.Batch {
	e.t.Helper()
	b, _, err := signer.ReadBatch(e.ctx, e.c, e.tc.TunnelAddress)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// inMempool reports whether the regtest mempool holds txid.
func (e *tunnelEnv) inMempool(txid chainhash.Hash) bool {
	_, err := e.BTC.MempoolTx(txid)
	return err == nil
}

// openRefresh makes the in-process signers broadcast a refresh payout:
// it funds the vault with 0.1 BTC from the dev miner's coinbase of block
// 2, mines it and half the recovery delay plus the view lag, and waits
// until the chain's withdrawal deriver opens the refresh batch and the
// signers' payout of it is in the regtest mempool. It returns the vault
// output, the batch and the payout's txid.
func (e *tunnelEnv) openRefresh() (wire.OutPoint, *tunnel.Batch, chainhash.Hash) {
	e.t.Helper()
	fund, err := e.FundVaultFromCoinbase(2, 10_000_000)
	if err != nil {
		e.t.Fatal(err)
	}
	vaultOut := wire.OutPoint{Hash: fund.TxHash(), Index: 0}
	if _, err := e.MineBTC(e.ctx, 1); err != nil {
		e.t.Fatal(err)
	}
	// Half the recovery delay (72 blocks) plus the view lag.
	if _, err := e.MineBTC(e.ctx, int(e.tc.RecoveryDelay/2)+3); err != nil {
		e.t.Fatal(err)
	}
	var batch *tunnel.Batch
	waitFor(e.ctx, e.t, "the refresh batch to open", func() bool {
		batch = e.readBatch()
		return batch.Open
	})
	payout, err := tunnel.BuildPayout(batch, e.v)
	if err != nil {
		e.t.Fatal(err)
	}
	txid := payout.TxHash()
	waitFor(e.ctx, e.t, "the signers' payout in the mempool", func() bool { return e.inMempool(txid) })
	return vaultOut, batch, txid
}

// bestChain is the regtest node's best chain, genesis first.
func (e *tunnelEnv) bestChain() []*wire.MsgBlock {
	e.t.Helper()
	hash, height := e.BTC.Tip()
	blocks := make([]*wire.MsgBlock, height+1)
	for i := height; i >= 0; i-- {
		b, err := e.BTC.Block(hash)
		if err != nil {
			e.t.Fatal(err)
		}
		blocks[i] = b
		hash = b.Header.PrevBlock
	}
	return blocks
}

// holds reports whether block b has transaction txid.
func holds(b *wire.MsgBlock, txid chainhash.Hash) bool {
	return slices.ContainsFunc(b.Transactions, func(tx *wire.MsgTx) bool { return tx.TxHash() == txid })
}
