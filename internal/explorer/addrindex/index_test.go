package addrindex

import (
	"fmt"
	"log/slog"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/pebblelog"
)

func openIndex(t testing.TB, dir string, c Chain) *Index {
	t.Helper()
	ix, err := New(Config{Dir: dir, Chain: c, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// want is one expected entry: block, position among the user
// transactions, flags.
type want struct {
	block *chain.Block
	tx    int
	flags byte
}

func checkPage(t *testing.T, name string, p Page, more bool, ws ...want) {
	t.Helper()
	if p.More != more {
		t.Errorf("%s: More %v, want %v", name, p.More, more)
	}
	if len(p.Entries) != len(ws) {
		t.Fatalf("%s: %d entries %+v, want %d", name, len(p.Entries), p.Entries, len(ws))
	}
	for i, w := range ws {
		e := p.Entries[i]
		idx := uint32(len(w.block.Body.SystemTxs) + w.tx)
		if e.Number != w.block.NumberU64() || e.BlockHash != w.block.Hash() || e.Index != idx || e.Flags != w.flags {
			t.Errorf("%s: entry %d is %d/%d flags %b in %s, want %d/%d flags %b in %s", name, i,
				e.Number, e.Index, e.Flags, e.BlockHash, w.block.NumberU64(), idx, w.flags, w.block.Hash())
		}
		if tx := w.block.Body.Txs[w.tx]; e.Time != w.block.Header.Time || e.Tx.Hash != tx.Hash() || e.Tx.System {
			t.Errorf("%s: entry %d has time %d, tx %s (system %v), want %d, %s", name, i, e.Time, e.Tx.Hash, e.Tx.System, w.block.Header.Time, tx.Hash())
		}
	}
}

// checkRecords checks the index's record of every transaction of b
// (system ones included) against the block and its receipts.
func checkRecords(t *testing.T, ix *Index, c *chain.Chain, b *chain.Block) {
	t.Helper()
	rs, err := c.Receipts(b.Hash())
	if err != nil {
		t.Fatal(err)
	}
	signer := types.LatestSigner(c.Config().ChainConfig)
	nsys := len(b.Body.SystemTxs)
	for i, h := range b.Body.TxHashes() {
		v, err := ix.get(txKey(b.NumberU64(), uint32(i)))
		if err != nil || v == nil {
			t.Fatalf("block %d tx %d: no record (%v)", b.NumberU64(), i, err)
		}
		got, err := decodeTxRecord(v)
		if err != nil {
			t.Fatal(err)
		}
		want := TxInfo{Hash: h, Success: rs[i].Status == types.ReceiptStatusSuccessful}
		if i < nsys {
			stx := b.Body.SystemTxs[i]
			want.System, want.From, want.To, want.Value = true, stx.From, stx.To, stx.Value
		} else {
			tx := b.Body.Txs[i-nsys]
			want.From, _ = types.Sender(signer, tx)
			want.To, want.Value = tx.To(), tx.Value()
		}
		if want.Value == nil {
			want.Value = new(big.Int)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("block %d tx %d: record %v, want %v", b.NumberU64(), i, got, want)
		}
	}
}

// TestHistory: transfers, a contract creation and a token transfer land
// in each party's history with their flags, paged as Otterscan pages.
func TestHistory(t *testing.T) {
	e := newEnv(t)
	ix := openIndex(t, "", e.chain)
	defer ix.Close()
	defer run(t, ix)()

	a0, a1, a2, a3 := e.addr(0), e.addr(1), e.addr(2), e.addr(3)
	tok, deploy := e.create(0, 1, transferLogger)
	b1 := e.mine(e.transfer(0, 0, a1), deploy)
	b2 := e.mine(e.call(2, 0, tok, common.LeftPadBytes(a3[:], 32)))
	var bs []*chain.Block
	for n := uint64(2); n < 7; n++ {
		bs = append(bs, e.mine(e.transfer(0, n, a1)))
	}
	waitHead(t, ix, e.chain)

	p, err := ix.Before(a1, 0, 25, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkPage(t, "a1 all", p, false, want{bs[4], 0, FlagTo}, want{bs[3], 0, FlagTo}, want{bs[2], 0, FlagTo},
		want{bs[1], 0, FlagTo}, want{bs[0], 0, FlagTo}, want{b1, 0, FlagTo})
	p, _ = ix.Before(a1, 0, 2, 0)
	checkPage(t, "a1 first page", p, true, want{bs[4], 0, FlagTo}, want{bs[3], 0, FlagTo})
	p, _ = ix.Before(a1, bs[3].NumberU64(), 2, 0)
	checkPage(t, "a1 second page", p, true, want{bs[2], 0, FlagTo}, want{bs[1], 0, FlagTo})
	p, _ = ix.After(a1, 0, 2, 0)
	checkPage(t, "a1 oldest page", p, true, want{bs[0], 0, FlagTo}, want{b1, 0, FlagTo})
	p, _ = ix.After(a1, bs[3].NumberU64(), 2, 0)
	checkPage(t, "a1 newest page from after", p, false, want{bs[4], 0, FlagTo})

	// A page never splits a block: block 1 holds two of a0's.
	p, _ = ix.Before(a0, b2.NumberU64(), 1, 0)
	checkPage(t, "a0 block 1", p, false, want{b1, 1, FlagFrom}, want{b1, 0, FlagFrom})

	p, _ = ix.Before(tok, 0, 25, 0)
	checkPage(t, "token", p, false, want{b2, 0, FlagTo | FlagTokenEmit}, want{b1, 1, FlagTo})
	p, _ = ix.Before(tok, 0, 25, FlagTokenEmit)
	checkPage(t, "token transfers only", p, false, want{b2, 0, FlagTo | FlagTokenEmit})
	p, _ = ix.Before(a2, 0, 25, 0)
	checkPage(t, "token sender", p, false, want{b2, 0, FlagFrom | FlagTokenOut})
	p, _ = ix.Before(a3, 0, 25, 0)
	checkPage(t, "token recipient", p, false, want{b2, 0, FlagTokenIn})

	for _, b := range append([]*chain.Block{b1, b2}, bs...) {
		checkRecords(t, ix, e.chain, b)
	}
	if p, _ := ix.Before(a1, 0, 1, 0); p.Entries[0].Tx.To == nil || *p.Entries[0].Tx.To != a1 || p.Entries[0].Tx.From != a0 ||
		p.Entries[0].Tx.Value.Sign() <= 0 || !p.Entries[0].Tx.Success {
		t.Errorf("a1's newest entry carries %+v", p.Entries[0].Tx)
	}
	if p, _ := ix.Before(a0, b2.NumberU64(), 1, 0); p.Entries[0].Tx.To != nil {
		t.Errorf("the creation's entry has recipient %s", p.Entries[0].Tx.To)
	}

	// A page is read from the entries and block records alone: without
	// the transaction records (which only a block's rows read), every
	// page is the same.
	var pages []Page
	for _, a := range []common.Address{a0, a1, a2, a3, tok} {
		p, err := ix.Before(a, 0, 3, 0)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, p)
		if p, err = ix.After(a, 0, 3, 0); err != nil {
			t.Fatal(err)
		}
		pages = append(pages, p)
	}
	if err := ix.db.DeleteRange([]byte{pfxTx}, []byte{pfxTx + 1}, nil); err != nil {
		t.Fatal(err)
	}
	for i, a := range []common.Address{a0, a1, a2, a3, tok} {
		p, err := ix.Before(a, 0, 3, 0)
		if err != nil || fmt.Sprint(p) != fmt.Sprint(pages[2*i]) {
			t.Errorf("%s's page without the transaction records: %v %+v, want %+v", a, err, p, pages[2*i])
		}
		if p, err = ix.After(a, 0, 3, 0); err != nil || fmt.Sprint(p) != fmt.Sprint(pages[2*i+1]) {
			t.Errorf("%s's oldest page without the transaction records: %v %+v, want %+v", a, err, p, pages[2*i+1])
		}
	}

	if _, err := ix.Before(a1, 0, 0, 0); err == nil {
		t.Error("page size 0 accepted")
	}
	if _, err := ix.Before(a1, 0, MaxPageSize+1, 0); err == nil {
		t.Error("page size above the maximum accepted")
	}
}

// TestReorg: the index follows the chain to a shorter branch and back
// to a longer one; entries of the abandoned blocks go.
func TestReorg(t *testing.T) {
	e := newEnv(t)
	ix := openIndex(t, "", e.chain)
	defer ix.Close()
	defer run(t, ix)()

	a1, a5 := e.addr(1), e.addr(5)
	var bs []*chain.Block
	for n := uint64(0); n < 4; n++ {
		bs = append(bs, e.mine(e.transfer(0, n, a1)))
	}
	waitHead(t, ix, e.chain)
	side := e.mineOn(bs[1].Header, e.transfer(0, 2, a5))
	if e.chain.Head().Hash() != side.Hash() {
		t.Fatal("the side block did not become the head")
	}
	waitHead(t, ix, e.chain)
	p, _ := ix.Before(a1, 0, 25, 0)
	checkPage(t, "a1 after the reorg", p, false, want{bs[1], 0, FlagTo}, want{bs[0], 0, FlagTo})
	p, _ = ix.Before(a5, 0, 25, 0)
	checkPage(t, "a5 after the reorg", p, false, want{side, 0, FlagTo})
	p, _ = ix.Before(e.addr(0), 0, 25, FlagFrom)
	checkPage(t, "a0 after the reorg", p, false, want{side, 0, FlagFrom}, want{bs[1], 0, FlagFrom}, want{bs[0], 0, FlagFrom})
	checkRecords(t, ix, e.chain, side)
	// BlockTxs: the side block's records; none for the abandoned block at
	// the same number, nor above the head.
	all, ok, err := ix.BlockTxs(side.NumberU64(), side.Hash(), 0, 100)
	if err != nil || !ok || len(all) != side.Body.Len() || all[len(all)-1].Hash != side.Body.Txs[0].Hash() {
		t.Fatalf("BlockTxs of the side block: %d records, %v %v", len(all), ok, err)
	}
	if one, ok, err := ix.BlockTxs(side.NumberU64(), side.Hash(), len(all)-1, len(all)); err != nil || !ok || fmt.Sprint(one) != fmt.Sprint(all[len(all)-1:]) {
		t.Errorf("BlockTxs of the last position: %v %v %v", one, ok, err)
	}
	if txs, ok, err := ix.BlockTxs(bs[2].NumberU64(), bs[2].Hash(), 0, 100); ok || err != nil || txs != nil {
		t.Errorf("BlockTxs of the abandoned block: %v %v %v", txs, ok, err)
	}
	if _, ok, err := ix.BlockTxs(bs[3].NumberU64(), bs[3].Hash(), 0, 100); ok || err != nil {
		t.Errorf("BlockTxs above the index's tip: %v %v", ok, err)
	}
	if _, _, err := ix.BlockTxs(side.NumberU64(), side.Hash(), 0, MaxPageSize+1); err == nil {
		t.Error("BlockTxs of more than a page accepted")
	}
	if v, _ := ix.get(txKey(bs[3].NumberU64(), 0)); v != nil {
		t.Errorf("the abandoned block %d's records stay: %x", bs[3].NumberU64(), v)
	}

	// The abandoned branch comes back (a longer child of its tip).
	back := e.mineOn(bs[3].Header, e.transfer(0, 4, a1))
	waitHead(t, ix, e.chain)
	p, _ = ix.Before(a1, 0, 25, 0)
	checkPage(t, "a1 back", p, false, want{back, 0, FlagTo}, want{bs[3], 0, FlagTo}, want{bs[2], 0, FlagTo},
		want{bs[1], 0, FlagTo}, want{bs[0], 0, FlagTo})
	p, _ = ix.Before(a5, 0, 25, 0)
	checkPage(t, "a5 back", p, false)
	for _, b := range append(bs, back) {
		checkRecords(t, ix, e.chain, b)
	}
	if v, _ := ix.get(txKey(back.NumberU64()+1, 0)); v != nil {
		t.Errorf("a record above the head: %x", v)
	}
}

// noRecent hides the chain's in-memory blocks, so the index reads every
// block back and recovers its senders (a catch-up after a restart).
type noRecent struct{ *chain.Chain }

func (noRecent) Recent(common.Hash) (*chain.Block, types.Receipts, bool) { return nil, nil, false }

// TestRestart: an index stopped while the chain moved on and reorged
// below its tip unwinds and catches up at start, to the same entries as
// an index built from scratch.
// TestCloseLeavesNoLogToReplay: Close flushes the index, so the next open
// replays nothing from pebble's write-ahead log, and it reopens at the
// tip it closed at.
func TestCloseLeavesNoLogToReplay(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	ix := openIndex(t, dir, e.chain)
	stop := run(t, ix)
	for n := uint64(0); n < 3; n++ {
		e.mine(e.transfer(0, n, e.addr(1+int(n))))
	}
	waitHead(t, ix, e.chain)
	stop()
	tip := ix.Tip()
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := pebblelog.ReplayedKeys(dir, pebbleOptions(slog.New(slog.DiscardHandler))); err != nil || n != 0 {
		t.Fatalf("the next open replays %d keys (%v), want 0", n, err)
	}
	ix = openIndex(t, dir, e.chain)
	defer ix.Close()
	if got := ix.Tip(); got != tip {
		t.Fatalf("reopened at %+v, closed at %+v", got, tip)
	}
}

func TestRestart(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	ix := openIndex(t, dir, noRecent{e.chain})
	stop := run(t, ix)
	var bs []*chain.Block
	for n := uint64(0); n < 3; n++ {
		bs = append(bs, e.mine(e.transfer(0, n, e.addr(1+int(n)))))
	}
	waitHead(t, ix, e.chain)
	stop()
	tip := ix.Tip()
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}

	// While the index is stopped: a branch from block 1 replaces 2 and 3.
	parent := bs[0].Header
	for n := uint64(1); n < 5; n++ {
		parent = e.mineOn(parent, e.transfer(0, n, e.addr(4+int(n)))).Header
	}

	ix = openIndex(t, dir, noRecent{e.chain})
	defer ix.Close()
	if got := ix.Tip(); got != tip {
		t.Fatalf("reopened at %+v, stopped at %+v", got, tip)
	}
	defer run(t, ix)()
	waitHead(t, ix, e.chain)

	fresh := openIndex(t, "", e.chain)
	defer fresh.Close()
	defer run(t, fresh)()
	waitHead(t, fresh, e.chain)
	for i := range 10 {
		a := e.addr(i)
		got, err := ix.Before(a, 0, MaxPageSize, 0)
		if err != nil {
			t.Fatal(err)
		}
		exp, err := fresh.Before(a, 0, MaxPageSize, 0)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(exp) {
			t.Errorf("account %d: restarted index %+v, fresh index %+v", i, got, exp)
		}
	}
	p, _ := ix.Before(e.addr(2), 0, 25, 0)
	if len(p.Entries) != 0 {
		t.Errorf("account 2's transfer of the abandoned block 2 is still indexed: %+v", p)
	}
}
