package rpc

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/chaintest"
	"github.com/hemi-go/hemi/internal/chain/derive"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/clock"
	"github.com/hemi-go/hemi/internal/txpool"
)

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
	btc    *chaintest.Bitcoin
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
	btc := chaintest.NewBitcoin(40)
	spec, accts, err := genesis.DevnetSpec(crypto.PubkeyToAddress(seqKey.PublicKey), btc.Headers[1], genesisTime)
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
	if e.view < len(e.btc.Headers)-3 {
		e.view++
	}
	b, err := e.chain.BuildBlock(chain.BuildParams{Parent: head, Time: head.Time + 2, View: e.btc.Headers[e.view],
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
