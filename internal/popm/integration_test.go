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
	"github.com/hemi-go/hemi/internal/tbc"
)

var quiet = slog.New(slog.DiscardHandler)

// chanKeystones is a Keystones source the test feeds.
type chanKeystones struct{ ch chan Keystone }

func (c chanKeystones) Keystones(ctx context.Context) (<-chan Keystone, error) {
	out := make(chan Keystone)
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
	miner  *txgen.Key
	cbNext int32 // next coinbase height to spend
}

func newBTCEnv(t *testing.T, ctx context.Context, g *errgroup.Group) *btcEnv {
	t.Helper()
	dir := t.TempDir()
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
	svc, err := tbc.New(tbc.Config{Params: &chaincfg.RegressionNetParams, DataDir: filepath.Join(dir, "node"),
		Peers: []string{node.P2PAddr()}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	g.Go(func() error { return svc.Run(ctx) })
	e := &btcEnv{node: node, svc: svc, miner: key, cbNext: 1}
	e.waitIndexed(t)
	return e
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
		Outputs: []*wire.TxOut{wire.NewTxOut(value, script)},
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

func (e *btcEnv) inMempool(txid chainhash.Hash) bool {
	return slices.Contains(e.node.MempoolTxids(), txid)
}

func (e *btcEnv) bitcoin() IndexBitcoin {
	return IndexBitcoin{Index: e.svc.Index(), Peers: e.svc, Fees: e.svc}
}

// runMiner starts a miner on dir; stop cancels it and waits.
func runMiner(t *testing.T, ctx context.Context, e *btcEnv, w *Wallet, dir string, ks chanKeystones, events chan Event) (stop func()) {
	t.Helper()
	m, err := New(Config{Wallet: w, Keystones: ks, Bitcoin: e.bitcoin(), DataDir: dir, Logger: quiet,
		OnEvent: func(ev Event) { events <- ev }})
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

func nextEvent(t *testing.T, events chan Event, kind NoteKind) Event {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Kind == kind {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event", kind)
		}
	}
}

// TestMinerRegtest publishes keystones through the embedded regtest node
// and sees them indexed as publications: single, chained, after a Bitcoin
// reorg moved them, and across a miner restart.
func TestMinerRegtest(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	g, ctx := errgroup.WithContext(ctx)
	defer func() {
		cancel()
		_ = g.Wait()
	}()
	e := newBTCEnv(t, ctx, g)
	w, err := ParseSecret(bipMnemonic, P2WPKH, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	e.fund(t, w.Script(), 1_000_000)
	e.mine(t, 1)

	ks := chanKeystones{ch: make(chan Keystone)}
	events := make(chan Event, 100)
	dir := t.TempDir()
	stop := runMiner(t, ctx, e, w, dir, ks, events)

	publish := func(n uint64) Event {
		t.Helper()
		ks.ch <- testKS(n)
		ev := nextEvent(t, events, NotePublished)
		if ev.KeystoneID != testKS(n).ID || ev.VSize > 202 || ev.Fee != ev.FeeRate*PoPVSize(P2WPKH) {
			t.Fatalf("published %+v", ev)
		}
		waitFor(t, "the PoP tx in the node's mempool", func() bool { return e.inMempool(ev.Txid) })
		t.Logf("keystone %d: tx %s vsize %d fee %d, sent %s after the keystone arrived", n, ev.Txid, ev.VSize, ev.Fee, ev.SentAt.Sub(ev.SeenAt))
		return ev
	}
	checkIndexed := func(ev Event, block chainhash.Hash) {
		t.Helper()
		pubs, err := e.svc.Index().Publications(ev.KeystoneID, chainhash.Hash{})
		if err != nil {
			t.Fatal(err)
		}
		if len(pubs) != 1 || pubs[0].Txid != ev.Txid || pubs[0].BlockHash != block || pubs[0].Vout != 0 {
			t.Fatalf("publications of keystone %x: %+v", ev.KeystoneID, pubs)
		}
	}

	// One keystone, one block.
	ev1 := publish(1)
	b := e.mine(t, 1)[0]
	conf := nextEvent(t, events, NoteConfirmed)
	if conf.Txid != ev1.Txid || conf.BlockHash != b {
		t.Fatalf("confirmed %+v", conf)
	}
	checkIndexed(ev1, b)

	// Two keystones before a block: the second spends the first's change.
	ev2 := publish(2)
	ev3 := publish(3)
	tx3, err := e.svc.Index().TxByID(ev3.Txid, chainhash.Hash{})
	if err == nil {
		t.Fatalf("tx3 mined already: %+v", tx3)
	}
	mp, err := e.node.MempoolTx(ev3.Txid)
	if err != nil {
		t.Fatal(err)
	}
	if mp.TxIn[0].PreviousOutPoint != (wire.OutPoint{Hash: ev2.Txid, Index: 1}) {
		t.Fatalf("tx3 spends %s, not tx2's change", mp.TxIn[0].PreviousOutPoint)
	}
	b = e.mine(t, 1)[0]
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
	mp, err = e.node.MempoolTx(ev4.Txid)
	if err != nil {
		t.Fatal(err)
	}
	if mp.TxIn[0].PreviousOutPoint != (wire.OutPoint{Hash: ev3.Txid, Index: 1}) {
		t.Fatalf("after restart tx4 spends %s, not tx3's change", mp.TxIn[0].PreviousOutPoint)
	}
	b = e.mine(t, 1)[0]
	nextEvent(t, events, NoteConfirmed)
	checkIndexed(ev4, b)
}

// TestRegtestAcceptsBumps checks that btcd v0.26.2's mempool (the embedded
// regtest node) takes the machine's BIP-125 replacements, of one
// transaction and of a chain, and refuses a conflicting spend that does
// not pay more.
func TestRegtestAcceptsBumps(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	g, ctx := errgroup.WithContext(ctx)
	defer func() {
		cancel()
		_ = g.Wait()
	}()
	e := newBTCEnv(t, ctx, g)
	w := testWallet(t)
	e.fund(t, w.Script(), 500_000)
	e.mine(t, 1)
	tipHash, tip := e.svc.BlockTip()
	coins, err := e.bitcoin().Coins(ctx, w.Script(), tipHash)
	if err != nil || len(coins) != 1 {
		t.Fatalf("coins %v, %v", coins, err)
	}
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
	blk := e.mine(t, 1)[0]
	pubs, err := e.svc.Index().Publications(testKS(2).ID, chainhash.Hash{})
	if err != nil || len(pubs) != 1 || pubs[0].Txid != r2[0].Txid || pubs[0].BlockHash != blk {
		t.Fatalf("publications %+v, %v", pubs, err)
	}
}

// TestMinerEmptyWallet: an unfunded wallet reports a clear error naming
// the address to fund, and publishes once funded.
func TestMinerEmptyWallet(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	g, ctx := errgroup.WithContext(ctx)
	defer func() {
		cancel()
		_ = g.Wait()
	}()
	e := newBTCEnv(t, ctx, g)
	w := testWallet(t)
	ks := chanKeystones{ch: make(chan Keystone)}
	events := make(chan Event, 100)
	reg := prometheus.NewRegistry()
	m, err := New(Config{Wallet: w, Keystones: ks, Bitcoin: e.bitcoin(), DataDir: t.TempDir(), Logger: quiet,
		Registerer: reg, OnEvent: func(ev Event) { events <- ev }})
	if err != nil {
		t.Fatal(err)
	}
	mctx, mcancel := context.WithCancel(ctx)
	defer mcancel()
	go func() { _ = m.Run(mctx) }()
	ks.ch <- testKS(1)
	nf := nextEvent(t, events, NoteNoFunds)
	if !errors.Is(nf.Err, ErrWalletEmpty) || !strings.Contains(nf.Err.Error(), w.Address().EncodeAddress()) {
		t.Fatalf("no-funds error %v does not name %s", nf.Err, w.Address())
	}
	e.fund(t, w.Script(), 100_000)
	e.mine(t, 1)
	ev := nextEvent(t, events, NotePublished)
	if ev.KeystoneID != testKS(1).ID {
		t.Fatal("wrong keystone")
	}
	waitFor(t, "the PoP tx in the node's mempool", func() bool { return e.inMempool(ev.Txid) })
	e.mine(t, 1)
	nextEvent(t, events, NoteConfirmed)
	for name, want := range map[string]float64{
		"hemi_popm_keystones_seen_total":      1,
		"hemi_popm_keystones_published_total": 1,
		"hemi_popm_keystones_confirmed_total": 1,
		"hemi_popm_fees_paid_sat_total":       float64(ev.Fee),
		"hemi_popm_wallet_balance_sat":        float64(100_000 - ev.Fee),
	} {
		waitFor(t, name, func() bool { return metricValue(t, reg, name) == want })
	}
}

func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) == 0 {
			continue
		}
		m := mf.GetMetric()[0]
		if m.GetCounter() != nil {
			return m.GetCounter().GetValue()
		}
		return m.GetGauge().GetValue()
	}
	return -1
}

// TestMinerInputDoubleSpent: another transaction (here a second miner on
// the same wallet, the classic misconfiguration) replaces the miner's
// publication in the mempool and is mined. The miner sees its input spent
// in the chain, drops its transaction and publishes the keystone again
// from its other coin.
func TestMinerInputDoubleSpent(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	g, ctx := errgroup.WithContext(ctx)
	defer func() {
		cancel()
		_ = g.Wait()
	}()
	e := newBTCEnv(t, ctx, g)
	w := testWallet(t)
	e.fund(t, w.Script(), 100_000)
	e.fund(t, w.Script(), 200_000)
	e.mine(t, 1)
	ks := chanKeystones{ch: make(chan Keystone)}
	events := make(chan Event, 100)
	stop := runMiner(t, ctx, e, w, t.TempDir(), ks, events)
	defer stop()

	ks.ch <- testKS(1)
	pub := nextEvent(t, events, NotePublished)
	waitFor(t, "the PoP tx in the node's mempool", func() bool { return e.inMempool(pub.Txid) })
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
	b := e.mine(t, 1)[0]
	conf := nextEvent(t, events, NoteConfirmed)
	if conf.Txid != again.Txid || conf.BlockHash != b {
		t.Fatalf("confirmed %+v", conf)
	}
}

// TestRegtestP2TRPublication: a BIP-86 wallet's PoP transaction passes
// btcd's consensus and policy in the embedded node and is indexed.
func TestRegtestP2TRPublication(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	g, ctx := errgroup.WithContext(ctx)
	defer func() {
		cancel()
		_ = g.Wait()
	}()
	e := newBTCEnv(t, ctx, g)
	w, err := ParseSecret(bipMnemonic, P2TR, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	e.fund(t, w.Script(), 300_000)
	e.mine(t, 1)
	tipHash, tip := e.svc.BlockTip()
	coins, err := e.bitcoin().Coins(ctx, w.Script(), tipHash)
	if err != nil || len(coins) != 1 {
		t.Fatalf("coins %v, %v", coins, err)
	}
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
	b := e.mine(t, 1)[0]
	pubs, err := e.svc.Index().Publications(testKS(1).ID, chainhash.Hash{})
	if err != nil || len(pubs) != 1 || pubs[0].Txid != tx.Txid || pubs[0].BlockHash != b {
		t.Fatalf("publications %+v, %v", pubs, err)
	}
	t.Logf("P2TR PoP tx %s: %d vB", tx.Txid, tx.VSize)
}

// mute is a Bitcoin whose broadcasts never leave the process: a crash
// right after the miner persisted a transaction and before the network
// heard of it.
type mute struct{ IndexBitcoin }

func (mute) Broadcast(context.Context, *wire.MsgTx) (Verdict, string, error) {
	return VerdictUnknown, "", errors.New("crashed before sending")
}

// TestMinerCrashBeforeSend: the state is persisted before sending, so a
// miner that dies before the network saw its transaction resends that
// same transaction at restart and never builds a second one.
func TestMinerCrashBeforeSend(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	g, ctx := errgroup.WithContext(ctx)
	defer func() {
		cancel()
		_ = g.Wait()
	}()
	e := newBTCEnv(t, ctx, g)
	w := testWallet(t)
	e.fund(t, w.Script(), 100_000)
	e.fund(t, w.Script(), 100_000)
	e.mine(t, 1)
	dir := t.TempDir()
	ks := chanKeystones{ch: make(chan Keystone)}
	events := make(chan Event, 100)
	m, err := New(Config{Wallet: w, Keystones: ks, Bitcoin: mute{e.bitcoin()}, DataDir: dir, Logger: quiet,
		OnEvent: func(ev Event) { events <- ev }})
	if err != nil {
		t.Fatal(err)
	}
	mctx, mcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(mctx) }()
	ks.ch <- testKS(1)
	pub := nextEvent(t, events, NotePublished)
	mcancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
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
	b := e.mine(t, 1)[0]
	conf := nextEvent(t, events, NoteConfirmed)
	if conf.Txid != pub.Txid || conf.BlockHash != b {
		t.Fatalf("confirmed %+v", conf)
	}
	if len(e.node.MempoolTxids()) != 0 {
		t.Fatalf("a second transaction was built: mempool %v", e.node.MempoolTxids())
	}
}

// TestMinerBumpsLive: blocks that leave the PoP transaction out (mined
// empty) make the running miner replace it after BumpBlocks blocks; the
// replacement travels over P2P, replaces the original in the node's
// mempool (BIP-125) and is the one mined.
func TestMinerBumpsLive(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	g, ctx := errgroup.WithContext(ctx)
	defer func() {
		cancel()
		_ = g.Wait()
	}()
	e := newBTCEnv(t, ctx, g)
	w := testWallet(t)
	e.fund(t, w.Script(), 100_000)
	e.mine(t, 1)
	ks := chanKeystones{ch: make(chan Keystone)}
	events := make(chan Event, 100)
	stop := runMiner(t, ctx, e, w, t.TempDir(), ks, events)
	defer stop()

	ks.ch <- testKS(1)
	pub := nextEvent(t, events, NotePublished)
	waitFor(t, "the PoP tx in the node's mempool", func() bool { return e.inMempool(pub.Txid) })
	addr, _ := e.miner.Address(txgen.P2WPKH, &chaincfg.RegressionNetParams)
	if _, err := e.node.MineEmpty(2, addr); err != nil {
		t.Fatal(err)
	}
	e.waitIndexed(t)
	bump := nextEvent(t, events, NoteBumped)
	if bump.KeystoneID != pub.KeystoneID || bump.Fee < pub.Fee+PoPVSize(P2WPKH) || bump.FeeRate <= pub.FeeRate {
		t.Fatalf("bump %+v of %+v", bump, pub)
	}
	waitFor(t, "the replacement to replace the original in the node's mempool", func() bool {
		return e.inMempool(bump.Txid) && !e.inMempool(pub.Txid)
	})
	b := e.mine(t, 1)[0]
	conf := nextEvent(t, events, NoteConfirmed)
	if conf.Txid != bump.Txid || conf.BlockHash != b {
		t.Fatalf("confirmed %+v", conf)
	}
	pubs, err := e.svc.Index().Publications(pub.KeystoneID, chainhash.Hash{})
	if err != nil || len(pubs) != 1 || pubs[0].Txid != bump.Txid {
		t.Fatalf("publications %+v, %v", pubs, err)
	}
	t.Logf("bumped %s (%d sat) to %s (%d sat, %d sat/vB)", pub.Txid, pub.Fee, bump.Txid, bump.Fee, bump.FeeRate)
}

// TestMinerRepublishesAfterReorg: a Bitcoin reorg to a branch without the
// publication makes the miner send the same transaction again, and it is
// mined into the new branch.
func TestMinerRepublishesAfterReorg(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	g, ctx := errgroup.WithContext(ctx)
	defer func() {
		cancel()
		_ = g.Wait()
	}()
	e := newBTCEnv(t, ctx, g)
	w := testWallet(t)
	e.fund(t, w.Script(), 100_000)
	e.mine(t, 1)
	ks := chanKeystones{ch: make(chan Keystone)}
	events := make(chan Event, 100)
	stop := runMiner(t, ctx, e, w, t.TempDir(), ks, events)
	defer stop()

	ks.ch <- testKS(1)
	pub := nextEvent(t, events, NotePublished)
	waitFor(t, "the PoP tx in the node's mempool", func() bool { return e.inMempool(pub.Txid) })
	held := e.mine(t, 1)[0]
	nextEvent(t, events, NoteConfirmed)
	if err := e.node.InvalidateBlock(held); err != nil {
		t.Fatal(err)
	}
	addr, _ := e.miner.Address(txgen.P2WPKH, &chaincfg.RegressionNetParams)
	if _, err := e.node.MineEmpty(2, addr); err != nil { // more work, without the publication
		t.Fatal(err)
	}
	e.waitIndexed(t)
	re := nextEvent(t, events, NoteRepublished)
	if re.Txid != pub.Txid {
		t.Fatalf("republished %s, want the same %s", re.Txid, pub.Txid)
	}
	if pubs, _ := e.svc.Index().Publications(pub.KeystoneID, chainhash.Hash{}); len(pubs) != 0 {
		t.Fatalf("publication still indexed after the reorg: %+v", pubs)
	}
	waitFor(t, "the PoP tx back in the node's mempool", func() bool { return e.inMempool(pub.Txid) })
	b := e.mine(t, 1)[0]
	conf := nextEvent(t, events, NoteConfirmed)
	if conf.Txid != pub.Txid || conf.BlockHash != b {
		t.Fatalf("confirmed %+v, want block %s", conf, b)
	}
}
