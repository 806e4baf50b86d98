package rpc

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/derive"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/chain/rules"
	"github.com/hemi-go/hemi/internal/clock"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/pop"
	"github.com/hemi-go/hemi/internal/txpool"
)

// fakeBTC is a linear Bitcoin chain of synthetic headers: enough for the
// view rules and an hVM view (no transactions).
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
		h.MerkleRoot[0] = byte(i)
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

// Publications: the synthetic headers carry no transactions, so no
// keystone is ever published.
func (f *fakeBTC) Publications(_ [32]byte, asOf chainhash.Hash) ([]pop.Publication, error) {
	if _, ok := f.byHash[asOf]; !ok {
		return nil, fmt.Errorf("block %s: %w", asOf, chain.ErrViewNotReady)
	}
	return nil, nil
}

func (f *fakeBTC) Publisher(chainhash.Hash, chainhash.Hash) (*common.Address, error) {
	return nil, errors.New("fakeBTC: no transactions")
}

// OutputsFrom, ConfirmedTx, BlockFeeRates: the fake chain has no
// transactions, so no deposits and no fee statistic.
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

func (f *fakeBTC) BlockTip() (chainhash.Hash, int32) {
	t := f.hdrs[len(f.hdrs)-1]
	return t.Hash, t.Height
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

var seqKey = func() *ecdsa.PrivateKey {
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte("rpc test sequencer")))
	if err != nil {
		panic(err)
	}
	return k
}()

// testEnv is a chain with a pool and a running server.
type testEnv struct {
	t      testing.TB
	btc    *fakeBTC
	chain  *chain.Chain
	pool   *txpool.Pool
	srv    *Server
	accts  []genesis.DevAccount
	signer types.Signer
	url    string
	ws     string
	ec     *ethclient.Client
	rc     *gethrpc.Client
	view   int
}

const genesisTime = 1_700_000_000

// withDebug serves every namespace, debug included (the default leaves
// it out).
var withDebug = KnownAPIs

// newEnv builds the chain, the pool and a server with cfg; each opt may
// complete cfg with what needs the chain (the address index).
func newEnv(t testing.TB, cfg Config, opts ...func(*chain.Chain, *Config)) *testEnv {
	t.Helper()
	btc := newFakeBTC(40)
	spec, accts, err := genesis.DevnetSpec(crypto.PubkeyToAddress(seqKey.PublicKey), btc.hdrs[1], genesisTime)
	if err != nil {
		t.Fatal(err)
	}
	ccfg, err := chain.ConfigFromSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	ccfg.Derivers = derive.Default(&spec.Config.PoP, spec.Config.KeystoneInterval)
	ccfg.NoSync, ccfg.Bitcoin = true, btc
	ccfg.Clock = clock.Fixed{T: time.Unix(genesisTime+1_000_000, 0)}
	ccfg.Logger = slog.New(slog.DiscardHandler)
	c, err := chain.New(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	pool, err := txpool.New(c, txpool.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	poolDone := make(chan struct{})
	go func() { defer close(poolDone); _ = pool.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-poolDone; pool.Close() })

	cfg.Bitcoin = btc
	cfg.Logger = slog.New(slog.DiscardHandler)
	for _, o := range opts {
		o(c, &cfg)
	}
	srv, err := New(cfg, c, pool)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithCancel(context.Background())
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Serve(sctx, ln) }()
	t.Cleanup(func() {
		scancel()
		if err := <-srvDone; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	e := &testEnv{t: t, btc: btc, chain: c, pool: pool, srv: srv, accts: accts,
		signer: types.LatestSigner(c.Config().ChainConfig), url: "http://" + ln.Addr().String(),
		ws: "ws://" + ln.Addr().String(), view: 1}
	e.rc, err = gethrpc.DialHTTP(e.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.rc.Close)
	e.ec = ethclient.NewClient(e.rc)
	return e
}

// mine builds, seals and commits a block with txs on the head, moving
// the Bitcoin view one block forward.
func (e *testEnv) mine(txs ...*types.Transaction) *chain.Block {
	e.t.Helper()
	head := e.chain.Head()
	if e.view < len(e.btc.hdrs)-3 {
		e.view++
	}
	b, err := e.chain.BuildBlock(chain.BuildParams{Parent: head, Time: head.Time + 2, View: e.btc.hdrs[e.view],
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
	if err := e.chain.CommitBuilt(b); err != nil {
		e.t.Fatal(err)
	}
	if err := e.pool.Sync(); err != nil {
		e.t.Fatal(err)
	}
	return b.Block
}

// mineWait mines and waits until the pool has seen the new head.
func (e *testEnv) mineWait(txs ...*types.Transaction) *chain.Block {
	e.t.Helper()
	b := e.mine(txs...)
	deadline := time.Now().Add(5 * time.Second)
	for _, tx := range txs {
		for e.pool.Get(tx.Hash()) != nil {
			if time.Now().After(deadline) {
				e.t.Fatal("pool did not drop included transactions")
			}
			time.Sleep(5 * time.Millisecond)
			_ = e.pool.Sync()
		}
	}
	return b
}

func (e *testEnv) key(i int) *ecdsa.PrivateKey { return e.accts[i].Key }
func (e *testEnv) addr(i int) common.Address   { return e.accts[i].Address }

func (e *testEnv) sign(i int, data types.TxData) *types.Transaction {
	e.t.Helper()
	tx, err := types.SignNewTx(e.key(i), e.signer, data)
	if err != nil {
		e.t.Fatal(err)
	}
	return tx
}

func (e *testEnv) chainID() *big.Int { return e.chain.Config().ChainConfig.ChainID }

// transfer is an EIP-1559 transfer of wei from account i.
func (e *testEnv) transfer(i int, nonce uint64, to common.Address, wei int64) *types.Transaction {
	return e.sign(i, &types.DynamicFeeTx{ChainID: e.chainID(), Nonce: nonce, GasTipCap: big.NewInt(params.GWei),
		GasFeeCap: big.NewInt(10 * params.GWei), Gas: params.TxGas, To: &to, Value: big.NewInt(wei)})
}

// testRuntime: with no calldata it stores NUMBER in slot 0, logs 42
// (LOG1 topic 0xabc) and returns 42; with calldata it reverts with
// Error("boom").
var testRuntime = func() []byte {
	code := []byte{0x36, 0x60, 0x1a, 0x57} // CALLDATASIZE PUSH1 26 JUMPI
	code = append(code,
		0x60, 0x2a, 0x60, 0x00, 0x52, // MSTORE(0, 42)
		0x61, 0x0a, 0xbc, 0x60, 0x20, 0x60, 0x00, 0xa1, // LOG1(0, 32, 0xabc)
		0x43, 0x60, 0x00, 0x55, // SSTORE(0, NUMBER)
		0x60, 0x20, 0x60, 0x00, 0xf3, // RETURN(0, 32)
		0x5b,                         // JUMPDEST (26)
		0x7f, 0x08, 0xc3, 0x79, 0xa0) // PUSH32 Error(string) selector
	code = append(code, make([]byte, 28)...)
	code = append(code, 0x60, 0x00, 0x52, // MSTORE(0, selector)
		0x60, 0x20, 0x60, 0x04, 0x52, // MSTORE(4, 0x20)
		0x60, 0x04, 0x60, 0x24, 0x52, // MSTORE(36, 4)
		0x7f, 'b', 'o', 'o', 'm') // PUSH32 "boom"
	code = append(code, make([]byte, 28)...)
	return append(code, 0x60, 0x44, 0x52, // MSTORE(68, "boom")
		0x60, 0x64, 0x60, 0x00, 0xfd) // REVERT(0, 100)
}()

// initCode deploys runtime.
func initCode(runtime []byte) []byte {
	return append([]byte{0x60, byte(len(runtime)), 0x80, 0x60, 0x0b, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3}, runtime...)
}

// deploy mines a block deploying testRuntime from account 0 at nonce.
func (e *testEnv) deploy(nonce uint64) (common.Address, *types.Transaction) {
	tx := e.sign(0, &types.DynamicFeeTx{ChainID: e.chainID(), Nonce: nonce, GasTipCap: big.NewInt(params.GWei),
		GasFeeCap: big.NewInt(10 * params.GWei), Gas: 300_000, Data: initCode(testRuntime)})
	return crypto.CreateAddress(e.addr(0), nonce), tx
}

// rpcErr extracts a JSON-RPC error's code, message and data.
func rpcErr(t *testing.T, err error) (int, string, any) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	var ec gethrpc.Error
	if !errors.As(err, &ec) {
		t.Fatalf("error %v (%T) has no code", err, err)
	}
	var data any
	var de gethrpc.DataError
	if errors.As(err, &de) {
		data = de.ErrorData()
	}
	return ec.ErrorCode(), ec.Error(), data
}
