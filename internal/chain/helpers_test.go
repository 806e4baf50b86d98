package chain

import (
	"crypto/ecdsa"
	"errors"
	"log/slog"
	"math/big"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/indextest"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/derive"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/clock"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/node/indexadapt"
)

var regtest = &chaincfg.RegressionNetParams

var btcSeed = []byte("chain test fixture")

// newBTCFixture makes the package's deterministic Bitcoin chain of n blocks.
func newBTCFixture(t testing.TB, n int) *indextest.Chain {
	t.Helper()
	return indextest.NewChain(t, regtest, btcSeed, n)
}

// viewAt returns the index's header of fixture block at height.
func viewAt(t testing.TB, btc Bitcoin, b *wire.MsgBlock) hvm.Header {
	t.Helper()
	vh, _, err := btc.ViewHeader(b.BlockHash())
	if err != nil {
		t.Fatal(err)
	}
	return vh
}

// Keys: the sequencer and funded users.
var (
	seqKey   = mustKey("sequencer")
	userKeys = []*ecdsa.PrivateKey{mustKey("user0"), mustKey("user1"), mustKey("user2"), mustKey("user3")}
)

func mustKey(seed string) *ecdsa.PrivateKey {
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte(seed)))
	if err != nil {
		panic(err)
	}
	return k
}

func addr(k *ecdsa.PrivateKey) common.Address { return crypto.PubkeyToAddress(k.PublicKey) }

// harness is a chain over a Bitcoin index.
type harness struct {
	t     testing.TB
	btc   *indexadapt.Chain
	ix    *index.Index
	chain *Chain
	cfg   Config
	spec  *genesis.Spec
}

// newFedHarness is a harness with an in-memory chain over an index fed
// a 6-block Bitcoin fixture, its genesis viewing the fixture's block 1.
func newFedHarness(t *testing.T) (*harness, *indextest.Chain) {
	t.Helper()
	f := newBTCFixture(t, 6)
	ix := indextest.Open(t, regtest, t.TempDir())
	t.Cleanup(func() { ix.Close() })
	indextest.Feed(t, ix, f.Blocks)
	return newHarness(t, ix, "", testGenesis(t, viewAt(t, indexadapt.NewChain(ix), f.Blocks[1]))), f
}

func newHarness(t testing.TB, ix *index.Index, dir string, spec *genesis.Spec) *harness {
	t.Helper()
	btc := indexadapt.NewChain(ix)
	cfg, err := ConfigFromSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Derivers = derive.Default(&spec.Config.PoP, spec.Config.KeystoneInterval)
	cfg.Dir, cfg.NoSync, cfg.Bitcoin = dir, true, btc
	cfg.Clock = clock.Fixed{T: time.Unix(int64(spec.Timestamp)+1_000_000, 0)}
	cfg.Logger = slog.New(slog.DiscardHandler)
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &harness{t: t, btc: btc, ix: ix, chain: c, cfg: cfg, spec: spec}
}

// build builds and seals a block on the head with view v and txs.
func (h *harness) build(v hvm.Header, txs ...*types.Transaction) *Built {
	h.t.Helper()
	head := h.chain.Head()
	b, err := h.chain.BuildBlock(BuildParams{Parent: head, Time: head.Time + 2, View: v, Coinbase: addr(seqKey), Txs: txs})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := block.Seal(b.Block.Header, seqKey); err != nil {
		h.t.Fatal(err)
	}
	return b
}

// mine builds, seals and commits a block; it fails on skipped txs.
func (h *harness) mine(v hvm.Header, txs ...*types.Transaction) *Block {
	h.t.Helper()
	b := h.build(v, txs...)
	if len(b.Skipped) > 0 {
		h.t.Fatalf("skipped %d txs, first: %v", len(b.Skipped), b.Skipped[0].Err)
	}
	if err := h.chain.CommitBuilt(b); err != nil {
		h.t.Fatal(err)
	}
	return b.Block
}

// signer signs transactions for the harness's chain.
func (h *harness) signer() types.Signer { return types.LatestSigner(h.cfg.ChainConfig) }

func (h *harness) transfer(k *ecdsa.PrivateKey, nonce uint64, to common.Address, wei int64) *types.Transaction {
	return h.signTx(k, &types.DynamicFeeTx{ChainID: h.cfg.ChainConfig.ChainID, Nonce: nonce, GasTipCap: big.NewInt(1),
		GasFeeCap: big.NewInt(10 * params.GWei), Gas: params.TxGas, To: &to, Value: big.NewInt(wei)})
}

func (h *harness) signTx(k *ecdsa.PrivateKey, data types.TxData) *types.Transaction {
	tx, err := types.SignNewTx(k, h.signer(), data)
	if err != nil {
		h.t.Fatal(err)
	}
	return tx
}

func wantErr(t testing.TB, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error %v, want %v", err, kind)
	}
}
