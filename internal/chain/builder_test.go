package chain

import (
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/hemi-go/hemi/internal/btc/indextest"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/derive"
	"github.com/hemi-go/hemi/internal/clock"
	"github.com/hemi-go/hemi/internal/node/indexadapt"
)

// TestBuilderIncrementsMatchBuildBlock: a block built by a Builder fed
// the candidates in several Adds is the block BuildBlock builds from all
// of them at once (same roots, body and skipped list), it commits, and
// a full block skips what comes after.
func TestBuilderIncrementsMatchBuildBlock(t *testing.T) {
	h, f := newFedHarness(t)
	v := viewAt(t, h.btc, f.Blocks[2])
	to := addr(userKeys[1])
	poor := mustKey("poor")
	all := []*types.Transaction{
		h.transfer(userKeys[0], 0, to, 1),
		h.transfer(userKeys[2], 0, to, 2),
		h.transfer(userKeys[0], 0, to, 3), // nonce too low by now
		h.transfer(poor, 0, to, 1),        // no funds
		h.transfer(userKeys[0], 1, to, 4),
		h.transfer(userKeys[0], 3, to, 5), // nonce gap
		h.transfer(userKeys[2], 1, to, 6),
	}
	head := h.chain.Head()
	params0 := BuildParams{Parent: head, Time: head.Time + 2, View: v, Coinbase: addr(seqKey)}
	for _, tc := range []struct {
		name  string
		first int   // candidates given to NewBuilder
		cuts  []int // then Add(all[prev:cut]) for each cut
	}{
		{"all in NewBuilder", len(all), nil},
		{"one Add", 0, []int{len(all)}},
		{"one at a time", 0, []int{1, 2, 3, 4, 5, 6, 7}},
		{"uneven, with empty Adds", 2, []int{2, 5, 5, 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := params0
			p.Txs = all
			want, err := h.chain.BuildBlock(p)
			if err != nil {
				t.Fatal(err)
			}
			p.Txs = all[:tc.first]
			b, err := h.chain.NewBuilder(p)
			if err != nil {
				t.Fatal(err)
			}
			prev := tc.first
			for _, cut := range tc.cuts {
				b.Add(all[prev:cut])
				prev = cut
			}
			if n := b.Nonce(addr(userKeys[0])); n != 2 {
				t.Fatalf("builder nonce of sender 0: %d, want 2", n)
			}
			got, err := b.Finish()
			if err != nil {
				t.Fatal(err)
			}
			if got.Block.Header.Hash() != want.Block.Header.Hash() || len(got.Block.Body.Txs) != 4 {
				t.Fatalf("header %+v\nwant %+v", got.Block.Header, want.Block.Header)
			}
			if len(got.Skipped) != len(want.Skipped) {
				t.Fatalf("skipped %d, want %d", len(got.Skipped), len(want.Skipped))
			}
			for i := range got.Skipped {
				if got.Skipped[i].Tx != want.Skipped[i].Tx {
					t.Fatalf("skipped %d differs", i)
				}
			}
			if _, err := b.Finish(); err == nil {
				t.Fatal("finished twice")
			}
			b.Discard() // no effect after Finish
		})
	}
	// A block with room for the system txs and a few transfers skips
	// the rest, in later Adds too.
	p := params0
	probe, err := h.chain.BuildBlock(p)
	if err != nil {
		t.Fatal(err)
	}
	sysUsed, sysGas := probe.Block.Header.GasUsed, uint64(0)
	for _, stx := range probe.Block.Body.SystemTxs {
		sysGas += stx.Gas
	}
	p.GasLimit = max(sysGas, sysUsed+params.TxGas)
	fit := int((p.GasLimit - sysUsed) / params.TxGas)
	var many []*types.Transaction
	for n := range fit + 3 {
		many = append(many, h.transfer(userKeys[0], uint64(n), to, 1))
	}
	b, err := h.chain.NewBuilder(p)
	if err != nil {
		t.Fatal(err)
	}
	if sk := b.Add(many[:fit+1]); len(sk) != 1 || !errors.Is(sk[0].Err, core.ErrGasLimitReached) || !b.Full() {
		t.Fatalf("full block: skipped %v, full %v", sk, b.Full())
	}
	if sk := b.Add(many[fit+1:]); len(sk) != 2 || !errors.Is(sk[0].Err, core.ErrGasLimitReached) {
		t.Fatalf("after full: skipped %v", sk)
	}
	got, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if b.Len() != fit || got.Block.Header.GasUsed != sysUsed+uint64(fit)*params.TxGas || len(got.Skipped) != 3 {
		t.Fatalf("full block: %d txs (want %d), gas %d, skipped %d", b.Len(), fit, got.Block.Header.GasUsed, len(got.Skipped))
	}
	// A discarded builder leaves the chain as it was; a finished one
	// commits.
	d, err := h.chain.NewBuilder(params0)
	if err != nil {
		t.Fatal(err)
	}
	d.Discard()
	if _, err := d.Finish(); err == nil {
		t.Fatal("finished a discarded builder")
	}
	inc, err := h.chain.NewBuilder(params0)
	if err != nil {
		t.Fatal(err)
	}
	inc.Add(all[:3])
	inc.Add(all[3:])
	built, err := inc.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if err := block.Seal(built.Block.Header, seqKey); err != nil {
		t.Fatal(err)
	}
	if err := h.chain.CommitBuilt(built); err != nil {
		t.Fatal(err)
	}
	if n := h.chain.Head().Number.Uint64(); n != 1 {
		t.Fatalf("head %d after committing the built block", n)
	}
}

// tipDrop is the index with its tip height lowered by drop: the Bitcoin
// tip fell back, as a reorg onto a shorter branch with more work makes
// it (a regtest fixture has one difficulty, so it cannot make one).
type tipDrop struct {
	*indexadapt.Chain
	drop atomic.Int32
}

func (d *tipDrop) TipHeight() int32 { return d.Chain.TipHeight() - d.drop.Load() }

// TestCommitBuiltRechecksView: a block is built with its view exactly
// ViewLag below the Bitcoin tip, and before it is committed the tip
// falls back one block. CommitBuilt re-applies the view rules and refuses
// it (ErrViewNotReady, as InsertBlock would), storing nothing; once the
// tip is back, the same block commits.
func TestCommitBuiltRechecksView(t *testing.T) {
	f := newBTCFixture(t, 12)
	ix := indextest.Open(t, regtest, t.TempDir())
	defer ix.Close()
	indextest.Feed(t, ix, f.Blocks)
	btc := &tipDrop{Chain: indexadapt.NewChain(ix)}
	spec := testGenesis(t, viewAt(t, btc, f.Blocks[1]))
	cfg, err := ConfigFromSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Derivers = derive.Default(&spec.Config.PoP, spec.Config.KeystoneInterval)
	cfg.NoSync, cfg.Bitcoin, cfg.Logger = true, btc, slog.New(slog.DiscardHandler)
	cfg.Clock = clock.Fixed{T: time.Unix(int64(spec.Timestamp)+1_000_000, 0)}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lag := int(c.Rules().ViewLag)
	v := viewAt(t, btc, f.Blocks[len(f.Blocks)-1-lag]) // height 12 - lag
	head := c.Head()
	built, err := c.BuildBlock(BuildParams{Parent: head, Time: head.Time + 2, View: v, Coinbase: addr(seqKey)})
	if err != nil {
		t.Fatal(err)
	}
	if err := block.Seal(built.Block.Header, seqKey); err != nil {
		t.Fatal(err)
	}
	btc.drop.Store(1)
	wantErr(t, c.CommitBuilt(built), ErrViewNotReady)
	if n := c.Head().Number.Uint64(); n != 0 {
		t.Fatalf("head %d after a refused commit", n)
	}
	btc.drop.Store(0)
	if err := c.CommitBuilt(built); err != nil {
		t.Fatalf("commit once the tip is back: %v", err)
	}
	if c.Head().Hash() != built.Block.Hash() {
		t.Fatal("the built block is not the head")
	}
}
