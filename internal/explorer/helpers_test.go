package explorer

import (
	"context"
	"crypto/ecdsa"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/chaintest"
	"github.com/hemi-go/hemi/internal/chain/derive"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/clock"
	"github.com/hemi-go/hemi/internal/explorer/addrindex"
	"github.com/hemi-go/hemi/internal/finality"
	"github.com/hemi-go/hemi/internal/pop"
	"github.com/hemi-go/hemi/internal/rpc"
)

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
	t   testing.TB
	btc *chaintest.Bitcoin
	// bf is the Bitcoin index the explorer's Bitcoin pages read (the
	// chain's own Bitcoin is btc, synthetic headers without
	// transactions).
	bf     *btcFixture
	chain  *chain.Chain
	ix     *addrindex.Index
	fin    *fakeFinality
	accts  []genesis.DevAccount
	signer types.Signer
	url    string
	rc     *gethrpc.Client
	// pages is the node's handler (pages and JSON-RPC) for requests
	// served without a connection (benchmarks).
	pages http.Handler
	srv   *rpc.Server
}

func newEnv(t testing.TB) *env {
	t.Helper()
	btc := chaintest.NewBitcoin(60)
	spec, accts, err := genesis.DevnetSpec(crypto.PubkeyToAddress(seqKey.PublicKey), btc.Headers[1], genesisTime)
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
	bf := newBTCFixture(t)
	x, err := New(Config{Chain: c, Finality: fin, Index: ix, Bitcoin: bf.ix, Caller: inproc, RPC: srv.RPCHandler(),
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
	return &env{t: t, btc: btc, bf: bf, chain: c, ix: ix, fin: fin, accts: accts, signer: types.LatestSigner(cfg.ChainConfig), url: hs.URL, rc: rc,
		pages: srv.Handler(), srv: srv}
}

func (e *env) mine(txs ...*types.Transaction) *chain.Block {
	e.t.Helper()
	parent := e.chain.Head()
	view := min(int(parent.Number.Uint64())+2, len(e.btc.Headers)-3)
	b, err := e.chain.BuildBlock(chain.BuildParams{Parent: parent, Time: parent.Time + 2, View: e.btc.Headers[view],
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
