package popm

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/hemi-go/hemi/internal/btc/regtest"
	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/pop"
	"github.com/hemi-go/hemi/internal/tbc"
	"github.com/hemi-go/hemi/internal/testtools/testkit"
)

var quiet = slog.New(slog.DiscardHandler)

// chanKeystones is a Keystones source the test feeds.
type chanKeystones struct{ ch chan pop.L2Keystone }

func (c chanKeystones) Keystones(ctx context.Context) (<-chan pop.L2Keystone, error) {
	out := make(chan pop.L2Keystone)
	go func() {
		defer close(out)
		for {
			select {
			case k := <-c.ch:
				select {
				case out <- k:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// btcEnv is the embedded regtest node with a mature dev coinbase and the
// Bitcoin layer (index + P2P client) syncing from it.
type btcEnv struct {
	node   *regtest.Node
	svc    *tbc.Service
	api    *tbc.Client // the service's query API
	miner  *txgen.Key
	cbNext int32 // next coinbase height to spend
}

// newBTCEnv starts the env in the test's lifetime: the returned context
// ends, and the node and the Bitcoin layer stop, when the test is cleaned
// up (after the test's own defers and the cleanups registered later,
// before its temporary directory is removed).
func newBTCEnv(t *testing.T) (*btcEnv, context.Context) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	g, ctx := errgroup.WithContext(ctx)
	t.Cleanup(func() {
		cancel()
		_ = g.Wait()
	})
	key := txgen.DeriveKey([]byte("popm integration"), 0)
	addr, _ := key.Address(txgen.P2WPKH, &chaincfg.RegressionNetParams)
	node, err := regtest.New(regtest.Config{DataDir: filepath.Join(dir, "regtest"), Logger: quiet, MiningAddr: addr})
	if err != nil {
		t.Fatal(err)
	}
	g.Go(func() error { return node.Run(ctx) })
	if _, err := node.Mine(101, addr); err != nil {
		t.Fatal(err)
	}
	api := testkit.FreeAddr(t)
	svc, err := tbc.New(tbc.Config{Params: &chaincfg.RegressionNetParams, DataDir: filepath.Join(dir, "node"),
		Peers: []string{node.P2PAddr()}, API: api, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	g.Go(func() error { return svc.Run(ctx) })
	e := &btcEnv{node: node, svc: svc, api: tbc.NewClient(api), miner: key, cbNext: 1}
	e.waitIndexed(t)
	return e, ctx
}

func (e *btcEnv) waitIndexed(t *testing.T) {
	t.Helper()
	want, _ := e.node.Tip()
	waitFor(t, "the index to reach the node's tip", func() bool { h, _ := e.svc.BlockTip(); return h == want })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fund pays value to script from the next mature coinbase.
func (e *btcEnv) fund(t *testing.T, script []byte, value int64) *wire.MsgTx {
	t.Helper()
	return e.fundOutputs(t, wire.NewTxOut(value, script))
}

// fundOutputs pays outs from the next mature coinbase.
func (e *btcEnv) fundOutputs(t *testing.T, outs ...*wire.TxOut) *wire.MsgTx {
	t.Helper()
	h, _ := e.node.HashAt(e.cbNext)
	e.cbNext++
	b, err := e.node.Block(h)
	if err != nil {
		t.Fatal(err)
	}
	cb := b.Transactions[0]
	change, _ := e.miner.PkScript(txgen.P2WPKH)
	sp := txgen.Spend{
		Inputs:  []txgen.UTXO{{OutPoint: wire.OutPoint{Hash: cb.TxHash()}, Value: cb.TxOut[0].Value, Key: e.miner, Kind: txgen.P2WPKH}},
		Outputs: outs,
		Change:  change,
		FeeRate: 2,
	}
	tx, _, _, err := sp.Build()
	if err != nil {
		t.Fatal(err)
	}
	if err := txgen.Sign(tx, sp.Inputs); err != nil {
		t.Fatal(err)
	}
	if err := e.node.SubmitTx(tx); err != nil {
		t.Fatal(err)
	}
	return tx
}

func (e *btcEnv) mine(t *testing.T, n int) []chainhash.Hash {
	t.Helper()
	addr, _ := e.miner.Address(txgen.P2WPKH, &chaincfg.RegressionNetParams)
	hs, err := e.node.Mine(n, addr)
	if err != nil {
		t.Fatal(err)
	}
	e.waitIndexed(t)
	return hs
}

// fundMined pays each value to script from the next mature coinbases
// and mines them.
func (e *btcEnv) fundMined(t *testing.T, script []byte, values ...int64) {
	t.Helper()
	for _, v := range values {
		e.fund(t, script, v)
	}
	e.mine(t, 1)
}

// mineEmpty mines n coinbase-only blocks and waits for the index.
func (e *btcEnv) mineEmpty(t *testing.T, n int) {
	t.Helper()
	addr, _ := e.miner.Address(txgen.P2WPKH, &chaincfg.RegressionNetParams)
	if _, err := e.node.MineEmpty(n, addr); err != nil {
		t.Fatal(err)
	}
	e.waitIndexed(t)
}

// mineConfirmed mines a block and checks that the miner's next
// confirmation is of txid in that block; it returns the block.
func (e *btcEnv) mineConfirmed(t *testing.T, events chan Event, txid chainhash.Hash) chainhash.Hash {
	t.Helper()
	b := e.mine(t, 1)[0]
	if conf := nextEvent(t, events, NoteConfirmed); conf.Txid != txid || conf.BlockHash != b {
		t.Fatalf("confirmed %+v, want %s in block %s", conf, txid, b)
	}
	return b
}

// checkPublished checks that the index holds exactly one publication of
// keystone id: txid's output 0, in block.
func (e *btcEnv) checkPublished(t *testing.T, id [32]byte, txid, block chainhash.Hash) {
	t.Helper()
	pubs, err := e.svc.Index().Publications(id, chainhash.Hash{})
	if err != nil || len(pubs) != 1 || pubs[0].Txid != txid || pubs[0].BlockHash != block || pubs[0].Vout != 0 {
		t.Fatalf("publications of keystone %x: %+v, %v; want %s in block %s", id, pubs, err, txid, block)
	}
}

// walletCoins is the index's tip and w's coins there; it expects one.
func (e *btcEnv) walletCoins(t *testing.T, ctx context.Context, w *Wallet) (chainhash.Hash, int32, []Coin) {
	t.Helper()
	tipHash, tip := e.svc.BlockTip()
	coins, err := e.bitcoin().Coins(ctx, w.Script(), tipHash)
	if err != nil || len(coins) != 1 {
		t.Fatalf("coins %v, %v", coins, err)
	}
	return tipHash, tip, coins
}

func (e *btcEnv) inMempool(txid chainhash.Hash) bool {
	return slices.Contains(e.node.MempoolTxids(), txid)
}

func (e *btcEnv) bitcoin() Bitcoin {
	return newIndexBitcoin(e.svc.Index(), e.svc, e.svc)
}

// runMiner starts a miner on dir; stop cancels it and waits.
func runMiner(t *testing.T, ctx context.Context, e *btcEnv, w *Wallet, dir string, ks chanKeystones, events chan Event) (stop func()) {
	t.Helper()
	return runMinerConfig(t, ctx, Config{Wallet: w, Keystones: ks, Bitcoin: e.bitcoin(), DataDir: dir}, events)
}

// runMinerConfig starts a miner on cfg, quiet and reporting its events
// on events; stop cancels it, waits and fails the test if Run failed.
func runMinerConfig(t *testing.T, ctx context.Context, cfg Config, events chan Event) (stop func()) {
	t.Helper()
	cfg.Logger, cfg.OnEvent = quiet, func(ev Event) { events <- ev }
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(mctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("miner: %v", err)
		}
	}
}

// startMiner runs a miner on w with a fresh data directory for the rest
// of the test and returns its keystone feed and events.
func (e *btcEnv) startMiner(t *testing.T, ctx context.Context, w *Wallet) (chanKeystones, chan Event) {
	t.Helper()
	ks := chanKeystones{ch: make(chan pop.L2Keystone)}
	events := make(chan Event, 100)
	t.Cleanup(runMiner(t, ctx, e, w, t.TempDir(), ks, events))
	return ks, events
}

// publish feeds keystone testKS(n) and waits until the miner reports it
// published and the node's mempool holds the transaction.
func (e *btcEnv) publish(t *testing.T, ks chanKeystones, events chan Event, n uint64) Event {
	t.Helper()
	ks.ch <- testKS(n)
	ev := nextEvent(t, events, NotePublished)
	if ev.KeystoneID != testKS(n).ID {
		t.Fatalf("published %+v, want keystone %d", ev, n)
	}
	waitFor(t, "the PoP tx in the node's mempool", func() bool { return e.inMempool(ev.Txid) })
	return ev
}

func nextEvent(t *testing.T, events chan Event, kind NoteKind) Event {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Kind == kind {
				return ev
			}
			t.Logf("skipped event %s keystone %d tx %s block %s", ev.Kind, ev.KeystoneNumber, ev.Txid, ev.BlockHash)
		case <-timeout:
			t.Fatalf("no %s event", kind)
		}
	}
}

// TestMinerRegtest publishes keystones through the embedded regtest node
// and sees them indexed as publications: single, chained, after a Bitcoin
// reorg moved them, and across a miner restart.
func TestMinerRegtest(t *testing.T) {
	e, ctx := newBTCEnv(t)
	w, err := ParseSecret(bipMnemonic, P2WPKH, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	e.fundMined(t, w.Script(), 1_000_000)

	ks := chanKeystones{ch: make(chan pop.L2Keystone)}
	events := make(chan Event, 100)
	dir := t.TempDir()
	stop := runMiner(t, ctx, e, w, dir, ks, events)

	publish := func(n uint64) Event {
		t.Helper()
		ev := e.publish(t, ks, events, n)
		if ev.VSize > 202 || ev.Fee != ev.FeeRate*PoPVSize(P2WPKH) {
			t.Fatalf("published %+v", ev)
		}
		t.Logf("keystone %d: tx %s vsize %d fee %d, sent %s after the keystone arrived", n, ev.Txid, ev.VSize, ev.Fee, ev.SentAt.Sub(ev.SeenAt))
		return ev
	}
	checkIndexed := func(ev Event, block chainhash.Hash) {
		t.Helper()
		e.checkPublished(t, ev.KeystoneID, ev.Txid, block)
	}
	spendsChange := func(ev, prev Event) {
		t.Helper()
		mp, err := e.node.MempoolTx(ev.Txid)
		if err != nil {
			t.Fatal(err)
		}
		if mp.TxIn[0].PreviousOutPoint != (wire.OutPoint{Hash: prev.Txid, Index: 1}) {
			t.Fatalf("keystone %d's tx spends %s, not keystone %d's change", ev.KeystoneNumber, mp.TxIn[0].PreviousOutPoint, prev.KeystoneNumber)
		}
	}

	// One keystone, one block.
	ev1 := publish(1)
	checkIndexed(ev1, e.mineConfirmed(t, events, ev1.Txid))

	// Two keystones before a block: the second spends the first's change.
	ev2 := publish(2)
	ev3 := publish(3)
	tx3, err := e.svc.Index().TxByID(ev3.Txid, chainhash.Hash{})
	if err == nil {
		t.Fatalf("tx3 mined already: %+v", tx3)
	}
	spendsChange(ev3, ev2)
	b := e.mine(t, 1)[0]
	nextEvent(t, events, NoteConfirmed)
	nextEvent(t, events, NoteConfirmed)
	checkIndexed(ev2, b)
	checkIndexed(ev3, b)

	// A Bitcoin reorg: the block holding them is invalidated; the node
	// puts them back in its mempool and mines them into the new branch.
	if err := e.node.InvalidateBlock(b); err != nil {
		t.Fatal(err)
	}
	nb := e.mine(t, 2)
	waitFor(t, "the miner to follow the reorg", func() bool {
		pubs, _ := e.svc.Index().Publications(ev3.KeystoneID, chainhash.Hash{})
		return len(pubs) == 1 && pubs[0].BlockHash == nb[0]
	})
	checkIndexed(ev2, nb[0])

	// Restart: nothing is published twice, the next keystone chains on.
	stop()
	events = make(chan Event, 100)
	stop = runMiner(t, ctx, e, w, dir, ks, events)
	defer stop()
	ev4 := publish(4)
	spendsChange(ev4, ev3)
	checkIndexed(ev4, e.mineConfirmed(t, events, ev4.Txid))
}

// TestRegtestAcceptsBumps checks that btcd v0.26.2's mempool (the embedded
// regtest node) takes the machine's BIP-125 replacements, of one
// transaction and of a chain, and refuses a conflicting spend that does
// not pay more.
func TestRegtestAcceptsBumps(t *testing.T) {
	e, ctx := newBTCEnv(t)
	w := testWallet(t)
	e.fundMined(t, w.Script(), 500_000)
	tipHash, tip, coins := e.walletCoins(t, ctx, w)
	m := NewMachine(MachineConfig{MaxFeeRate: 100, BumpBlocks: 2}, w, State{})
	submit := func(out Output) []*Tx {
		t.Helper()
		for _, tx := range out.Send {
			msg, _ := tx.MsgTx()
			if err := e.node.SubmitTx(msg); err != nil {
				t.Fatalf("node refused %s: %v", tx.Txid, err)
			}
			m.Step(BroadcastEvent{Txid: tx.Txid, Verdict: VerdictAccepted})
		}
		return out.Send
	}
	snapshot := func(height int32) TipEvent {
		return TipEvent{Hash: tipHash, Height: height, Coins: coins, Mined: map[chainhash.Hash]Mined{}, FeeRate: 1}
	}
	submit(m.Step(snapshot(tip)))
	a := submit(m.Step(KeystoneEvent{testKS(1)}))[0]
	b := submit(m.Step(KeystoneEvent{testKS(2)}))[0]

	// A conflicting spend of a's input at the same fee is refused.
	k9 := testKeystone(9)
	same, err := w.BuildPoP(a.Input, k9.Script(), a.Fee)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.node.SubmitTx(same); !errors.Is(err, regtest.ErrTxRejected) {
		t.Fatalf("same-fee conflict: err %v", err)
	}

	// Two blocks later (as far as the machine knows) it replaces both.
	r := submit(m.Step(snapshot(tip + 2)))
	if len(r) != 1 || len(r[0].Replaces) != 2 {
		t.Fatalf("bump %+v", r)
	}
	ids := e.node.MempoolTxids()
	if slices.Contains(ids, a.Txid) || slices.Contains(ids, b.Txid) || !slices.Contains(ids, r[0].Txid) {
		t.Fatalf("mempool after the bump: %v", ids)
	}
	// And the replacement of the replacement.
	r2 := submit(m.Step(snapshot(tip + 4)))
	if len(r2) != 1 || r2[0].Fee <= r[0].Fee || !slices.Contains(e.node.MempoolTxids(), r2[0].Txid) {
		t.Fatalf("second bump %+v", r2)
	}
	e.checkPublished(t, testKS(2).ID, r2[0].Txid, e.mine(t, 1)[0])
}

// TestMinerEmptyWallet: an unfunded wallet reports a clear error naming
// the address to fund, and publishes once funded.
func TestMinerEmptyWallet(t *testing.T) {
	e, ctx := newBTCEnv(t)
	w := testWallet(t)
	ks := chanKeystones{ch: make(chan pop.L2Keystone)}
	events := make(chan Event, 100)
	reg := prometheus.NewRegistry()
	defer runMinerConfig(t, ctx, Config{Wallet: w, Keystones: ks, Bitcoin: e.bitcoin(), DataDir: t.TempDir(),
		Registerer: reg}, events)()
	ks.ch <- testKS(1)
	nf := nextEvent(t, events, NoteNoFunds)
	if !errors.Is(nf.Err, ErrWalletEmpty) || !strings.Contains(nf.Err.Error(), w.Address().EncodeAddress()) {
		t.Fatalf("no-funds error %v does not name %s", nf.Err, w.Address())
	}
	e.fundMined(t, w.Script(), 100_000)
	ev := nextEvent(t, events, NotePublished)
	if ev.KeystoneID != testKS(1).ID {
		t.Fatal("wrong keystone")
	}
	waitFor(t, "the PoP tx in the node's mempool", func() bool { return e.inMempool(ev.Txid) })
	e.mineConfirmed(t, events, ev.Txid)
	for name, want := range map[string]float64{
		"hemi_popm_keystones_seen_total":      1,
		"hemi_popm_keystones_published_total": 1,
		"hemi_popm_keystones_confirmed_total": 1,
		"hemi_popm_fees_paid_sat_total":       float64(ev.Fee),
		"hemi_popm_wallet_balance_sat":        float64(100_000 - ev.Fee),
	} {
		waitFor(t, name, func() bool { return testkit.MetricValue(t, reg, name) == want })
	}
}

// TestMinerInputDoubleSpent: another transaction (here a second miner on
// the same wallet, the classic misconfiguration) replaces the miner's
// publication in the mempool and is mined. The miner sees its input spent
// in the chain, drops its transaction and publishes the keystone again
// from its other coin.
func TestMinerInputDoubleSpent(t *testing.T) {
	e, ctx := newBTCEnv(t)
	w := testWallet(t)
	e.fundMined(t, w.Script(), 100_000, 200_000)
	ks, events := e.startMiner(t, ctx, w)

	pub := e.publish(t, ks, events, 1)
	mp, err := e.node.MempoolTx(pub.Txid)
	if err != nil {
		t.Fatal(err)
	}
	in := mp.TxIn[0].PreviousOutPoint
	value := int64(100_000)
	if mp.TxOut[1].Value+pub.Fee != value {
		value = 200_000
	}
	k9 := testKeystone(9)
	other, err := w.BuildPoP(Coin{OutPoint: in, Value: value}, k9.Script(), 5*pub.Fee)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.node.SubmitTx(other); err != nil {
		t.Fatalf("conflict refused: %v", err)
	}
	e.mine(t, 1)
	c := nextEvent(t, events, NoteConflicted)
	if c.Txid != pub.Txid || !strings.Contains(c.Err.Error(), other.TxHash().String()) {
		t.Fatalf("conflict event %+v", c)
	}
	again := nextEvent(t, events, NotePublished)
	if again.KeystoneID != testKS(1).ID || again.Txid == pub.Txid {
		t.Fatalf("republished %+v", again)
	}
	waitFor(t, "the new PoP tx in the node's mempool", func() bool { return e.inMempool(again.Txid) })
	e.mineConfirmed(t, events, again.Txid)
}

// TestRegtestP2TRPublication: a BIP-86 wallet's PoP transaction passes
// btcd's consensus and policy in the embedded node and is indexed.
func TestRegtestP2TRPublication(t *testing.T) {
	e, ctx := newBTCEnv(t)
	w, err := ParseSecret(bipMnemonic, P2TR, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	e.fundMined(t, w.Script(), 300_000)
	tipHash, tip, coins := e.walletCoins(t, ctx, w)
	m := NewMachine(MachineConfig{MaxFeeRate: 100}, w, State{})
	m.Step(TipEvent{Hash: tipHash, Height: tip, Coins: coins, FeeRate: 3})
	out := m.Step(KeystoneEvent{testKS(1)})
	if len(out.Send) != 1 {
		t.Fatal("nothing to send")
	}
	tx := out.Send[0]
	msg, _ := tx.MsgTx()
	if err := e.node.SubmitTx(msg); err != nil {
		t.Fatalf("node refused the P2TR PoP tx: %v", err)
	}
	if tx.VSize > PoPVSize(P2TR) {
		t.Fatalf("vsize %d above %d", tx.VSize, PoPVSize(P2TR))
	}
	e.checkPublished(t, testKS(1).ID, tx.Txid, e.mine(t, 1)[0])
	t.Logf("P2TR PoP tx %s: %d vB", tx.Txid, tx.VSize)
}

// mute is a Bitcoin whose broadcasts never leave the process: a crash
// right after the miner persisted a transaction and before the network
// heard of it.
type mute struct{ Bitcoin }

func (mute) Broadcast(context.Context, *wire.MsgTx) (Verdict, string, error) {
	return VerdictUnknown, "", errors.New("crashed before sending")
}

// TestMinerCrashBeforeSend: the state is persisted before sending, so a
// miner that dies before the network saw its transaction resends that
// same transaction at restart and never builds a second one.
func TestMinerCrashBeforeSend(t *testing.T) {
	e, ctx := newBTCEnv(t)
	w := testWallet(t)
	e.fundMined(t, w.Script(), 100_000, 100_000)
	dir := t.TempDir()
	ks := chanKeystones{ch: make(chan pop.L2Keystone)}
	events := make(chan Event, 100)
	crash := runMinerConfig(t, ctx, Config{Wallet: w, Keystones: ks, Bitcoin: mute{e.bitcoin()}, DataDir: dir}, events)
	ks.ch <- testKS(1)
	pub := nextEvent(t, events, NotePublished)
	crash()
	if e.inMempool(pub.Txid) {
		t.Fatal("the muted broadcast reached the node")
	}

	other := testWalletFrom(t, "another key for the same data dir")
	if _, err := New(Config{Wallet: other, Keystones: ks, Bitcoin: e.bitcoin(), DataDir: dir, Logger: quiet}); !errors.Is(err, ErrStateWallet) {
		t.Fatalf("another wallet on this state: err %v", err)
	}
	stop := runMiner(t, ctx, e, w, dir, ks, events)
	defer stop()
	waitFor(t, "the persisted tx resent at restart", func() bool { return e.inMempool(pub.Txid) })
	e.mineConfirmed(t, events, pub.Txid)
	if len(e.node.MempoolTxids()) != 0 {
		t.Fatalf("a second transaction was built: mempool %v", e.node.MempoolTxids())
	}
}

// TestMinerBumpsLive: blocks that leave the PoP transaction out (mined
// empty) make the running miner replace it after BumpBlocks blocks; the
// replacement travels over P2P, replaces the original in the node's
// mempool (BIP-125) and is the one mined.
func TestMinerBumpsLive(t *testing.T) {
	e, ctx := newBTCEnv(t)
	w := testWallet(t)
	e.fundMined(t, w.Script(), 100_000)
	ks, events := e.startMiner(t, ctx, w)

	pub := e.publish(t, ks, events, 1)
	e.mineEmpty(t, 2)
	bump := nextEvent(t, events, NoteBumped)
	if bump.KeystoneID != pub.KeystoneID || bump.Fee < pub.Fee+PoPVSize(P2WPKH) || bump.FeeRate <= pub.FeeRate {
		t.Fatalf("bump %+v of %+v", bump, pub)
	}
	waitFor(t, "the replacement to replace the original in the node's mempool", func() bool {
		return e.inMempool(bump.Txid) && !e.inMempool(pub.Txid)
	})
	e.checkPublished(t, pub.KeystoneID, bump.Txid, e.mineConfirmed(t, events, bump.Txid))
	t.Logf("bumped %s (%d sat) to %s (%d sat, %d sat/vB)", pub.Txid, pub.Fee, bump.Txid, bump.Fee, bump.FeeRate)
}

// TestMinerRepublishesAfterReorg: a Bitcoin reorg to a branch without the
// publication makes the miner send the same transaction again, and it is
// mined into the new branch.
func TestMinerRepublishesAfterReorg(t *testing.T) {
	e, ctx := newBTCEnv(t)
	w := testWallet(t)
	e.fundMined(t, w.Script(), 100_000)
	ks, events := e.startMiner(t, ctx, w)

	pub := e.publish(t, ks, events, 1)
	held := e.mine(t, 1)[0]
	nextEvent(t, events, NoteConfirmed)
	if err := e.node.InvalidateBlock(held); err != nil {
		t.Fatal(err)
	}
	e.mineEmpty(t, 2) // more work, without the publication
	re := nextEvent(t, events, NoteRepublished)
	if re.Txid != pub.Txid {
		t.Fatalf("republished %s, want the same %s", re.Txid, pub.Txid)
	}
	if pubs, _ := e.svc.Index().Publications(pub.KeystoneID, chainhash.Hash{}); len(pubs) != 0 {
		t.Fatalf("publication still indexed after the reorg: %+v", pubs)
	}
	waitFor(t, "the PoP tx back in the node's mempool", func() bool { return e.inMempool(pub.Txid) })
	e.mineConfirmed(t, events, pub.Txid)
}

// TestMinerReadsEveryCoin: a wallet with more than 10,000 unspent
// outputs (10,400 of 400 sat, too small to pay a PoP transaction, then
// one that can, mined after them) is read whole by both Bitcoin
// adapters, and the miner publishes from the one coin that pays.
func TestMinerReadsEveryCoin(t *testing.T) {
	e, ctx := newBTCEnv(t)
	w := testWallet(t)
	const perTx, txs, small, big = 2600, 4, 400, 500_000
	e.mineEmpty(t, txs+1) // mature coinbases for every funding tx
	for range txs {
		outs := make([]*wire.TxOut, perTx)
		for i := range outs {
			outs[i] = wire.NewTxOut(small, w.Script())
		}
		e.fundOutputs(t, outs...)
	}
	e.mine(t, 1)
	e.fundMined(t, w.Script(), big)
	tip, _ := e.svc.BlockTip()
	for name, b := range map[string]Bitcoin{"index": e.bitcoin(), "query API": APIBitcoin{Client: e.api}} {
		coins, err := b.Coins(ctx, w.Script(), tip)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		seen := map[wire.OutPoint]bool{}
		var sum int64
		for _, c := range coins {
			seen[c.OutPoint] = true
			sum += c.Value
		}
		if want := perTx*txs + 1; len(coins) != want || len(seen) != want || sum != perTx*txs*small+big {
			t.Fatalf("%s: %d coins (%d distinct) of %d sat, want %d of %d", name, len(coins), len(seen), sum, want, perTx*txs*small+big)
		}
	}
	ks, events := e.startMiner(t, ctx, w)
	pub := e.publish(t, ks, events, 1)
	mp, err := e.node.MempoolTx(pub.Txid)
	if err != nil {
		t.Fatal(err)
	}
	if got := mp.TxOut[1].Value + pub.Fee; got != big {
		t.Fatalf("published from a coin of %d sat, want the %d-sat one", got, big)
	}
}
