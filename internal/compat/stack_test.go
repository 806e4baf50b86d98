package compat

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/regtest"
	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/devnet"
	"github.com/hemi-go/hemi/internal/devnet/devnettest"
	"github.com/hemi-go/hemi/internal/finality"
	"github.com/hemi-go/hemi/internal/popm"
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

// The suite's PoP schedule: a keystone every 3 L2 blocks (1 s each) and
// superfinality at 2 Bitcoin confirmations, so safe and finalized move
// within seconds of mining.
const (
	blockTime        = time.Second
	keystoneInterval = 3
	superfinalDepth  = 2
)

// stack is the whole devnet in process (devnettest.Stack): the embedded
// regtest node, the indexer syncing from it over P2P, the L2 chain,
// mempool, sequencer and finality service, the PoP miner publishing every
// keystone, and JSON-RPC on a loopback port. Bitcoin blocks are mined only
// when a test asks (mineBitcoin, finalize), so the finality heads move
// only then. It is shared by the package's tests, which run one at a time
// and each send from their own dev account.
type stack struct {
	dn    *devnettest.Stack
	btc   *regtest.Node
	ix    *index.Index
	l2    *devnet.L2
	url   string
	ec    *ethclient.Client
	miner *txgen.Key
	payee *txgen.Key
	pAddr string // the payee's P2WPKH regtest address
	// pScript is the payee's output script.
	pScript []byte
	// payTx pays payOut0 and payOut1 to the payee; confirmed at start.
	payTx *wire.MsgTx
	// spent counts the miner's coinbases spent so far (of blocks 1, 2,
	// ...); the first funds the PoP miner (devnettest.StartStack).
	spentMu sync.Mutex
	spent   int32
	// paid is what pay sent the payee in all, payTx included: tests
	// that pay it again (run more than once, -count) see the earlier
	// payments in its balance.
	paid int64
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
	ctx := context.Background()
	s := &stack{payee: txgen.DeriveKey([]byte(payeeSeed), 0), spent: 1}
	defer func() {
		if err != nil {
			_ = s.stop()
		}
	}()
	if s.miner, _, err = devnet.MinerKey(); err != nil {
		return nil, err
	}
	pa, err := s.payee.Address(txgen.P2WPKH, &chaincfg.RegressionNetParams)
	if err != nil {
		return nil, err
	}
	s.pAddr = pa.String()
	if s.pScript, err = s.payee.PkScript(txgen.P2WPKH); err != nil {
		return nil, err
	}
	if s.dn, err = devnettest.StartStack(ctx, devnettest.StackConfig{L2BlockTime: blockTime, KeystoneInterval: keystoneInterval,
		SuperfinalDepth: superfinalDepth, RPC: true}); err != nil {
		return nil, err
	}
	s.btc, s.ix, s.l2, s.url = s.dn.BTC, s.dn.TBC.Index(), s.dn.L2, s.dn.RPCURL
	if d := s.l2.Finality.Depth(); d != superfinalDepth {
		return nil, fmt.Errorf("superfinal depth %d, configured %d", d, superfinalDepth)
	}
	// A transaction pays the payee two outputs, then 4 blocks bury it
	// below the view lag.
	if s.payTx, err = s.pay(payOut0, payOut1); err != nil {
		return nil, err
	}
	if _, err := s.dn.MineBTC(ctx, 4); err != nil {
		return nil, err
	}
	if s.ec, err = ethclient.DialContext(ctx, s.url); err != nil {
		return nil, err
	}
	return s, nil
}

// stop shuts the stack down and removes its data.
func (s *stack) stop() error {
	if s.ec != nil {
		s.ec.Close()
	}
	if s.dn != nil {
		return s.dn.Close()
	}
	return nil
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
	for _, a := range amounts {
		s.paid += a
	}
	return tx, nil
}

// paidTotal is what pay has sent the payee so far.
func (s *stack) paidTotal() int64 {
	s.spentMu.Lock()
	defer s.spentMu.Unlock()
	return s.paid
}

// mineBitcoin mines n regtest blocks (with every PoP transaction sent
// so far) and waits until the index has them.
func (s *stack) mineBitcoin(t *testing.T, n int) {
	t.Helper()
	if _, err := s.dn.MineBTC(context.Background(), n); err != nil {
		t.Fatalf("mine %d regtest blocks: %v", n, err)
	}
}

// confirm mines Bitcoin blocks until L2 block number has confs Bitcoin
// confirmations and returns the finality heads: it waits for the L2 to
// reach the keystone covering number and for the PoP miner to send a
// transaction of it or of a later keystone (which commits to it), mines
// confs blocks (MineBTC puts every publication already sent in the
// first), and waits until the finality service has counted them up to the
// regtest tip. Only the tests mine, so the heads stay put until the next
// mining. With confs below the superfinal depth, a block not yet
// published gets exactly confs confirmations: safe, not finalized.
func (s *stack) confirm(t *testing.T, number uint64, confs int) finality.Heads {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	k := s.l2.Chain.CoveringKeystone(number)
	if _, err := s.dn.WaitL2(ctx, k); err != nil {
		t.Fatal(err)
	}
	sent := func() bool {
		for _, e := range s.dn.Events(0) {
			switch e.Kind {
			case popm.NotePublished, popm.NoteBumped, popm.NoteRepublished:
				if e.KeystoneNumber >= k {
					return true
				}
			}
		}
		return false
	}
	if err := s.dn.WaitFor(ctx, fmt.Sprintf("a PoP transaction of keystone %d or later", k), sent); err != nil {
		t.Fatal(err)
	}
	if _, err := s.dn.MineBTC(ctx, confs); err != nil {
		t.Fatalf("mine %d regtest blocks: %v", confs, err)
	}
	_, tip := s.btc.Tip()
	f, err := s.dn.WaitFinality(ctx, number, fmt.Sprintf("%d confirmations as of the regtest tip %d", confs, tip), func(f *finality.BlockFinality) bool {
		return f.Published && f.Confirmations >= uint32(confs) && f.Publication.Height+int32(f.Confirmations)-1 == tip
	})
	if err != nil {
		t.Fatal(err)
	}
	// The block's finality is read from the index directly; the service's
	// heads follow the same Bitcoin blocks in its own loop, a moment
	// later on a loaded machine, so they get until the deadline to agree,
	// and to have applied every block mined: a head the index already
	// answers for the next keystone would still move (a fresh clone's
	// TestEthers read finalized 15 here while the service was between the
	// mined blocks, and 27 from the client a moment later).
	agree := func(h finality.Heads) bool {
		return h.Safe >= number && h.Safe >= h.Finalized && f.Superfinal == (h.Finalized >= number) &&
			!s.holdsAfter(h.Safe, isSafe) && !s.holdsAfter(h.Finalized, isFinalized)
	}
	h := s.l2.Finality.Heads()
	for deadline := time.Now().Add(15 * time.Second); !agree(h) && time.Now().Before(deadline); h = s.l2.Finality.Heads() {
		time.Sleep(20 * time.Millisecond)
	}
	if !agree(h) {
		t.Fatalf("block %d: keystone %d published at Bitcoin height %d, %d confirmations, superfinal %v; but the heads are safe %d finalized %d",
			number, f.KeystoneNumber, f.Publication.Height, f.Confirmations, f.Superfinal, h.Safe, h.Finalized)
	}
	return h
}

// finalize makes L2 block number superfinal (confirm).
func (s *stack) finalize(t *testing.T, number uint64) finality.Heads {
	t.Helper()
	return s.confirm(t, number, superfinalDepth)
}

// checkHeads checks that h are the newest published and the newest
// superfinal canonical blocks as Stack.Finality answers block by block,
// and that they still are the service's heads.
func (s *stack) checkHeads(t *testing.T, h finality.Heads) {
	t.Helper()
	if now := s.l2.Finality.Heads(); now != h {
		t.Fatalf("finality heads moved from %+v to %+v without Bitcoin blocks", h, now)
	}
	for _, c := range []struct {
		name   string
		number uint64
		holds  func(*finality.BlockFinality) bool
	}{
		{"safe (published)", h.Safe, isSafe},
		{"finalized (superfinal)", h.Finalized, isFinalized},
	} {
		f, err := s.dn.Finality(c.number)
		if err != nil {
			t.Fatalf("%s head %d: %v", c.name, c.number, err)
		}
		if !c.holds(f) || f.KeystoneNumber != c.number {
			t.Fatalf("%s head %d: finality %+v; want a keystone that is %s", c.name, c.number, f, c.name)
		}
		// The next block is covered by the next keystone, which is not.
		if s.holdsAfter(c.number, c.holds) {
			t.Fatalf("%s head %d, but block %d is too", c.name, c.number, c.number+1)
		}
	}
}

// isSafe and isFinalized are what the safe and finalized heads are:
// published with a confirmation, and superfinal.
func isSafe(f *finality.BlockFinality) bool      { return f.Published && f.Confirmations >= 1 }
func isFinalized(f *finality.BlockFinality) bool { return f.Superfinal }

// holdsAfter: the block after number (covered by the next keystone) is
// already safe or finalized (holds) as Stack.Finality answers, from the
// index directly.
func (s *stack) holdsAfter(number uint64, holds func(*finality.BlockFinality) bool) bool {
	next, err := s.dn.Finality(number + 1)
	return err == nil && holds(next)
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
