package rangesync

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/derive"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/clock"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/node/indexadapt"
)

// genesisTime is the test chains' genesis timestamp: far in the past, so
// blocks 2 s apart are built ahead without waiting; every chain's clock
// is fixed a million seconds later (clock.Fixed), which judges them all.
const genesisTime = 1_700_000_000

var (
	seqKey   = mustKey("rangesync sequencer")
	otherSeq = mustKey("rangesync other sequencer")
	userKey  = mustKey("rangesync user")
)

func mustKey(seed string) *ecdsa.PrivateKey {
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte(seed)))
	if err != nil {
		panic(err)
	}
	return k
}

func addr(k *ecdsa.PrivateKey) common.Address { return crypto.PubkeyToAddress(k.PublicKey) }

// fixture is the Bitcoin index every test chain of the process shares
// (read only) and the view their blocks use.
type fixture struct {
	ix   *index.Index
	btc  *indexadapt.Chain
	view hvm.Header
}

// openBitcoin mines a few regtest blocks into a new index in dir.
func openBitcoin(dir string) (*fixture, error) {
	params := &chaincfg.RegressionNetParams
	ix, err := index.Open(index.Config{Dir: dir, Params: params, MaxBatchDelay: 5 * time.Millisecond,
		MemTableSize: 4 << 20, CacheSize: 8 << 20})
	if err != nil {
		return nil, err
	}
	script, err := txgen.NewWallet([]byte("rangesync test")).Key(0).PkScript(txgen.P2WPKH)
	if err != nil {
		return nil, err
	}
	gen := txgen.NewChain(params)
	var blocks []*wire.MsgBlock
	var hdrs []wire.BlockHeader
	for range int(genesis.DefaultViewLag) + 2 {
		b, err := gen.NextBlock(txgen.BlockSpec{PayTo: script})
		if err != nil {
			return nil, err
		}
		blocks, hdrs = append(blocks, b), append(hdrs, b.Header)
	}
	if _, _, err := ix.AcceptHeaders(hdrs); err != nil {
		return nil, err
	}
	for _, b := range blocks {
		if err := ix.AcceptBlock(b); err != nil {
			return nil, err
		}
	}
	tip := blocks[len(blocks)-1].BlockHash()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		if h, _ := ix.BlockTip(); h == tip {
			break
		}
		if time.Now().After(deadline) {
			return nil, errors.New("bitcoin index did not connect the test blocks")
		}
	}
	btc := indexadapt.NewChain(ix)
	view, _, err := btc.ViewHeader(blocks[0].BlockHash())
	if err != nil {
		return nil, err
	}
	return &fixture{ix: ix, btc: btc, view: view}, nil
}

// spec is the test network sequenced by seq; other networks differ by
// alloc (salt funds another account), hence by genesis.
func (f *fixture) spec(seq *ecdsa.PrivateKey, salt int64) *genesis.Spec {
	bal := new(big.Int).Mul(big.NewInt(1_000_000), big.NewInt(params.Ether))
	alloc := types.GenesisAlloc{addr(userKey): {Balance: bal}}
	if salt != 0 {
		alloc[common.BigToAddress(big.NewInt(salt))] = types.Account{Balance: big.NewInt(salt)}
	}
	return &genesis.Spec{Config: genesis.DevnetConfig(addr(seq)), Timestamp: genesisTime, View: f.view, Alloc: alloc}
}

// openChain opens a chain of spec in dir ("" in memory).
func (f *fixture) openChain(spec *genesis.Spec, dir string) (*chain.Chain, error) {
	cfg, err := chain.ConfigFromSpec(spec)
	if err != nil {
		return nil, err
	}
	cfg.Dir, cfg.NoSync, cfg.Bitcoin = dir, true, f.btc
	cfg.Derivers = derive.Default(&spec.Config.PoP, spec.Config.KeystoneInterval)
	cfg.CacheMB, cfg.TrieCacheMB = 16, 16
	cfg.Clock = clock.Fixed{T: time.Unix(genesisTime+1_000_000, 0)}
	cfg.Logger = slog.New(slog.DiscardHandler)
	return chain.New(cfg)
}

// build extends c by n blocks sealed with seq; every txEvery-th block
// (0: none) carries a transfer from userKey to a new account, so state
// roots change along the chain.
func (f *fixture) build(c *chain.Chain, seq *ecdsa.PrivateKey, n, txEvery int) error {
	cc := c.Config().ChainConfig
	signer := types.LatestSigner(cc)
	head := c.Head()
	state, err := c.StateAt(head.Root)
	if err != nil {
		return err
	}
	nonce := state.GetNonce(addr(userKey))
	for i := range n {
		head := c.Head()
		var txs []*types.Transaction
		num := head.Number.Uint64() + 1
		if txEvery > 0 && num%uint64(txEvery) == 0 {
			to := common.BigToAddress(new(big.Int).SetUint64(0x10000 + num))
			tx, err := types.SignNewTx(userKey, signer, &types.DynamicFeeTx{ChainID: cc.ChainID, Nonce: nonce,
				GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(100 * params.GWei), Gas: params.TxGas, To: &to, Value: big.NewInt(int64(num))})
			if err != nil {
				return err
			}
			txs, nonce = append(txs, tx), nonce+1
		}
		b, err := c.BuildBlock(chain.BuildParams{Parent: head, Time: head.Time + 2, View: f.view, Coinbase: addr(seq), Txs: txs})
		if err != nil {
			return fmt.Errorf("build block %d: %w", i+1, err)
		}
		if len(b.Skipped) > 0 {
			return fmt.Errorf("block %d skipped a tx: %w", num, b.Skipped[0].Err)
		}
		if err := block.Seal(b.Block.Header, seq); err != nil {
			return err
		}
		if err := c.CommitBuilt(b); err != nil {
			return err
		}
	}
	return nil
}

// Shared fixtures of the package's tests, built once per process.
var (
	shared struct {
		once sync.Once
		err  error
		dir  string
		fx   *fixture
		long *chain.Chain // the 10,000-block source
		copy *chain.Chain // the same blocks in a database of its own
	}
)

// longBlocks is the source chain of the catch-up test.
const longBlocks = 10_000

func TestMain(m *testing.M) {
	code := m.Run()
	for _, c := range []*chain.Chain{shared.long, shared.copy} {
		if c != nil {
			c.Close()
		}
	}
	if shared.fx != nil {
		shared.fx.ix.Close()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// sharedFixture is the process's Bitcoin fixture.
func sharedFixture(t testing.TB) *fixture {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "hemi-rangesync-test-")
		if shared.err == nil {
			shared.fx, shared.err = openBitcoin(filepath.Join(shared.dir, "btc"))
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.fx
}

var longOnce sync.Once

// longChain is the process's 10,000-block source chain (built on first
// use, on disk, a transfer every 10th block) and a copy of its database
// opened as a second node.
func longChain(t testing.TB) (*chain.Chain, *chain.Chain) {
	t.Helper()
	fx := sharedFixture(t)
	var err error
	longOnce.Do(func() {
		start := time.Now()
		err = buildLong(fx)
		t.Logf("built the %d-block source chain in %s", longBlocks, time.Since(start).Round(time.Millisecond))
	})
	if err != nil {
		t.Fatal(err)
	}
	if shared.long == nil || shared.copy == nil {
		t.Fatal("the long source chain failed to build earlier")
	}
	return shared.long, shared.copy
}

func buildLong(fx *fixture) error {
	spec := fx.spec(seqKey, 0)
	dir, dup := filepath.Join(shared.dir, "long"), filepath.Join(shared.dir, "copy")
	c, err := fx.openChain(spec, dir)
	if err != nil {
		return err
	}
	if err := fx.build(c, seqKey, longBlocks, 10); err != nil {
		c.Close()
		return err
	}
	if err := c.Close(); err != nil {
		return err
	}
	if err := os.CopyFS(dup, os.DirFS(dir)); err != nil {
		return err
	}
	if shared.long, err = fx.openChain(spec, dir); err != nil {
		return err
	}
	shared.copy, err = fx.openChain(spec, dup)
	return err
}

// newHost is a libp2p host on a loopback TCP port.
func newHost(t testing.TB) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// connect connects a to b.
func connect(t testing.TB, a, b host.Host) {
	t.Helper()
	if err := a.Connect(context.Background(), peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatal(err)
	}
}

// serve runs a range server for src on a new host until the test ends.
func serve(t testing.TB, src Source, proto protocol.ID, tweak func(*ServerConfig)) host.Host {
	t.Helper()
	h := newHost(t)
	cfg := ServerConfig{Host: h, Chain: src, Protocol: proto, Logger: slog.New(slog.DiscardHandler)}
	if tweak != nil {
		tweak(&cfg)
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return h
}

// penalties records Penalize calls.
type penalties struct {
	mu  sync.Mutex
	got map[peer.ID][]error
}

func (p *penalties) Penalize(id peer.ID, reason error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.got == nil {
		p.got = map[peer.ID][]error{}
	}
	p.got[id] = append(p.got[id], reason)
}

// of returns the penalties of id.
func (p *penalties) of(id peer.ID) []error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]error(nil), p.got[id]...)
}

// count counts the penalties of id wrapping kind.
func (p *penalties) count(id peer.ID, kind error) int {
	n := 0
	for _, e := range p.of(id) {
		if errors.Is(e, kind) {
			n++
		}
	}
	return n
}
