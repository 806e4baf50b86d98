package popm

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/pop"
)

// harness drives a Machine the way the service does, and models the
// Bitcoin side just enough to answer: which transactions are mined where.
type harness struct {
	t      *testing.T
	w      *Wallet
	m      *Machine
	height int32
	coins  []Coin
	mined  map[chainhash.Hash]Mined
	spent  map[wire.OutPoint]chainhash.Hash
	sent   []*Tx // every Send, in order
	notes  []Note
}

func testWallet(t testing.TB) *Wallet {
	t.Helper()
	return testWalletFrom(t, "popm machine test key 0123456789")
}

func testWalletFrom(t testing.TB, seed string) *Wallet {
	t.Helper()
	k, _ := btcec.PrivKeyFromBytes([]byte(seed))
	wif, _ := btcutil.NewWIF(k, &chaincfg.RegressionNetParams, true)
	w, err := ParseSecret(wif.String(), P2WPKH, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

var testCfg = MachineConfig{MaxFeeRate: 100, BumpBlocks: 2, KeepDepth: 6, MaxChain: 3}

func newHarness(t *testing.T, coins ...int64) *harness {
	h := &harness{t: t, w: testWallet(t), height: 100, mined: map[chainhash.Hash]Mined{}, spent: map[wire.OutPoint]chainhash.Hash{}}
	h.m = NewMachine(testCfg, h.w, State{})
	for i, v := range coins {
		h.coins = append(h.coins, Coin{OutPoint: wire.OutPoint{Hash: chainhash.Hash{0xc0, byte(i)}, Index: 0}, Value: v})
	}
	return h
}

func tipHash(height int32) chainhash.Hash {
	return chainhash.Hash{0xb1, byte(height), byte(height >> 8)}
}

func testKS(n uint64) pop.L2Keystone {
	k := testKeystone(uint32(n))
	return pop.L2Keystone{Number: n * 25, ID: k.ID(), K: k}
}

// apply feeds one event and records its output; accepted says what the
// network answers to each send.
func (h *harness) apply(ev Input, verdict Verdict) Output {
	h.t.Helper()
	out := h.m.Step(ev)
	h.record(out, verdict)
	return out
}

func (h *harness) record(out Output, verdict Verdict) {
	h.t.Helper()
	h.notes = append(h.notes, out.Notes...)
	for _, tx := range out.Send {
		h.sent = append(h.sent, tx)
		if _, err := tx.MsgTx(); err != nil {
			h.t.Fatal(err)
		}
		o := h.m.Step(BroadcastEvent{Txid: tx.Txid, Verdict: verdict, Reason: "test"})
		h.notes = append(h.notes, o.Notes...)
	}
	if err := h.m.State().check(); err != nil {
		h.t.Fatal(err)
	}
}

// tip moves the chain to height, mining txs (the live ones named) in the
// new top block; the wallet's coins follow: spent inputs go, changes of
// mined transactions come.
func (h *harness) tip(height int32, fee int64, mine ...*Tx) Output {
	h.t.Helper()
	h.height = height
	for _, tx := range mine {
		h.mined[tx.Txid] = Mined{Height: height, BlockHash: tipHash(height)}
		for i, c := range h.coins {
			if c.OutPoint == tx.Input.OutPoint {
				h.coins = append(h.coins[:i], h.coins[i+1:]...)
				break
			}
		}
		h.coins = append(h.coins, tx.Change)
	}
	out := h.m.Step(TipEvent{Hash: tipHash(height), Height: height, Coins: h.coins, Mined: h.mined, Spent: h.spent, FeeRate: fee})
	h.record(out, VerdictAccepted)
	return out
}

func (h *harness) live() []*Tx { return h.m.State().Txs }

func kinds(notes []Note) string {
	var s []string
	for _, n := range notes {
		s = append(s, n.Kind.String())
	}
	return strings.Join(s, ",")
}

func TestMachine(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, h *harness)
	}{
		{"new keystone is published at the estimate", func(t *testing.T, h *harness) {
			h.tip(100, 5)
			out := h.apply(KeystoneEvent{testKS(1)}, VerdictAccepted)
			if len(out.Send) != 1 || kinds(out.Notes) != "published" {
				t.Fatalf("send %d, notes %s", len(out.Send), kinds(out.Notes))
			}
			tx := out.Send[0]
			if tx.Fee != 5*PoPVSize(P2WPKH) || tx.Input != h.coins[2] || tx.VSize > 202 || tx.Keystone.ID != testKS(1).ID {
				t.Fatalf("tx %+v", tx)
			}
		}},
		{"nothing before the first Bitcoin snapshot", func(t *testing.T, h *harness) {
			if out := h.apply(KeystoneEvent{testKS(1)}, VerdictAccepted); len(out.Send) != 0 {
				t.Fatal("published without knowing the wallet's coins")
			}
			if out := h.tip(100, 1); len(out.Send) != 1 {
				t.Fatal("not published at the first snapshot")
			}
		}},
		{"fee over the cap waits, then only the newest is published", func(t *testing.T, h *harness) {
			h.tip(100, 150)
			for n := uint64(1); n <= 3; n++ {
				if out := h.apply(KeystoneEvent{testKS(n)}, VerdictAccepted); len(out.Send) != 0 {
					t.Fatal("published above the cap")
				}
			}
			if got := kinds(h.notes); got != "waiting-fee,waiting-fee,waiting-fee" {
				t.Fatalf("notes %s", got)
			}
			h.apply(TickEvent{FeeRate: 140}, VerdictAccepted) // still above: no new note, no tx
			if len(h.notes) != 3 || len(h.sent) != 0 {
				t.Fatalf("notes %s sent %d", kinds(h.notes), len(h.sent))
			}
			out := h.tip(101, 20)
			if len(out.Send) != 1 || out.Send[0].Keystone.ID != testKS(3).ID {
				t.Fatalf("want one tx for the newest keystone, got %d", len(out.Send))
			}
		}},
		{"bump after BumpBlocks blocks replaces at a higher fee", func(t *testing.T, h *harness) {
			h.tip(100, 2)
			orig := h.apply(KeystoneEvent{testKS(1)}, VerdictAccepted).Send[0]
			if out := h.tip(101, 2); len(out.Send) != 0 {
				t.Fatal("bumped too early")
			}
			out := h.tip(102, 2)
			if len(out.Send) != 1 || kinds(out.Notes) != "bumped" {
				t.Fatalf("send %d notes %s", len(out.Send), kinds(out.Notes))
			}
			b := out.Send[0]
			if b.Input != orig.Input || b.FeeRate <= orig.FeeRate || b.Fee < orig.Fee+PoPVSize(P2WPKH) || b.Bumps != 1 {
				t.Fatalf("replacement %+v of %+v", b, orig)
			}
			if len(h.live()) != 1 || h.live()[0].Txid != b.Txid {
				t.Fatal("the replaced tx is still live")
			}
			// Mined: confirmed, the replaced one forgotten.
			out = h.tip(103, 2, b)
			if kinds(out.Notes) != "confirmed" || h.live()[0].Height != 103 || h.live()[0].Replaces != nil {
				t.Fatalf("notes %s", kinds(out.Notes))
			}
		}},
		{"bump of a chain replaces it with one tx for the newest keystone", func(t *testing.T, h *harness) {
			h.tip(100, 2)
			a := h.apply(KeystoneEvent{testKS(1)}, VerdictAccepted).Send[0]
			b := h.apply(KeystoneEvent{testKS(2)}, VerdictAccepted).Send[0]
			if b.Input != a.Change {
				t.Fatal("second tx does not chain on the first's change")
			}
			h.tip(101, 2)
			out := h.tip(102, 2)
			if len(out.Send) != 1 {
				t.Fatalf("send %d", len(out.Send))
			}
			r := out.Send[0]
			if r.Input != a.Input || r.Keystone.ID != testKS(2).ID || r.Fee < a.Fee+b.Fee+PoPVSize(P2WPKH) || len(r.Replaces) != 2 {
				t.Fatalf("replacement %+v", r)
			}
		}},
		{"bump with the cap not above the paid rate waits and never drains", func(t *testing.T, h *harness) {
			h.tip(100, 100)
			h.apply(KeystoneEvent{testKS(1)}, VerdictAccepted)
			h.tip(101, 100)
			out := h.tip(102, 120)
			if len(out.Send) != 0 || kinds(out.Notes) != "bump-capped" {
				t.Fatalf("send %d notes %s", len(out.Send), kinds(out.Notes))
			}
			if out := h.tip(103, 130); len(out.Notes) != 0 || len(out.Send) != 0 { // reported once
				t.Fatalf("notes %s", kinds(out.Notes))
			}
			var paid int64
			for _, tx := range h.live() {
				paid += tx.Fee
			}
			if paid > testCfg.MaxFeeRate*PoPVSize(P2WPKH) {
				t.Fatalf("fees %d above the cap", paid)
			}
		}},
		{"estimate above the cap bumps up to the cap, then waits", func(t *testing.T, h *harness) {
			h.tip(100, 50)
			orig := h.apply(KeystoneEvent{testKS(1)}, VerdictAccepted).Send[0]
			h.tip(101, 150)
			out := h.tip(102, 150)
			if len(out.Send) != 1 || kinds(out.Notes) != "bumped" {
				t.Fatalf("estimate 150 above the cap 100, paid 50: send %d notes %s, want a bump to the cap", len(out.Send), kinds(out.Notes))
			}
			b := out.Send[0]
			if b.FeeRate != testCfg.MaxFeeRate || b.Fee != testCfg.MaxFeeRate*PoPVSize(P2WPKH) || b.Input != orig.Input {
				t.Fatalf("bump %+v, want %d sat/vB on the same input", b, testCfg.MaxFeeRate)
			}
			// At the cap: the next bump cannot pay more, reported once.
			h.tip(103, 150)
			out = h.tip(104, 150)
			if len(out.Send) != 0 || kinds(out.Notes) != "bump-capped" {
				t.Fatalf("second bump: send %d notes %s", len(out.Send), kinds(out.Notes))
			}
			var paid int64
			for _, tx := range h.live() {
				paid += tx.Fee
			}
			if paid > testCfg.MaxFeeRate*PoPVSize(P2WPKH) {
				t.Fatalf("fees %d above the cap", paid)
			}
		}},
		{"reorg removing the publication republishes it", func(t *testing.T, h *harness) {
			h.tip(100, 2)
			a := h.apply(KeystoneEvent{testKS(1)}, VerdictAccepted).Send[0]
			h.tip(101, 2, a)
			// Reorg: block 101 replaced by another without a.
			delete(h.mined, a.Txid)
			h.coins = h.coins[:len(h.coins)-1]
			out := h.tip(101, 2)
			if len(out.Send) != 1 || out.Send[0].Txid != a.Txid || kinds(out.Notes) != "republished" {
				t.Fatalf("send %d notes %s", len(out.Send), kinds(out.Notes))
			}
			if h.live()[0].Height != 0 || h.live()[0].SentHeight != 101 {
				t.Fatal("not back to unconfirmed")
			}
			out = h.tip(102, 2, a)
			if kinds(out.Notes) != "confirmed" {
				t.Fatalf("notes %s", kinds(out.Notes))
			}
		}},
		{"chained change never double-spends; the chain is bounded", func(t *testing.T, h *harness) {
			h.tip(100, 3)
			var txs []*Tx
			for n := uint64(1); n <= 5; n++ {
				txs = append(txs, h.apply(KeystoneEvent{testKS(n)}, VerdictAccepted).Send[0])
			}
			if txs[0].Input != h.coins[2] || txs[1].Input != txs[0].Change || txs[2].Input != txs[1].Change {
				t.Fatal("not chained")
			}
			if txs[3].Input == txs[2].Change {
				t.Fatal("chain longer than MaxChain")
			}
			if txs[3].Input != h.coins[1] || txs[4].Input != txs[3].Change { // the smallest unspent coin
				t.Fatalf("4th tx spends %s", txs[3].Input.OutPoint)
			}
			// The first confirms: its change (in the snapshot now) stays
			// reserved for the second.
			h.tip(101, 3, txs[0])
			out := h.apply(KeystoneEvent{testKS(6)}, VerdictAccepted)
			if len(out.Send) != 1 || out.Send[0].Input == txs[0].Change {
				t.Fatal("double spend of a confirmed change that an unconfirmed tx spends")
			}
		}},
		{"empty wallet: a clear error naming the address, once", func(t *testing.T, h *harness) {
			h.coins = nil
			h.tip(100, 2)
			h.apply(KeystoneEvent{testKS(1)}, VerdictAccepted)
			h.tip(101, 2)
			if len(h.notes) != 1 || h.notes[0].Kind != NoteNoFunds {
				t.Fatalf("notes %s", kinds(h.notes))
			}
			err := h.notes[0].Err
			if !errors.Is(err, ErrWalletEmpty) || !strings.Contains(err.Error(), h.w.Address().EncodeAddress()) {
				t.Fatalf("err %v", err)
			}
			h.coins = []Coin{{OutPoint: wire.OutPoint{Hash: chainhash.Hash{9}}, Value: 50_000}}
			if out := h.tip(102, 2); len(out.Send) != 1 {
				t.Fatal("not published once funded")
			}
		}},
		{"dust coin is not enough", func(t *testing.T, h *harness) {
			h.coins = []Coin{{OutPoint: wire.OutPoint{Hash: chainhash.Hash{9}}, Value: 500}}
			h.tip(100, 2)
			if out := h.apply(KeystoneEvent{testKS(1)}, VerdictAccepted); len(out.Send) != 0 || kinds(out.Notes) != "no-funds" {
				t.Fatalf("notes %s", kinds(out.Notes))
			}
		}},
		{"refused tx is dropped and its keystone published from another coin", func(t *testing.T, h *harness) {
			h.tip(100, 2)
			out := h.m.Step(KeystoneEvent{testKS(1)})
			a := out.Send[0]
			h.record(out, VerdictRejected)
			if len(h.live()) != 0 || kinds(h.notes) != "published,refused" {
				t.Fatalf("notes %s", kinds(h.notes))
			}
			out = h.apply(TickEvent{FeeRate: 2}, VerdictAccepted)
			if len(out.Send) != 1 || out.Send[0].Input == a.Input {
				t.Fatal("republished on the refused input")
			}
		}},
		{"refused bump restores the old chain", func(t *testing.T, h *harness) {
			h.tip(100, 2)
			a := h.apply(KeystoneEvent{testKS(1)}, VerdictAccepted).Send[0]
			h.tip(101, 2)
			out := h.m.Step(TipEvent{Hash: tipHash(102), Height: 102, Coins: h.coins, Mined: h.mined, FeeRate: 2})
			h.record(out, VerdictRejected)
			if len(h.live()) != 1 || h.live()[0].Txid != a.Txid || !strings.Contains(kinds(h.notes), "bump-refused") {
				t.Fatalf("live %d notes %s", len(h.live()), kinds(h.notes))
			}
			if out := h.tip(103, 2); len(out.Send) != 1 || out.Send[0].Txid != a.Txid {
				t.Fatal("retried the bump before another BumpBlocks, or did not resend the restored tx")
			}
		}},
		{"replaced tx mined anyway wins over its replacement", func(t *testing.T, h *harness) {
			h.tip(100, 2)
			a := h.apply(KeystoneEvent{testKS(1)}, VerdictAccepted).Send[0]
			h.tip(101, 2)
			r := h.tip(102, 2).Send[0]
			h.tip(103, 2, a)
			if len(h.live()) != 1 || h.live()[0].Txid != a.Txid || h.live()[0].Height != 103 {
				t.Fatalf("live %+v", h.live())
			}
			_ = r
		}},
		{"replaced tx mined anyway drops what was built on the replacement", func(t *testing.T, h *harness) {
			h.tip(100, 2)
			a := h.apply(KeystoneEvent{testKS(1)}, VerdictAccepted).Send[0]
			h.tip(101, 2)
			r := h.tip(102, 2).Send[0]
			u := h.apply(KeystoneEvent{testKS(2)}, VerdictAccepted).Send[0]
			if u.Input != r.Change {
				t.Fatalf("setup: u spends %s, not r's change", u.Input.OutPoint)
			}
			// a is mined: r never can be, nor u, which spends r's change.
			h.tip(103, 2, a)
			var ks2 *Tx
			for _, tx := range h.live() {
				if tx.Input.OutPoint.Hash == r.Txid {
					t.Fatalf("live tx %s spends the change of the evicted replacement %s", tx.Txid, r.Txid)
				}
				if tx.Keystone.ID == testKS(2).ID {
					ks2 = tx
				}
			}
			if ks2 == nil {
				t.Fatal("the newest keystone is no longer carried by any transaction")
			}
		}},
		{"input double-spent in the chain: dropped with its chain, newest republished", func(t *testing.T, h *harness) {
			h.tip(100, 2)
			a := h.apply(KeystoneEvent{testKS(1)}, VerdictAccepted).Send[0]
			b := h.apply(KeystoneEvent{testKS(2)}, VerdictAccepted).Send[0]
			// Someone else's transaction spent a's input and was mined.
			h.spent[a.Input.OutPoint] = chainhash.Hash{0xee}
			for i, c := range h.coins {
				if c == a.Input {
					h.coins = append(h.coins[:i], h.coins[i+1:]...)
					break
				}
			}
			out := h.tip(101, 2)
			if kinds(out.Notes) != "conflicted,published" || len(out.Send) != 1 {
				t.Fatalf("notes %s send %d", kinds(out.Notes), len(out.Send))
			}
			n := out.Send[0]
			if n.Keystone.ID != testKS(2).ID || n.Input == a.Input || n.Input == a.Change || len(h.live()) != 1 {
				t.Fatalf("republished %+v (b was %s)", n, b.Txid)
			}
		}},
		{"crash and restart resumes: resends, never re-publishes", func(t *testing.T, h *harness) {
			h.tip(100, 2)
			a := h.apply(KeystoneEvent{testKS(1)}, VerdictAccepted).Send[0]
			raw, err := json.Marshal(h.m.State())
			if err != nil {
				t.Fatal(err)
			}
			var s State
			if err := json.Unmarshal(raw, &s); err != nil {
				t.Fatal(err)
			}
			h.m = NewMachine(testCfg, h.w, s)
			out := h.m.Restart()
			if len(out.Send) != 1 || out.Send[0].Txid != a.Txid {
				t.Fatal("restart did not resend the unconfirmed tx")
			}
			h.record(out, VerdictAccepted)
			if out := h.apply(KeystoneEvent{testKS(1)}, VerdictAccepted); len(out.Send) != 0 {
				t.Fatal("keystone published twice after restart")
			}
			if out := h.tip(101, 2, a); kinds(out.Notes) != "confirmed" {
				t.Fatalf("notes %s", kinds(out.Notes))
			}
		}},
		{"buried transactions are forgotten", func(t *testing.T, h *harness) {
			h.tip(100, 2)
			a := h.apply(KeystoneEvent{testKS(1)}, VerdictAccepted).Send[0]
			h.tip(101, 2, a)
			for ht := int32(102); ht <= 106; ht++ {
				h.tip(ht, 2)
			}
			if len(h.live()) != 0 {
				t.Fatal("still watching a tx 6 deep")
			}
			if out := h.tip(107, 2); len(out.Send) != 0 {
				t.Fatal("re-published a buried keystone")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newHarness(t, 100_000, 80_000, 60_000))
		})
	}
}
