package compat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"golang.org/x/sync/errgroup"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/regtest"
	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/devnet"
	"github.com/hemi-go/hemi/internal/rpc"
	"github.com/hemi-go/hemi/internal/tbc"
)

// payeeSeed derives the Bitcoin key the stack pays, so balances and
// confirmations the contracts read are not trivial.
const payeeSeed = "hemi compat payee"

// Amounts the stack pays the payee at start, in satoshis: two outputs of
// one transaction.
const (
	payOut0 = 150_000_000
	payOut1 = 25_000_000
)

// stack is the devnet's stack in process (devnet.Run's parts): the
// embedded regtest node, the indexer syncing from it over P2P, the L2
// chain, mempool and sequencer (1 s blocks) and JSON-RPC on a loopback
// port. It is shared by the package's tests, which run one at a time and
// each send from their own dev account.
type stack struct {
	dir     string
	btc     *regtest.Node
	ix      *index.Index
	l2      *devnet.L2
	url     string
	ec      *ethclient.Client
	miner   *txgen.Key
	mAddr   address.Address
	payee   *txgen.Key
	pAddr   string // the payee's P2WPKH regtest address
	pScript []byte
	// payTx pays payOut0 and payOut1 to the payee; confirmed at start.
	payTx *wire.MsgTx
	// spent counts the miner's coinbases spent so far (of blocks 1, 2, ...).
	spentMu sync.Mutex
	spent   int32

	cancel context.CancelFunc
	g      *errgroup.Group
}

var (
	sharedOnce sync.Once
	shared     *stack
	sharedErr  error
)

// TestMain stops the shared stack after the tests and removes the
// temporary folders.
func TestMain(m *testing.M) {
	code := m.Run()
	if homeDir != "" {
		os.RemoveAll(homeDir)
	}
	if projDir != "" {
		os.RemoveAll(projDir)
	}
	if shared != nil {
		if err := shared.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "compat: stack: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

// getStack starts the shared stack on first use.
func getStack(t *testing.T) *stack {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = startStack() })
	if sharedErr != nil {
		t.Fatalf("start the devnet stack: %v", sharedErr)
	}
	return shared
}

func startStack() (_ *stack, err error) {
	quiet := slog.New(slog.DiscardHandler)
	dir, err := os.MkdirTemp("", "hemi-compat-")
	if err != nil {
		return nil, err
	}
	s := &stack{dir: dir, payee: txgen.DeriveKey([]byte(payeeSeed), 0)}
	defer func() {
		if err != nil {
			_ = s.stop()
		}
	}()
	params := &chaincfg.RegressionNetParams
	if s.miner, s.mAddr, err = devnet.MinerKey(); err != nil {
		return nil, err
	}
	pa, err := s.payee.Address(txgen.P2WPKH, params)
	if err != nil {
		return nil, err
	}
	s.pAddr = pa.String()
	if s.pScript, err = s.payee.PkScript(txgen.P2WPKH); err != nil {
		return nil, err
	}
	if s.btc, err = regtest.New(regtest.Config{DataDir: filepath.Join(dir, "regtest"), Logger: quiet, MiningAddr: s.mAddr}); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.g, ctx = errgroup.WithContext(ctx)
	s.g.Go(func() error { return s.btc.Run(ctx) })
	// 101 blocks mature the first coinbase; a transaction pays the payee
	// two outputs, then 3 more blocks bury it below the view lag.
	if _, err := s.btc.Mine(101, s.mAddr); err != nil {
		return nil, fmt.Errorf("mine: %w", err)
	}
	if s.payTx, err = s.pay(payOut0, payOut1); err != nil {
		return nil, err
	}
	if _, err := s.btc.Mine(4, s.mAddr); err != nil {
		return nil, fmt.Errorf("mine: %w", err)
	}
	svc, err := tbc.New(tbc.Config{Params: params, DataDir: filepath.Join(dir, "node"), Peers: []string{s.btc.P2PAddr()}, Logger: quiet})
	if err != nil {
		return nil, err
	}
	s.ix = svc.Index()
	s.g.Go(func() error { return svc.Run(ctx) })
	if err := s.waitIndexed(ctx); err != nil {
		return nil, err
	}
	if s.l2, err = devnet.NewL2(s.ix, devnet.L2Config{Dir: filepath.Join(dir, "l2"), BlockTime: time.Second, Logger: quiet}); err != nil {
		return nil, err
	}
	srv, err := rpc.New(rpc.Config{Logger: quiet, Bitcoin: s.ix}, s.l2.Chain, s.l2.Pool)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.url = "http://" + ln.Addr().String()
	s.g.Go(func() error { return s.l2.Pool.Run(ctx) })
	s.g.Go(func() error { return s.l2.Sequencer.Run(ctx) })
	s.g.Go(func() error { return srv.Serve(ctx, ln) })
	if s.ec, err = ethclient.DialContext(ctx, s.url); err != nil {
		return nil, err
	}
	return s, nil
}

// stop shuts the stack down and removes its data.
func (s *stack) stop() error {
	var err error
	if s.cancel != nil {
		s.cancel()
		if werr := s.g.Wait(); werr != nil && !errors.Is(werr, context.Canceled) {
			err = werr
		}
	}
	if s.ec != nil {
		s.ec.Close()
	}
	if s.l2 != nil {
		s.l2.Chain.Close()
	}
	if s.btc != nil {
		_ = s.btc.Close()
	}
	os.RemoveAll(s.dir)
	return err
}

// waitIndexed waits until the index has connected the regtest node's tip.
func (s *stack) waitIndexed(ctx context.Context) error {
	_, want := s.btc.Tip()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, h := s.ix.BlockTip(); h >= want {
			return nil
		}
		if time.Now().After(deadline) {
			_, h := s.ix.BlockTip()
			return fmt.Errorf("index at height %d, regtest node at %d after 30s", h, want)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// pay submits a transaction spending the miner's next mature coinbase to
// one payee output per amount, change back to the miner. The caller mines
// it.
func (s *stack) pay(amounts ...int64) (*wire.MsgTx, error) {
	s.spentMu.Lock()
	defer s.spentMu.Unlock()
	height := s.spent + 1
	hash, ok := s.btc.HashAt(height)
	if !ok {
		return nil, fmt.Errorf("no regtest block at height %d", height)
	}
	b, err := s.btc.Block(hash)
	if err != nil {
		return nil, err
	}
	cb := b.Transactions[0]
	change, err := s.miner.PkScript(txgen.P2WPKH)
	if err != nil {
		return nil, err
	}
	sp := txgen.Spend{
		Inputs:  []txgen.UTXO{{OutPoint: wire.OutPoint{Hash: cb.TxHash(), Index: 0}, Value: cb.TxOut[0].Value, Key: s.miner, Kind: txgen.P2WPKH}},
		Change:  change,
		FeeRate: 2,
	}
	for _, a := range amounts {
		sp.Outputs = append(sp.Outputs, wire.NewTxOut(a, s.pScript))
	}
	tx, _, _, err := sp.Build()
	if err != nil {
		return nil, err
	}
	if err := txgen.Sign(tx, sp.Inputs); err != nil {
		return nil, err
	}
	if err := s.btc.SubmitTx(tx); err != nil {
		return nil, fmt.Errorf("submit the payment: %w", err)
	}
	s.spent++
	return tx, nil
}

// mineBitcoin mines n regtest blocks and waits until the index has them.
func (s *stack) mineBitcoin(t *testing.T, n int) {
	t.Helper()
	if _, err := s.btc.Mine(n, s.mAddr); err != nil {
		t.Fatalf("mine %d regtest blocks: %v", n, err)
	}
	if err := s.waitIndexed(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// viewOf is the Bitcoin view of L2 block number (its header's Extra).
func (s *stack) viewOf(t *testing.T, number uint64) block.Extra {
	t.Helper()
	b, err := s.l2.Chain.BlockByNumber(number)
	if err != nil {
		t.Fatalf("L2 block %d: %v", number, err)
	}
	e, err := block.DecodeExtra(b.Header.Extra)
	if err != nil {
		t.Fatalf("L2 block %d extra: %v", number, err)
	}
	return e
}

// waitL2 waits until cond holds of the L2 head, or fails after d.
func (s *stack) waitL2(t *testing.T, what string, d time.Duration, cond func(e block.Extra, number uint64) bool) uint64 {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		h := s.l2.Chain.Head()
		if e, err := block.DecodeExtra(h.Extra); err == nil && cond(e, h.Number.Uint64()) {
			return h.Number.Uint64()
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s (L2 head %d)", d, what, h.Number)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// account returns dev account i's address and hex private key. Each test
// sends from its own account, so nonces never interleave.
func (s *stack) account(i int) (addr string, key string) {
	a := s.l2.Accounts[i]
	return a.Address.Hex(), hexutil.Encode(crypto.FromECDSA(a.Key))
}

// displayHash is h as a 0x-prefixed bytes32 in Bitcoin's display order,
// the order the hVM ABI uses.
func displayHash(h chainhash.Hash) string { return "0x" + h.String() }
