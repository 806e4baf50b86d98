package explorer

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/derive"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/chain/rules"
	"github.com/hemi-go/hemi/internal/clock"
	"github.com/hemi-go/hemi/internal/explorer/addrindex"
	"github.com/hemi-go/hemi/internal/finality"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/pop"
	"github.com/hemi-go/hemi/internal/rpc"
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

var seqKey = func() *ecdsa.PrivateKey {
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte("explorer test sequencer")))
	if err != nil {
		panic(err)
	}
	return k
}()

const genesisTime = 1_700_000_000

// fakeFinality makes blocks up to safe safe and up to final final, and
// gives every keystone up to safe a publication.
type fakeFinality struct {
	c           *chain.Chain
	safe, final uint64
}

func (f *fakeFinality) Heads() finality.Heads {
	return finality.Heads{Safe: f.safe, Finalized: f.final}
}

func (f *fakeFinality) Finality(n uint64) (*finality.BlockFinality, error) {
	h, err := f.c.HeaderByNumber(n)
	if err != nil {
		return nil, finality.ErrNotFound
	}
	out := &finality.BlockFinality{Number: n, Hash: h.Hash(), KeystoneNumber: f.c.CoveringKeystone(n)}
	out.Depth = 3
	if k, err := f.c.KeystoneAt(out.KeystoneNumber); err == nil {
		out.KeystoneExists, out.KeystoneID, out.KeystoneHash = true, k.ID, k.Hash
		if out.KeystoneNumber <= f.safe {
			out.Published = true
			out.Publication = pop.Publication{Keystone: k.ID, Txid: chainhash.Hash{7}, BlockHash: chainhash.Hash{8}, Height: 12}
			out.Confirmations = 1
			if out.KeystoneNumber <= f.final {
				out.Confirmations, out.Superfinal = 3, true
			}
		}
	}
	return out, nil
}

// env is a chain with its address index, the node's RPC server and the
// explorer mounted on it, served over HTTP.
type env struct {
	t      testing.TB
	btc    *fakeBTC
	chain  *chain.Chain
	ix     *addrindex.Index
	fin    *fakeFinality
	accts  []genesis.DevAccount
	signer types.Signer
	url    string
	rc     *gethrpc.Client
}

func newEnv(t testing.TB) *env {
	t.Helper()
	btc := newFakeBTC(60)
	spec, accts, err := genesis.DevnetSpec(crypto.PubkeyToAddress(seqKey.PublicKey), btc.hdrs[1], genesisTime)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := chain.ConfigFromSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Derivers = derive.Default(&spec.Config.PoP, spec.Config.KeystoneInterval)
	cfg.NoSync, cfg.Bitcoin = true, btc
	cfg.Clock = clock.Fixed{T: time.Unix(genesisTime+1_000_000, 0)}
	cfg.Logger = slog.New(slog.DiscardHandler)
	c, err := chain.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ix, err := addrindex.New(addrindex.Config{Chain: c, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ix.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("index: %v", err)
		}
		ix.Close()
	})
	fin := &fakeFinality{c: c}
	srv, err := rpc.New(rpc.Config{AddressIndex: ix, Logger: slog.New(slog.DiscardHandler), APIs: rpc.KnownAPIs}, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	inproc := gethrpc.DialInProc(srv.RPC())
	t.Cleanup(inproc.Close)
	x, err := New(Config{Chain: c, Finality: fin, Index: ix, Bitcoin: btc, Caller: inproc, RPC: srv.RPCHandler(),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	x.Mount(srv)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	rc, err := gethrpc.DialHTTP(hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rc.Close)
	return &env{t: t, btc: btc, chain: c, ix: ix, fin: fin, accts: accts, signer: types.LatestSigner(cfg.ChainConfig), url: hs.URL, rc: rc}
}

func (f *fakeBTC) BlockTip() (chainhash.Hash, int32) {
	t := f.hdrs[len(f.hdrs)-1]
	return t.Hash, t.Height
}

func (e *env) mine(txs ...*types.Transaction) *chain.Block {
	e.t.Helper()
	parent := e.chain.Head()
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
	if err := e.chain.CommitBuilt(b); err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.ix.WaitFor(ctx, b.Block.Hash()); err != nil {
		e.t.Fatalf("index: %v", err)
	}
	return b.Block
}

func (e *env) addr(i int) common.Address { return e.accts[i].Address }

func (e *env) send(i int, nonce uint64, to *common.Address, value int64, data []byte, gas uint64) *types.Transaction {
	e.t.Helper()
	tx, err := types.SignNewTx(e.accts[i].Key, e.signer, &types.DynamicFeeTx{ChainID: e.chain.Config().ChainConfig.ChainID, Nonce: nonce,
		GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(10 * params.GWei), Gas: gas, To: to, Value: big.NewInt(value), Data: data})
	if err != nil {
		e.t.Fatal(err)
	}
	return tx
}

// get fetches path without following redirects.
func (e *env) get(path string) (int, string, http.Header) {
	e.t.Helper()
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Get(e.url + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

// page fetches path and fails unless it is a 200 HTML page holding
// every one of want.
func (e *env) page(path string, want ...string) string {
	e.t.Helper()
	code, body, hdr := e.get(path)
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		e.t.Fatalf("GET %s: %d %s\n%s", path, code, hdr.Get("Content-Type"), body)
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			e.t.Errorf("GET %s: no %q in the page", path, w)
		}
	}
	return body
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
