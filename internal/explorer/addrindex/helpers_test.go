package addrindex

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/derive"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/chain/rules"
	"github.com/hemi-go/hemi/internal/clock"
	"github.com/hemi-go/hemi/internal/finality/tracker"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/pop"
)

// fakeBTC is a linear Bitcoin chain of synthetic headers without
// transactions: enough for the view rules and an hVM view.
type fakeBTC struct {
	hdrs   []hvm.Header
	byHash map[chainhash.Hash]int
}

func newFakeBTC(n int) *fakeBTC {
	f := &fakeBTC{byHash: map[chainhash.Hash]int{}}
	var prev chainhash.Hash
	for i := range n {
		h := wire.BlockHeader{Version: 4, PrevBlock: prev, Timestamp: time.Unix(1_600_000_000+int64(i)*600, 0),
			Bits: 0x207fffff, Nonce: uint32(i)}
		hash := h.BlockHash()
		f.hdrs = append(f.hdrs, hvm.Header{Height: int32(i), Hash: hash, Header: h})
		f.byHash[hash] = i
		prev = hash
	}
	return f
}

func (f *fakeBTC) ViewHeader(hash chainhash.Hash) (hvm.Header, *big.Int, error) {
	i, ok := f.byHash[hash]
	if !ok {
		return hvm.Header{}, nil, fmt.Errorf("block %s: %w", hash, chain.ErrViewNotReady)
	}
	return f.hdrs[i], big.NewInt(int64(i + 1)), nil
}

func (f *fakeBTC) Contains(ancestor, descendant chainhash.Hash) (bool, error) {
	a, ok1 := f.byHash[ancestor]
	d, ok2 := f.byHash[descendant]
	if !ok1 || !ok2 {
		return false, errors.New("unknown block")
	}
	return a <= d, nil
}

func (f *fakeBTC) TipHeight() int32 { return int32(len(f.hdrs) - 1) }

func (f *fakeBTC) View(hash chainhash.Hash) (hvm.BitcoinView, error) {
	i, ok := f.byHash[hash]
	if !ok {
		return nil, chain.ErrViewNotReady
	}
	return &fakeView{f: f, tip: i}, nil
}

func (f *fakeBTC) Publications(_ [32]byte, asOf chainhash.Hash) ([]pop.Publication, error) {
	if _, ok := f.byHash[asOf]; !ok {
		return nil, chain.ErrViewNotReady
	}
	return nil, nil
}

func (f *fakeBTC) Publisher(chainhash.Hash, chainhash.Hash) (*common.Address, error) {
	return nil, errors.New("fakeBTC: no transactions")
}

type fakeView struct {
	f   *fakeBTC
	tip int
}

func (v *fakeView) Tip() hvm.Header { return v.f.hdrs[v.tip] }
func (v *fakeView) HeaderByHeight(h int32) (hvm.Header, error) {
	if h < 0 || int(h) > v.tip {
		return hvm.Header{}, hvm.ErrNotFound
	}
	return v.f.hdrs[h], nil
}
func (v *fakeView) Tx(chainhash.Hash) (hvm.Tx, error)          { return hvm.Tx{}, hvm.ErrNotFound }
func (v *fakeView) Spent(wire.OutPoint) (bool, error)          { return false, nil }
func (v *fakeView) Balance([]byte) (int64, error)              { return 0, nil }
func (v *fakeView) UTXOs([]byte, int, int) ([]hvm.UTXO, error) { return nil, nil }
func (v *fakeView) Err() error                                 { return nil }

// preferCandidate is a fork choice that always switches: any side
// block makes its branch canonical, so tests reorg at will.
type preferCandidate struct{}

func (preferCandidate) Prefer(_, _ []tracker.KeystoneRef) bool { return true }

var seqKey = func() *ecdsa.PrivateKey {
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte("addrindex test sequencer")))
	if err != nil {
		panic(err)
	}
	return k
}()

const genesisTime = 1_700_000_000

// env is a chain (in dir, so it survives a restart of the index) and
// its dev accounts.
type env struct {
	t      testing.TB
	btc    *fakeBTC
	chain  *chain.Chain
	accts  []genesis.DevAccount
	signer types.Signer
}

func newEnv(t testing.TB) *env {
	t.Helper()
	btc := newFakeBTC(40)
	spec, accts, err := genesis.DevnetSpec(crypto.PubkeyToAddress(seqKey.PublicKey), btc.hdrs[1], genesisTime)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := chain.ConfigFromSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Derivers = derive.Default(&spec.Config.PoP, spec.Config.KeystoneInterval)
	cfg.NoSync, cfg.Bitcoin, cfg.Dir = true, btc, t.TempDir()
	cfg.Clock = clock.Fixed{T: time.Unix(genesisTime+1_000_000, 0)}
	cfg.Logger = slog.New(slog.DiscardHandler)
	c, err := chain.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetForkChoice(preferCandidate{}); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, btc: btc, chain: c, accts: accts, signer: types.LatestSigner(cfg.ChainConfig)}
}

// mineOn builds, seals and inserts a block with txs on parent (the head
// or any stored block: a side block reorgs to its branch).
func (e *env) mineOn(parent *types.Header, txs ...*types.Transaction) *chain.Block {
	e.t.Helper()
	view := min(int(parent.Number.Uint64())+2, len(e.btc.hdrs)-3)
	b, err := e.chain.BuildBlock(chain.BuildParams{Parent: parent, Time: parent.Time + 2, View: e.btc.hdrs[view],
		Coinbase: crypto.PubkeyToAddress(seqKey.PublicKey), Txs: txs})
	if err != nil {
		e.t.Fatal(err)
	}
	if len(b.Skipped) > 0 {
		e.t.Fatalf("skipped %d txs: %v", len(b.Skipped), b.Skipped[0].Err)
	}
	if err := block.Seal(b.Block.Header, seqKey); err != nil {
		e.t.Fatal(err)
	}
	if err := e.chain.InsertBlock(b.Block); err != nil {
		e.t.Fatal(err)
	}
	return b.Block
}

func (e *env) mine(txs ...*types.Transaction) *chain.Block {
	return e.mineOn(e.chain.Head(), txs...)
}

func (e *env) addr(i int) common.Address { return e.accts[i].Address }

func (e *env) sign(i int, data types.TxData) *types.Transaction {
	e.t.Helper()
	tx, err := types.SignNewTx(e.accts[i].Key, e.signer, data)
	if err != nil {
		e.t.Fatal(err)
	}
	return tx
}

func (e *env) chainID() *big.Int { return e.chain.Config().ChainConfig.ChainID }

func (e *env) transfer(i int, nonce uint64, to common.Address) *types.Transaction {
	return e.sign(i, &types.DynamicFeeTx{ChainID: e.chainID(), Nonce: nonce, GasTipCap: big.NewInt(params.GWei),
		GasFeeCap: big.NewInt(10 * params.GWei), Gas: params.TxGas, To: &to, Value: big.NewInt(1)})
}

// call sends data to `to` from account i.
func (e *env) call(i int, nonce uint64, to common.Address, data []byte) *types.Transaction {
	return e.sign(i, &types.DynamicFeeTx{ChainID: e.chainID(), Nonce: nonce, GasTipCap: big.NewInt(params.GWei),
		GasFeeCap: big.NewInt(10 * params.GWei), Gas: 200_000, To: &to, Data: data})
}

// create deploys runtime from account i.
func (e *env) create(i int, nonce uint64, runtime []byte) (common.Address, *types.Transaction) {
	initCode := append([]byte{0x60, byte(len(runtime)), 0x80, 0x60, 0x0b, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3}, runtime...)
	tx := e.sign(i, &types.DynamicFeeTx{ChainID: e.chainID(), Nonce: nonce, GasTipCap: big.NewInt(params.GWei),
		GasFeeCap: big.NewInt(10 * params.GWei), Gas: 300_000, Data: initCode})
	return crypto.CreateAddress(e.addr(i), nonce), tx
}

// transferLogger is a contract that logs Transfer(CALLER, to, 0), with
// `to` its calldata's first word: an ERC-20 transfer as the index sees
// it.
var transferLogger = func() []byte {
	code := []byte{0x60, 0x00, 0x35} // PUSH1 0 CALLDATALOAD (topic 2: to)
	code = append(code, 0x33)        // CALLER (topic 1: from)
	code = append(code, 0x7f)        // PUSH32 topic 0
	code = append(code, transferTopic[:]...)
	return append(code, 0x60, 0x00, 0x60, 0x00, 0xa3, 0x00) // PUSH1 0 PUSH1 0 LOG3 STOP
}()

// run starts ix.Run and returns a stop func that waits for it.
func run(t testing.TB, ix *Index) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ix.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("index run: %v", err)
		}
	}
}

// waitHead waits until ix has indexed the chain's head.
func waitHead(t testing.TB, ix *Index, c *chain.Chain) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ix.WaitFor(ctx, c.Head().Hash()); err != nil {
		t.Fatalf("index tip %+v, chain head %d %s: %v", ix.Tip(), c.Head().Number, c.Head().Hash(), err)
	}
}

// OutputsFrom, ConfirmedTx, BlockFeeRates: the tunnel's deposit
// reads; the fake chain has no transactions, so no outputs and no fees.
func (f *fakeBTC) OutputsFrom([]byte, int32, uint32, uint32, int32, int, chainhash.Hash) ([]rules.DepositOutput, error) {
	return nil, nil
}

func (f *fakeBTC) ConfirmedTx(chainhash.Hash, chainhash.Hash) (*wire.MsgTx, bool, error) {
	return nil, false, nil
}

func (f *fakeBTC) BlockFeeRates(chainhash.Hash, int) ([]int64, error) { return nil, nil }

// ScriptUnspent, ScriptBalance, ScriptSpends, HeaderHashAt: the
// tunnel's vault reads; the fake chain has no transactions, so no
// outputs (and the vault watch reads from the start).
func (f *fakeBTC) ScriptUnspent([]byte, int, chainhash.Hash) ([]rules.ScriptOutput, error) {
	return nil, nil
}

func (f *fakeBTC) ScriptBalance([]byte, chainhash.Hash) (int64, error) { return 0, nil }

func (f *fakeBTC) ScriptSpends([]byte, int32, int32, chainhash.Hash) ([]rules.ScriptOutput, error) {
	return nil, nil
}

func (f *fakeBTC) HeaderHashAt(int32, chainhash.Hash) (chainhash.Hash, bool, error) {
	return chainhash.Hash{}, false, nil
}
