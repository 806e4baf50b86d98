package txpool

import (
	"crypto/ecdsa"
	"log/slog"
	"math/big"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"

	"github.com/hemi-go/hemi/internal/btc/indextest"
	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/derive"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/node/indexadapt"
	"github.com/hemi-go/hemi/internal/sequencer"
)

var (
	seqKey = sequencer.DevKey()
	dev    = devAccounts()
)

func devAccounts() []genesis.DevAccount {
	a, err := genesis.DevAccounts(genesis.DevMnemonic, genesis.DevAccountCount)
	if err != nil {
		panic(err)
	}
	return a
}

// env is a Bitcoin index with a fixture chain and an L2 chain on it
// whose genesis views fixture block gview (1-based).
type env struct {
	t     testing.TB
	view  hvm.Header
	spec  *genesis.Spec
	chain *chain.Chain
}

func newEnv(t testing.TB, n, gview int) *env {
	t.Helper()
	f := indextest.NewChain(t, &chaincfg.RegressionNetParams, []byte("sequencer test fixture"), n)
	ix := indextest.Open(t, &chaincfg.RegressionNetParams, "")
	indextest.Feed(t, ix, f.Blocks)
	btc := indexadapt.NewChain(ix)
	view, _, err := btc.ViewHeader(f.Blocks[gview-1].BlockHash())
	if err != nil {
		t.Fatal(err)
	}
	spec, _, err := genesis.DevnetSpec(crypto.PubkeyToAddress(seqKey.PublicKey), view, 1_700_000_000)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, view: view, spec: spec}
	cfg, err := chain.ConfigFromSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Derivers = derive.Default(&spec.Config.PoP, spec.Config.KeystoneInterval)
	cfg.Dir, cfg.NoSync, cfg.Bitcoin = "", true, btc
	cfg.Logger = slog.New(slog.DiscardHandler)
	c, err := chain.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	e.chain = c
	return e
}

func (e *env) newPool(journal string, cfg Config) *Pool {
	e.t.Helper()
	cfg.Journal = journal
	cfg.Logger = slog.New(slog.DiscardHandler)
	p, err := New(e.chain, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { p.Close() })
	return p
}

// buildNext builds, seals and commits the block after the head with
// p's pending transactions (a test has one per sender), at the genesis's
// Bitcoin view (a view may stay the same), as the block producer would.
func (e *env) buildNext(p *Pool) (*chain.Block, error) {
	head := e.chain.Head()
	var txs []*types.Transaction
	for _, l := range p.Pending(nil) {
		txs = append(txs, l...)
	}
	b, err := e.chain.NewBuilder(chain.BuildParams{Parent: head, Time: head.Time + 2, View: e.view,
		Coinbase: crypto.PubkeyToAddress(seqKey.PublicKey), Txs: txs})
	if err != nil {
		return nil, err
	}
	built, err := b.Finish()
	if err != nil {
		return nil, err
	}
	if err := block.Seal(built.Block.Header, seqKey); err != nil {
		return nil, err
	}
	return built.Block, e.chain.CommitBuilt(built)
}

func (e *env) signer() types.Signer { return types.LatestSigner(e.chain.Config().ChainConfig) }

// transfer signs an EIP-1559 transfer of wei from k with tip gwei.
func (e *env) transfer(k *ecdsa.PrivateKey, nonce uint64, to common.Address, wei int64, tipGwei int64) *types.Transaction {
	e.t.Helper()
	tx, err := types.SignNewTx(k, e.signer(), &types.DynamicFeeTx{ChainID: e.chain.Config().ChainConfig.ChainID, Nonce: nonce,
		GasTipCap: big.NewInt(tipGwei * params.GWei), GasFeeCap: big.NewInt((tipGwei + 100) * params.GWei), Gas: params.TxGas,
		To: &to, Value: big.NewInt(wei)})
	if err != nil {
		e.t.Fatal(err)
	}
	return tx
}
