package index

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/pop"
)

// forkScenario is a chain with two forks from block 2:
//
//	genesis - 1 - 2 - a3 - a4 - a5          (A: payA in a3, spends cb1 in a4)
//	               \- b3 - b4 - b5 - b6     (B: payB in b4, PoP in b5)
type forkScenario struct {
	g          *gen
	common     []*wire.MsgBlock
	a, b       []*wire.MsgBlock
	txA, txA4  *wire.MsgTx // txA pays payA in a3; txA4 spends cb1:0 in a4
	txB, popTx *wire.MsgTx
	ks         pop.Keystone
	cb1        wire.OutPoint
}

var (
	payA = script(100)
	payB = script(200)
	payM = script(1) // coinbases
)

func newForkScenario(t *testing.T) *forkScenario {
	t.Helper()
	s := &forkScenario{g: newGen(regtest)}
	g := s.g
	s.common = g.chain(t, *regtest.GenesisHash, 2, payM)
	s.cb1 = wire.OutPoint{Hash: s.common[0].Transactions[0].TxHash()}
	top := s.common[1].BlockHash()

	s.txA = spend([]wire.OutPoint{{Hash: chainhash.Hash{0xaa}}}, &wire.TxOut{Value: 7e8, PkScript: payA})
	a3 := g.block(t, top, payM, s.txA)
	s.txA4 = spend([]wire.OutPoint{s.cb1}, &wire.TxOut{Value: 49e8, PkScript: payA})
	a4 := g.block(t, a3.BlockHash(), payM, s.txA4)
	a5 := g.block(t, a4.BlockHash(), payM)
	s.a = []*wire.MsgBlock{a3, a4, a5}

	b3 := g.block(t, top, payM)
	s.txB = spend([]wire.OutPoint{{Hash: chainhash.Hash{0xbb}}}, &wire.TxOut{Value: 3e8, PkScript: payB})
	b4 := g.block(t, b3.BlockHash(), payM, s.txB)
	s.ks = pop.Keystone{Version: 1, BTCViewHeight: 4, L2Number: 25, StateRoot: [32]byte{1, 2, 3}}
	s.popTx = spend([]wire.OutPoint{{Hash: chainhash.Hash{0xcc}}}, &wire.TxOut{PkScript: s.ks.Script()},
		&wire.TxOut{Value: 1e5, PkScript: payB})
	b5 := g.block(t, b4.BlockHash(), payM, s.popTx)
	b6 := g.block(t, b5.BlockHash(), payM)
	s.b = []*wire.MsgBlock{b3, b4, b5, b6}
	return s
}

func hashOf(b *wire.MsgBlock) chainhash.Hash { return b.BlockHash() }

func collect(t *testing.T, ch <-chan Event, n int) []Event {
	t.Helper()
	var out []Event
	for len(out) < n {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("event channel closed after %d events", len(out))
			}
			out = append(out, e)
		case <-time.After(10 * time.Second):
			t.Fatalf("got %d events, want %d", len(out), n)
		}
	}
	return out
}

func TestReorgUnwindRewind(t *testing.T) {
	s := newForkScenario(t)
	ix := openTest(t, t.TempDir(), regtest)
	defer ix.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := ix.Subscribe(ctx, 0)

	feed(t, ix, append(append([]*wire.MsgBlock{}, s.common...), s.a...))
	a5 := hashOf(s.a[2])
	mustTip(t, ix, a5, 5)
	collect(t, events, 5)

	// B's headers arrive first; its blocks trickle in. Until B has more
	// work than A (b6), the tip stays on A.
	if _, changed, err := ix.AcceptHeaders(headers(s.b)); err != nil || !changed {
		t.Fatalf("B headers: changed %v err %v", changed, err)
	}
	for _, b := range s.b[:3] {
		if err := ix.AcceptBlock(b); err != nil {
			t.Fatal(err)
		}
	}
	mustTip(t, ix, a5, 5)
	if err := ix.AcceptBlock(s.b[3]); err != nil {
		t.Fatal(err)
	}
	b6 := hashOf(s.b[3])
	mustTip(t, ix, b6, 6)

	got := collect(t, events, 7)
	want := []struct {
		kind EventKind
		blk  *wire.MsgBlock
	}{
		{EventDisconnected, s.a[2]}, {EventDisconnected, s.a[1]}, {EventDisconnected, s.a[0]},
		{EventConnected, s.b[0]}, {EventConnected, s.b[1]}, {EventConnected, s.b[2]}, {EventConnected, s.b[3]},
	}
	for i, w := range want {
		if got[i].Kind != w.kind || got[i].Hash != w.blk.BlockHash() || got[i].Seq != uint64(5+i) {
			t.Fatalf("event %d: %+v, want %v %s", i, got[i], w.kind, w.blk.BlockHash())
		}
	}

	zero := chainhash.Hash{}
	checks := []struct {
		name string
		asOf chainhash.Hash
		run  func(asOf chainhash.Hash) error
	}{
		{"txA gone from the tip", zero, func(asOf chainhash.Hash) error {
			if _, err := ix.TxByID(s.txA.TxHash(), asOf); !errors.Is(err, ErrNotFound) {
				return errorf("TxByID: %v", err)
			}
			return nil
		}},
		{"txA as of losing fork", a5, func(asOf chainhash.Hash) error {
			info, err := ix.TxByID(s.txA.TxHash(), asOf)
			if err != nil || info.Height != 3 || info.Confirmations != 3 || info.BlockHash != hashOf(s.a[0]) {
				return errorf("TxByID: %+v %v", info, err)
			}
			return nil
		}},
		{"txB at tip", zero, func(asOf chainhash.Hash) error {
			info, err := ix.TxByID(s.txB.TxHash(), asOf)
			if err != nil || info.Height != 4 || info.Confirmations != 3 {
				return errorf("TxByID: %+v %v", info, err)
			}
			return nil
		}},
		{"txB not on losing fork", a5, func(asOf chainhash.Hash) error {
			if _, err := ix.TxByID(s.txB.TxHash(), asOf); !errors.Is(err, ErrNotFound) {
				return errorf("TxByID: %v", err)
			}
			return nil
		}},
		{"balances at tip", zero, func(asOf chainhash.Hash) error {
			a, _ := ix.Balance(payA, asOf)
			b, err := ix.Balance(payB, asOf)
			if a != 0 || b != 3e8+1e5 || err != nil {
				return errorf("balances A %d B %d err %v", a, b, err)
			}
			return nil
		}},
		{"balances as of losing fork", a5, func(asOf chainhash.Hash) error {
			a, _ := ix.Balance(payA, asOf)
			b, err := ix.Balance(payB, asOf)
			if a != 7e8+49e8 || b != 0 || err != nil {
				return errorf("balances A %d B %d err %v", a, b, err)
			}
			return nil
		}},
		{"coinbase 1 spent only on A", a5, func(asOf chainhash.Hash) error {
			sp, err := ix.SpendOf(s.cb1, asOf)
			if err != nil || sp.Txid != s.txA4.TxHash() || sp.BlockHash != hashOf(s.a[1]) {
				return errorf("SpendOf on A: %+v %v", sp, err)
			}
			if _, err := ix.SpendOf(s.cb1, zero); !errors.Is(err, ErrNotFound) {
				return errorf("SpendOf at tip: %v", err)
			}
			us, err := ix.UTXOs(payM, 0, 100, zero)
			if err != nil || len(us) != 6 || us[0].Outpoint != s.cb1 {
				return errorf("UTXOs of coinbases at tip: %d %v", len(us), err)
			}
			return nil
		}},
		{"outputs history with spends", a5, func(asOf chainhash.Hash) error {
			outs, err := ix.Outputs(payM, 0, 0, asOf)
			if err != nil || len(outs) != 5 || !outs[0].Spent || outs[0].Spend.Txid != s.txA4.TxHash() || outs[1].Spent {
				return errorf("Outputs on A: %+v %v", outs, err)
			}
			outs, err = ix.Outputs(payM, 4, 1, asOf)
			if err != nil || len(outs) != 1 || outs[0].Height != 4 {
				return errorf("Outputs from 4: %+v %v", outs, err)
			}
			return nil
		}},
		{"headers by height per fork", a5, func(asOf chainhash.Hash) error {
			h, err := ix.HeaderByHeight(4, asOf)
			if err != nil || h.Hash != hashOf(s.a[1]) || h.MainChain {
				return errorf("HeaderByHeight(4, a5): %+v %v", h, err)
			}
			h, err = ix.HeaderByHeight(4, zero)
			if err != nil || h.Hash != hashOf(s.b[1]) || !h.MainChain {
				return errorf("HeaderByHeight(4, tip): %+v %v", h, err)
			}
			if _, err := ix.HeaderByHash(hashOf(s.b[1]), a5); !errors.Is(err, ErrNotFound) {
				return errorf("HeaderByHash(b4, a5): %v", err)
			}
			return nil
		}},
		{"publication only on B", zero, func(asOf chainhash.Hash) error {
			id := s.ks.ID()
			ps, err := ix.Publications(id, asOf)
			if err != nil || len(ps) != 1 || ps[0].Txid != s.popTx.TxHash() || ps[0].Height != 5 || ps[0].Confirmations != 2 || ps[0].Vout != 0 {
				return errorf("Publications at tip: %+v %v", ps, err)
			}
			ps, err = ix.Publications(id, a5)
			if err != nil || len(ps) != 0 {
				return errorf("Publications on A: %+v %v", ps, err)
			}
			return nil
		}},
	}
	for _, c := range checks {
		t.Run("unwound/"+c.name, func(t *testing.T) {
			if err := c.run(c.asOf); err != nil {
				t.Fatal(err)
			}
		})
	}

	// Rewind: A grows past B; everything flips back and B stays queryable.
	a6 := s.g.block(t, a5, payM)
	a7 := s.g.block(t, a6.BlockHash(), payM)
	feed(t, ix, []*wire.MsgBlock{a6, a7})
	mustTip(t, ix, a7.BlockHash(), 7)
	got = collect(t, events, 4+5)
	for i := range 4 {
		if got[i].Kind != EventDisconnected || got[i].Hash != hashOf(s.b[3-i]) {
			t.Fatalf("rewind event %d: %+v", i, got[i])
		}
	}
	for i, b := range []*wire.MsgBlock{s.a[0], s.a[1], s.a[2], a6, a7} {
		if e := got[4+i]; e.Kind != EventConnected || e.Hash != b.BlockHash() || e.Height != int32(3+i) {
			t.Fatalf("rewind event %d: %+v", 4+i, e)
		}
	}
	if info, err := ix.TxByID(s.txA.TxHash(), zero); err != nil || info.Confirmations != 5 {
		t.Fatalf("txA after rewind: %+v %v", info, err)
	}
	if info, err := ix.TxByID(s.txB.TxHash(), b6); err != nil || info.Confirmations != 3 {
		t.Fatalf("txB as of b6 after rewind: %+v %v", info, err)
	}
	if _, err := ix.SpendOf(s.cb1, zero); err != nil {
		t.Fatalf("cb1 spend after rewind: %v", err)
	}

	// A consumer that applied the chain up to b6 resumes after it and sees
	// b6's disconnection first.
	seq, err := ix.SeqAfter(b6)
	if err != nil || seq != 12 {
		t.Fatalf("SeqAfter(b6) = %d %v", seq, err)
	}
	if evs, err := ix.readEvents(seq, seq+1, 1); err != nil || evs[0].Kind != EventDisconnected || evs[0].Hash != b6 {
		t.Fatalf("event after b6: %+v %v", evs, err)
	}
	if seq, err := ix.SeqAfter(a7.BlockHash()); err != nil || seq != 21 {
		t.Fatalf("SeqAfter(a7) = %d %v", seq, err)
	}
	if _, err := ix.SeqAfter(chainhash.Hash{7}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SeqAfter(unknown): %v", err)
	}
	if seq, err := ix.SeqAfter(*regtest.GenesisHash); err != nil || seq != 0 {
		t.Fatalf("SeqAfter(genesis) = %d %v", seq, err)
	}

	// The side fork survives a restart.
	ix.Close()
	dir := ix.cfg.Dir
	ix2 := openTest(t, dir, regtest)
	defer ix2.Close()
	mustTip(t, ix2, a7.BlockHash(), 7)
	if b, err := ix2.Balance(payB, b6); err != nil || b != 3e8+1e5 {
		t.Fatalf("balance as of b6 after restart: %d %v", b, err)
	}
	evs, err := ix2.readEvents(0, ix2.NextEventSeq(), 100)
	if err != nil || len(evs) != 21 {
		t.Fatalf("stored events after restart: %d %v", len(evs), err)
	}
}

func TestAsOfErrors(t *testing.T) {
	s := newForkScenario(t)
	ix := openTest(t, t.TempDir(), regtest)
	defer ix.Close()
	feed(t, ix, append(append([]*wire.MsgBlock{}, s.common...), s.a...))
	// B's headers are known but its blocks were never connected.
	if _, _, err := ix.AcceptHeaders(headers(s.b[:2])); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		asOf chainhash.Hash
		want error
	}{
		{"unknown block", chainhash.Hash{9}, ErrUnknownBlock},
		{"header-only side block", hashOf(s.b[1]), ErrNotIndexed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ix.Balance(payA, tc.asOf); !errors.Is(err, tc.want) {
				t.Fatalf("Balance: %v", err)
			}
			if _, err := ix.TxByID(s.txA.TxHash(), tc.asOf); !errors.Is(err, tc.want) {
				t.Fatalf("TxByID: %v", err)
			}
			if _, err := ix.HeaderByHeight(1, tc.asOf); !errors.Is(err, tc.want) {
				t.Fatalf("HeaderByHeight: %v", err)
			}
		})
	}
}

// TestIndexFork: a node that only ever followed B can index A's stored
// blocks on request and then answer as of A.
func TestIndexFork(t *testing.T) {
	s := newForkScenario(t)
	ix := openTest(t, t.TempDir(), regtest)
	defer ix.Close()
	feed(t, ix, append(append([]*wire.MsgBlock{}, s.common...), s.b...))
	a5 := hashOf(s.a[2])
	if _, _, err := ix.AcceptHeaders(headers(s.a)); err != nil {
		t.Fatal(err)
	}
	if err := ix.IndexFork(a5); !errors.Is(err, ErrNotFound) {
		t.Fatalf("IndexFork without blocks: %v", err)
	}
	if _, err := ix.Balance(payA, a5); !errors.Is(err, ErrNotIndexed) {
		t.Fatalf("Balance before IndexFork: %v", err)
	}
	for _, b := range s.a {
		if err := ix.AcceptBlock(b); err != nil {
			t.Fatal(err)
		}
	}
	mustTip(t, ix, hashOf(s.b[3]), 6) // less work: not connected
	if err := ix.IndexFork(a5); err != nil {
		t.Fatal(err)
	}
	if got, err := ix.Balance(payA, a5); err != nil || got != 7e8+49e8 {
		t.Fatalf("Balance as of a5: %d %v", got, err)
	}
	if _, err := ix.TxByID(s.txA.TxHash(), chainhash.Hash{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("fork tx visible at tip: %v", err)
	}
	if err := ix.IndexFork(a5); err != nil {
		t.Fatalf("IndexFork twice: %v", err)
	}
}
