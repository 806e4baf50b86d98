package signer

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hemi-go/hemi/internal/btc/regtest"
	"github.com/hemi-go/hemi/internal/tunnel"
	"github.com/hemi-go/hemi/internal/tunnel/tunneltest"
)

// testNode is a signer's node for these tests: the L2 side (the open
// batch, the claims, the posted signatures) is held in memory as the
// predeploy would hold it, with postSignatures' own checks; the Bitcoin
// side is the embedded regtest node, so broadcasts meet real consensus
// and mempool policy.
type testNode struct {
	btc       *regtest.Node
	batch     *tunnel.Batch
	claims    map[uint64]Claim
	finalized uint64
	posted    []Posted
	posts     int
}

func (n *testNode) OpenBatch(context.Context) (*tunnel.Batch, error) { return n.batch, nil }
func (n *testNode) Finalized(context.Context) (uint64, error)        { return n.finalized, nil }
func (n *testNode) Claims(context.Context, *tunnel.Batch) (map[uint64]Claim, error) {
	return n.claims, nil
}
func (n *testNode) Posted(_ context.Context, batch uint64, attempt uint32) ([]Posted, error) {
	if n.batch == nil || batch != n.batch.Number || attempt != n.batch.Attempt {
		return nil, nil
	}
	return n.posted, nil
}

// Post mirrors TunnelWithdrawals.postSignatures' checks.
func (n *testNode) Post(_ context.Context, batch uint64, attempt uint32, index uint8, sigs [][]byte) error {
	if n.batch == nil || !n.batch.Open || batch != n.batch.Number || attempt != n.batch.Attempt {
		return errors.New("NoSuchBatch")
	}
	if len(sigs) != len(n.batch.Inputs) {
		return errors.New("BadSignatures")
	}
	for _, s := range sigs {
		if len(s) != 64 {
			return errors.New("BadSignatures")
		}
	}
	n.posted = append(n.posted, Posted{Index: index, Sigs: sigs})
	n.posts++
	return nil
}

func (n *testNode) Broadcast(_ context.Context, tx *wire.MsgTx) error { return n.btc.AcceptTx(tx) }

func (n *testNode) Mined(_ context.Context, txid chainhash.Hash) (bool, error) {
	_, tip := n.btc.Tip()
	for h := tip; h > 0 && h > tip-10; h-- {
		hash, _ := n.btc.HashAt(h)
		b, err := n.btc.Block(hash)
		if err != nil {
			return false, err
		}
		for _, tx := range b.Transactions {
			if tx.TxHash() == txid {
				return true, nil
			}
		}
	}
	return false, nil
}

type env struct {
	t       *testing.T
	node    *testNode
	vault   *tunneltest.ScriptVault
	signers []*btcec.PrivateKey // in committee (signer index) order
}

func p2wpkh(i int) []byte {
	h := sha256.Sum256([]byte(fmt.Sprintf("recipient-%d", i)))
	return append([]byte{0x00, 0x14}, h[:20]...)
}

// newEnv mines two vault coinbases to maturity and opens batch 1 paying
// three withdrawals from them, every claim superfinal.
func newEnv(t *testing.T) *env {
	keys := tunneltest.Keys("signer", 3)
	v, err := tunneltest.NewScriptVault(keys, 2, tunneltest.Keys("recovery", 2), 2, 144)
	if err != nil {
		t.Fatal(err)
	}
	committee, _, err := tunnel.CommitteeKeys(v)
	if err != nil {
		t.Fatal(err)
	}
	var ordered []*btcec.PrivateKey
	for _, ck := range committee {
		for _, k := range keys {
			if tunnel.XOnly(k.PubKey()) == ck {
				ordered = append(ordered, k)
			}
		}
	}
	btc, err := regtest.New(regtest.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = btc.Close() })
	if _, err := btc.MineToScript(2, v.PkScript()); err != nil {
		t.Fatal(err)
	}
	if _, err := btc.MineToScript(100, p2wpkh(999)); err != nil {
		t.Fatal(err)
	}
	b := &tunnel.Batch{Number: 1, FeeRate: 2, Open: true}
	for h := int32(1); h <= 2; h++ {
		hash, _ := btc.HashAt(h)
		blk, err := btc.Block(hash)
		if err != nil {
			t.Fatal(err)
		}
		cb := blk.Transactions[0]
		b.Inputs = append(b.Inputs, tunnel.BatchInput{OutPoint: wire.OutPoint{Hash: cb.TxHash(), Index: 0}, Amount: uint64(cb.TxOut[0].Value), Height: uint32(h)})
	}
	claims := map[uint64]Claim{}
	for i := 0; i < 3; i++ {
		id := uint64(10 + i)
		o := tunnel.BatchOutput{ID: id, Script: p2wpkh(i), Amount: 100_000_000 * uint64(i+1), MaxFee: 20_000}
		b.Outputs = append(b.Outputs, o)
		claims[id] = Claim{ID: id, Script: o.Script, Amount: o.Amount, MaxFee: o.MaxFee, L2Block: 50 + uint64(i), Batch: 1}
	}
	fees, err := tunnel.NewFees(v)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := tunnel.PlanPayout(b.FeeRate, b.Inputs, b.Outputs, fees.VaultScript, fees.WitSize)
	if err != nil {
		t.Fatal(err)
	}
	b.Change, b.Fee = plan.Change, plan.Fee
	return &env{t: t, node: &testNode{btc: btc, batch: b, claims: claims, finalized: 100}, vault: v, signers: ordered}
}

func (e *env) signer(i int, dir string) *Signer {
	e.t.Helper()
	if dir == "" {
		dir = e.t.TempDir()
	}
	s, err := New(Config{Key: e.signers[i], Vault: e.vault, Node: e.node, DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *env) payoutTxid() chainhash.Hash {
	tx, err := tunnel.BuildPayout(e.node.batch, e.vault)
	if err != nil {
		e.t.Fatal(err)
	}
	return tx.TxHash()
}

func step(t *testing.T, s *Signer) {
	t.Helper()
	if err := s.Step(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
}

func TestSignersPayOut(t *testing.T) {
	e := newEnv(t)
	s0, s2 := e.signer(0, ""), e.signer(2, "")
	defer s0.Close()
	defer s2.Close()
	step(t, s0)
	if e.node.posts != 1 {
		t.Fatalf("%d posts after the first signer", e.node.posts)
	}
	step(t, s0) // nothing new: already posted, one set is not k
	if e.node.posts != 1 {
		t.Fatalf("signer posted again: %d", e.node.posts)
	}
	step(t, s2) // second set: k reached, assembles and broadcasts
	txid := e.payoutTxid()
	if _, err := e.node.btc.MempoolTx(txid); err != nil {
		t.Fatalf("payout not in the mempool: %v", err)
	}
	if _, err := e.node.btc.MineToScript(1, p2wpkh(999)); err != nil {
		t.Fatal(err)
	}
	if ok, _ := e.node.Mined(context.Background(), txid); !ok {
		t.Fatal("payout not mined")
	}
	step(t, s0) // sees it mined: no broadcast error, no new post
	if e.node.posts != 2 {
		t.Fatalf("%d posts", e.node.posts)
	}
}

// TestReorgedPayoutBroadcastAgain: a payout the assembler saw mined and
// that a reorg took out of the best chain, and that the Bitcoin node no
// longer has in its mempool either (dropped, as a restarted btcd does),
// is broadcast again at the next step, well inside the Rebroadcast
// period, and counted; then, mined again, it is left alone.
func TestReorgedPayoutBroadcastAgain(t *testing.T) {
	e := newEnv(t)
	s0, s2 := e.signer(0, ""), e.signer(2, "")
	defer s0.Close()
	defer s2.Close()
	now := time.Now()
	stepAt := func(s *Signer, at time.Time) {
		t.Helper()
		if err := s.Step(context.Background(), at); err != nil {
			t.Fatal(err)
		}
	}
	stepAt(s0, now)
	stepAt(s2, now) // k sets: assembled and broadcast
	txid := e.payoutTxid()
	if counter(t, s2.m.broadcasts) != 1 {
		t.Fatal("payout not broadcast")
	}
	hs, err := e.node.btc.MineToScript(1, p2wpkh(999))
	if err != nil {
		t.Fatal(err)
	}
	stepAt(s2, now.Add(time.Second)) // sees it mined
	if err := e.node.btc.InvalidateBlock(hs[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.node.btc.DropMempool(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.node.btc.MempoolTx(txid); err == nil {
		t.Fatal("payout still in the mempool")
	}
	stepAt(s2, now.Add(2*time.Second)) // far inside DefaultRebroadcast
	if _, err := e.node.btc.MempoolTx(txid); err != nil {
		t.Fatalf("reorged-out payout not broadcast again: %v", err)
	}
	if got, b := counter(t, s2.m.reorged), counter(t, s2.m.broadcasts); got != 1 || b != 2 {
		t.Fatalf("reorged %v, broadcasts %v; want 1 and 2", got, b)
	}
	stepAt(s2, now.Add(3*time.Second)) // in the mempool, sent a second ago: nothing
	if _, err := e.node.btc.MineToScript(1, p2wpkh(999)); err != nil {
		t.Fatal(err)
	}
	stepAt(s2, now.Add(4*time.Second))
	if got, b := counter(t, s2.m.reorged), counter(t, s2.m.broadcasts); got != 1 || b != 2 {
		t.Fatalf("after the payout was mined again: reorged %v, broadcasts %v; want 1 and 2", got, b)
	}
}

// TestBadPostedSetDropped: garbage posted under two signer indexes first
// does not stop assembly from the good sets posted after it.
func TestBadPostedSetDropped(t *testing.T) {
	e := newEnv(t)
	junk := [][]byte{make([]byte, 64), make([]byte, 64)}
	junk[0][0], junk[1][0] = 1, 2
	e.node.posted = append(e.node.posted, Posted{Index: 1, Sigs: junk}, Posted{Index: 2, Sigs: junk}, Posted{Index: 9, Sigs: junk})
	s1, s2 := e.signer(1, ""), e.signer(2, "")
	defer s1.Close()
	defer s2.Close()
	step(t, s1)
	step(t, s2)
	if _, err := e.node.btc.MempoolTx(e.payoutTxid()); err != nil {
		t.Fatalf("payout not assembled past the bad sets: %v", err)
	}
	if got := counter(t, s2.m.badSets); got != 3 {
		t.Fatalf("%v bad sets counted, want 3", got)
	}
}

func TestSignerRefuses(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(e *env)
		want   Kind
	}{
		{"output nobody burned for", func(e *env) { delete(e.node.claims, 11) }, RefuseUnknownOutput},
		{"output to another script", func(e *env) { c := e.node.claims[11]; c.Script = p2wpkh(77); e.node.claims[11] = c }, RefuseUnknownOutput},
		{"refund that is a withdrawal", func(e *env) { c := e.node.claims[11]; c.Refund = true; e.node.claims[11] = c }, RefuseUnknownOutput},
		{"more than burned", func(e *env) { c := e.node.claims[12]; c.Amount -= 1000; e.node.claims[12] = c }, RefuseOverBurn},
		{"burn not superfinal", func(e *env) { e.node.finalized = 51 }, RefuseNotSuperfinal},
		{"already paid", func(e *env) { c := e.node.claims[10]; c.Paid = true; e.node.claims[10] = c }, RefuseAlreadyPaid},
		{"in another batch", func(e *env) { c := e.node.claims[10]; c.Batch = 7; e.node.claims[10] = c }, RefuseAlreadyPaid},
		{"paid twice in one payout", func(e *env) {
			e.node.batch.Outputs[1].ID = 10
			e.node.batch.Outputs[1].Script = e.node.batch.Outputs[0].Script
		}, RefuseAlreadyPaid},
		{"fee above maxFee", func(e *env) { c := e.node.claims[10]; c.MaxFee = 100; e.node.claims[10] = c }, RefuseFeeAboveMax},
		{"underivable batch", func(e *env) { e.node.batch.Change++ }, RefuseDerivation},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			c.mutate(e)
			s := e.signer(0, "")
			defer s.Close()
			step(t, s)
			step(t, s) // logged and counted once
			if e.node.posts != 0 {
				t.Fatal("a refused payout was signed and posted")
			}
			if got := counter(t, s.m.refused.WithLabelValues(string(c.want))); got != 1 {
				t.Fatalf("refusals counted for %s: %v", c.want, got)
			}
		})
	}
}

// TestRestartNeverSignsTwice: a signer that signed attempt 0 of batch 1
// and restarts (same data directory) refuses a different transaction
// under the same batch and attempt, and posts the same signatures again
// for the same one.
func TestRestartNeverSignsTwice(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	s := e.signer(0, dir)
	step(t, s)
	first := e.node.posted[0].Sigs
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The same attempt re-appears (its posts lost, e.g. an L2 reorg):
	// the restarted signer posts identical signatures.
	e.node.posted, e.node.posts = nil, 0
	s = e.signer(0, dir)
	step(t, s)
	if e.node.posts != 1 || fmt.Sprint(e.node.posted[0].Sigs) != fmt.Sprint(first) {
		t.Fatal("restart did not re-post the same signatures")
	}
	s.Close()

	// A different payout under the same (batch, attempt): refused.
	e.node.posted, e.node.posts = nil, 0
	e.node.batch.Outputs[0].Amount -= 5000
	c := e.node.claims[10]
	c.Amount -= 5000
	e.node.claims[10] = c
	fees, _ := tunnel.NewFees(e.vault)
	plan, err := tunnel.PlanPayout(e.node.batch.FeeRate, e.node.batch.Inputs, e.node.batch.Outputs, fees.VaultScript, fees.WitSize)
	if err != nil {
		t.Fatal(err)
	}
	e.node.batch.Change = plan.Change
	s = e.signer(0, dir)
	defer s.Close()
	step(t, s)
	if e.node.posts != 0 {
		t.Fatal("signed a second transaction for one batch and attempt")
	}
	if got := counter(t, s.m.refused.WithLabelValues(string(RefuseDerivation))); got != 1 {
		t.Fatalf("refusal not counted: %v", got)
	}
	// The next attempt is a new record: signed.
	e.node.batch.Attempt = 1
	step(t, s)
	if e.node.posts != 1 {
		t.Fatal("next attempt not signed")
	}
}

func TestNewErrors(t *testing.T) {
	e := newEnv(t)
	stranger := tunneltest.Keys("stranger", 1)[0]
	for _, cfg := range []Config{
		{Vault: e.vault, Node: e.node, DataDir: t.TempDir()},
		{Key: e.signers[0], Node: e.node, DataDir: t.TempDir()},
		{Key: e.signers[0], Vault: e.vault, DataDir: t.TempDir()},
		{Key: e.signers[0], Vault: e.vault, Node: e.node},
		{Key: stranger, Vault: e.vault, Node: e.node, DataDir: t.TempDir()},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Fatalf("%+v: %v", cfg, err)
		}
	}
}

func counter(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	return testutil.ToFloat64(c)
}
