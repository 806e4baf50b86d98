package sequencer

import (
	"crypto/ecdsa"
	"log/slog"
	"math/big"
	"sync"
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
	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/derive"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/node/indexadapt"
	"github.com/hemi-go/hemi/internal/txpool"
)

var regtest = &chaincfg.RegressionNetParams

// fakeClock is a Clock moved by hand. After channels fire when Advance
// passes their deadline.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), ch: ch})
	return ch
}

// Advance moves the clock and fires the due waiters.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// Waiters counts pending After calls.
func (c *fakeClock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// indexBitcoin is Bitcoin over a test's index: the node's adapter
// (indexadapt.Chain: the chain's facts and MainChainAt).
type indexBitcoin struct {
	*indexadapt.Chain
}

func newIndexBitcoin(ix *index.Index) *indexBitcoin {
	return &indexBitcoin{Chain: indexadapt.NewChain(ix)}
}

// newBTCFixture makes the package's deterministic Bitcoin chain of n blocks.
func newBTCFixture(t testing.TB, n int) *indextest.Chain {
	t.Helper()
	return indextest.NewChain(t, regtest, []byte("sequencer test fixture"), n)
}

func viewOf(t testing.TB, btc Bitcoin, b *wire.MsgBlock) hvm.Header {
	t.Helper()
	vh, _, err := btc.ViewHeader(b.BlockHash())
	if err != nil {
		t.Fatal(err)
	}
	return vh
}

var (
	seqKey = DevKey()
	dev    = devAccounts()
)

func devAccounts() []genesis.DevAccount {
	a, err := genesis.DevAccounts(genesis.DevMnemonic, genesis.DevAccountCount)
	if err != nil {
		panic(err)
	}
	return a
}

// env is an index, a chain on it and a pool.
type env struct {
	t     testing.TB
	f     *indextest.Chain
	ix    *index.Index
	btc   *indexBitcoin
	spec  *genesis.Spec
	chain *chain.Chain
	clock *fakeClock
}

// newEnv feeds n fixture blocks and starts a devnet-genesis chain whose
// genesis view is fixture block gview (1-based height).
func newEnv(t testing.TB, n, gview int) *env {
	t.Helper()
	f := newBTCFixture(t, n)
	ix := indextest.Open(t, regtest, "")
	indextest.Feed(t, ix, f.Blocks)
	btc := newIndexBitcoin(ix)
	spec, _, err := genesis.DevnetSpec(crypto.PubkeyToAddress(seqKey.PublicKey), viewOf(t, btc, f.Blocks[gview-1]), 1_700_000_000)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, f: f, ix: ix, btc: btc, spec: spec, clock: newFakeClock(time.Unix(1_700_000_000, 0))}
	e.chain = e.newChain("")
	return e
}

func (e *env) newChain(dir string) *chain.Chain {
	e.t.Helper()
	cfg, err := chain.ConfigFromSpec(e.spec)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg.Derivers = derive.Default(&e.spec.Config.PoP, e.spec.Config.KeystoneInterval)
	cfg.Dir, cfg.NoSync, cfg.Bitcoin, cfg.Clock = dir, true, e.btc, e.clock
	cfg.Logger = slog.New(slog.DiscardHandler)
	c, err := chain.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

func (e *env) newPool(journal string, limits txpool.Config) *txpool.Pool {
	e.t.Helper()
	limits.Journal = journal
	limits.Logger = slog.New(slog.DiscardHandler)
	p, err := txpool.New(e.chain, limits)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { p.Close() })
	return p
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

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
