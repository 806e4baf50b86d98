package hvm

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/indextest"
)

// TestReorgedViewAnswersTheSame is DESIGN 3.4's promise at the hVM level:
// the answers as of a Bitcoin view do not change when that view's block is
// reorged out, for a view made before the reorg and for one made after it
// (a node re-executing the L2 block later).
func TestReorgedViewAnswersTheSame(t *testing.T) {
	f, _, _ := sharedFixture(t)
	ix := openIndex(t, t.TempDir())
	defer ix.Close()
	indextest.Feed(t, ix, f.blocks)
	a := f.tip()
	before, err := NewIndexView(ix, a)
	if err != nil {
		t.Fatal(err)
	}
	cases := goldenCases(t, f)
	want := runVectors(t, Precompiles(before, regtest), cases)

	fork := f.fork(t)
	indextest.Feed(t, ix, fork)
	if h, height := ix.BlockTip(); h != fork[3].BlockHash() || height != 107 {
		t.Fatalf("index tip %s@%d, want the fork's 107", h, height)
	}
	if hi, err := ix.HeaderByHash(a, chainhash.Hash{}); err == nil {
		t.Fatalf("block 106 of the old branch is still in the best chain: %+v", hi)
	}

	after, err := NewIndexView(ix, a)
	if err != nil {
		t.Fatalf("view of a reorged-out block: %v", err)
	}
	for name, v := range map[string]IndexView{"view made before the reorg": before, "view made after the reorg": after} {
		t.Run(name, func(t *testing.T) {
			got := runVectors(t, Precompiles(v, regtest), cases)
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("%s %q changed after the reorg:\n got  %s\n want %s", got[i].Precompile, got[i].Name, got[i].Output, want[i].Output)
				}
			}
			if err := v.Err(); err != nil {
				t.Fatal(err)
			}
		})
	}

	// The new branch's view answers for its own chain: tx3 is not in it,
	// so tx2:0 is unspent there; its header at 104 is the fork's.
	b, err := NewIndexView(ix, fork[3].BlockHash())
	if err != nil {
		t.Fatal(err)
	}
	pb, pa := Precompiles(b, regtest), Precompiles(after, regtest)
	tx3 := display(f.tx3.TxHash())
	tests := []struct {
		name  string
		addr  byte
		input []byte
		wantA string // answer as of the old branch
		wantB string // answer as of the new branch
	}{
		{"tx3 confirmations", 0x43, tx3, "00000003", ""},
		{"tx2 confirmations", 0x43, display(f.tx2.TxHash()), "00000004", "00000005"},
		{"tx2:0 spent flag", 0x42, append(display(f.tx2.TxHash()), 0, 0x44, 0, 0),
			"0009" + "0000000002faf080" + "01", "0009" + "0000000002faf080" + "00"},
		{"header at 104", 0x45, []byte{0, 0, 0, 104}, "", ""},
		{"tx3 input 0 (0x47)", 0x47, cat(tx3, []byte{0, 0, 0, 0}),
			"0002" + "0000000002faf080" + f.tx2.TxHash().String() + "0000" + "0000" + fmt.Sprintf("%08x", f.tx3.TxIn[0].Sequence), ""},
		{"tx2:0 spent flag (0x48)", 0x48, cat(display(f.tx2.TxHash()), []byte{0, 0, 0, 0}),
			"0000000002faf080" + "0016" + "01", "0000000002faf080" + "0016" + "00"},
		{"tx3 witness element 1 (0x49)", 0x49, cat(tx3, []byte{0, 0, 0, 1, 0, 0}), "0021", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ga, _ := pa[addrOf(tt.addr)].Run(tt.input)
			gb, _ := pb[addrOf(tt.addr)].Run(tt.input)
			if tt.addr == 0x45 {
				if bytes.Equal(ga, gb) || len(ga) != HeaderRecordLen || len(gb) != HeaderRecordLen {
					t.Fatalf("header 104 old %x new %x: want two different records", ga, gb)
				}
				if !bytes.Equal(ga[4:36], display(f.blocks[103].BlockHash())) || !bytes.Equal(gb[4:36], display(fork[0].BlockHash())) {
					t.Fatalf("header 104 hashes old %x new %x", ga[4:36], gb[4:36])
				}
				return
			}
			if !bytes.Equal(ga, mustHex(t, tt.wantA)) {
				t.Fatalf("old branch %x, want %s", ga, tt.wantA)
			}
			if !bytes.Equal(gb, mustHex(t, tt.wantB)) {
				t.Fatalf("new branch %x, want %s", gb, tt.wantB)
			}
		})
	}
}

// TestIndexViewErrors covers making a view and a view whose index fails.
func TestIndexViewErrors(t *testing.T) {
	f, _, _ := sharedFixture(t)
	ix := openIndex(t, t.TempDir())
	indextest.Feed(t, ix, f.blocks[:10])
	// Block 11's header is known, its data is not: not indexed.
	if _, _, err := ix.AcceptHeaders([]wire.BlockHeader{f.blocks[10].Header}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		hash chainhash.Hash
		want error
	}{
		{"zero hash", chainhash.Hash{}, nil},
		{"unknown block", chainhash.Hash{1}, index.ErrUnknownBlock},
		{"header without data", f.blocks[10].BlockHash(), index.ErrNotIndexed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewIndexView(ix, tt.hash)
			if err == nil || v != nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("view %v err %v, want %v", v, err, tt.want)
			}
		})
	}
	if _, err := NewIndexView(nil, f.blocks[0].BlockHash()); err == nil {
		t.Fatal("nil index accepted")
	}

	v, err := NewIndexView(ix, f.blocks[9].BlockHash())
	if err != nil {
		t.Fatal(err)
	}
	pcs := Precompiles(v, regtest)
	cb := display(f.blocks[0].Transactions[0].TxHash())
	if out, _ := pcs[AddrConfirmations].Run(cb); !bytes.Equal(out, []byte{0, 0, 0, 10}) {
		t.Fatalf("confirmations before close %x", out)
	}
	if _, err := v.Tx(chainhash.Hash{9}); !errors.Is(err, ErrNotFound) || v.Err() != nil {
		t.Fatalf("a miss must wrap ErrNotFound and not fail the view: %v, Err %v", err, v.Err())
	}

	// A failing index answers empty, never a made-up value, and the view
	// remembers the failure for the block processor.
	ix.Close()
	calls := []struct {
		addr  byte
		input []byte
	}{
		{0x40, []byte(f.coinbaseAddr)},
		{0x41, append([]byte(f.coinbaseAddr), 0, 0, 0, 0)},
		{0x42, append(cb, 0x7f, 0xec, 0x3f, 0x0f)},
		{0x43, cb},
		{0x45, []byte{0, 0, 0, 1}},
		{0x47, append(cb, 0, 0, 0, 16)},
		{0x48, append(cb, 0, 0, 0, 16)},
		{0x49, append(cb, 0, 0, 0, 0, 0, 16)},
	}
	for _, c := range calls {
		out, err := pcs[addrOf(c.addr)].Run(c.input)
		if err != nil || out != nil {
			t.Fatalf("0x%x on a closed index: %x %v, want empty", c.addr, out, err)
		}
	}
	if err := v.Err(); !errors.Is(err, ErrView) || !errors.Is(err, index.ErrClosed) {
		t.Fatalf("Err %v, want ErrView wrapping index.ErrClosed", err)
	}
	// 0x44 needs no read: the view's header was resolved when it was made.
	if out, _ := pcs[AddrLastHeader].Run(nil); len(out) != HeaderRecordLen {
		t.Fatalf("0x44 after close: %x", out)
	}
}

// TestViewOfUnfollowedFork: a view on a fork this node stored but never
// connected (lighter than its chain) needs the index to index that fork
// first (index.IndexFork); then it answers for the fork's chain.
func TestViewOfUnfollowedFork(t *testing.T) {
	f, _, _ := sharedFixture(t)
	ix := openIndex(t, t.TempDir())
	defer ix.Close()
	indextest.Feed(t, ix, f.blocks)
	side := f.fork(t)[:2] // 104', 105': less work than 106
	if _, _, err := ix.AcceptHeaders([]wire.BlockHeader{side[0].Header, side[1].Header}); err != nil {
		t.Fatal(err)
	}
	for _, b := range side {
		if err := ix.AcceptBlock(b); err != nil {
			t.Fatal(err)
		}
	}
	hash := side[1].BlockHash()
	if _, err := NewIndexView(ix, hash); !errors.Is(err, index.ErrNotIndexed) {
		t.Fatalf("view of an unindexed fork: %v, want ErrNotIndexed", err)
	}
	if err := ix.IndexFork(hash); err != nil {
		t.Fatal(err)
	}
	v, err := NewIndexView(ix, hash)
	if err != nil {
		t.Fatal(err)
	}
	pcs := Precompiles(v, regtest)
	if out, _ := pcs[AddrConfirmations].Run(display(f.tx2.TxHash())); !bytes.Equal(out, []byte{0, 0, 0, 3}) {
		t.Fatalf("tx2 confirmations as of 105': %x, want 00000003", out)
	}
	if out, _ := pcs[AddrConfirmations].Run(display(f.tx3.TxHash())); out != nil {
		t.Fatalf("tx3 is not on the fork, got %x", out)
	}
	if h, _ := ix.BlockTip(); h != f.tip() {
		t.Fatalf("IndexFork moved the tip to %s", h)
	}
}

// TestViewConcurrentUse runs the golden calls from several goroutines on
// one view (the BitcoinView concurrency contract; meaningful under -race).
func TestViewConcurrentUse(t *testing.T) {
	f, _, pcs := sharedFixture(t)
	cases := goldenCases(t, f)
	want := runVectors(t, pcs, cases)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			for i, c := range cases {
				out, err := pcs[c.addr].Run(c.input)
				if err != nil || hex.EncodeToString(out) != want[i].Output {
					errs <- fmt.Errorf("%s %q: %x %v", want[i].Precompile, c.name, out, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// partialFailView is the fixture view with one kind of read failing, as
// an index failing between two reads of one call would.
type partialFailView struct {
	IndexView
	failTx    chainhash.Hash // Tx of this txid fails
	failSpent bool           // every Spent fails
}

var errInjected = errors.New("injected index failure")

func (v partialFailView) Tx(txid chainhash.Hash) (Tx, error) {
	if txid == v.failTx {
		return Tx{}, fmt.Errorf("%w: %w", ErrView, errInjected)
	}
	return v.IndexView.Tx(txid)
}

func (v partialFailView) Spent(op wire.OutPoint) (bool, error) {
	if v.failSpent {
		return false, fmt.Errorf("%w: %w", ErrView, errInjected)
	}
	return v.IndexView.Spent(op)
}

// TestTxPartsSecondReadFails: when the first read of 0x47 or 0x48
// succeeds and the second fails (the spent output's tx, the spend seek),
// the answer is empty, not a made-up value 0 or "unspent".
func TestTxPartsSecondReadFails(t *testing.T) {
	f, view, _ := sharedFixture(t)
	in47 := cat(display(f.tx2.TxHash()), []byte{0, 0, 0, 16})
	in48 := cat(display(f.tx1.TxHash()), []byte{0, 0, 0, 16})
	ok := Precompiles(view, regtest)
	for _, c := range []struct {
		name  string
		view  BitcoinView
		addr  byte
		input []byte
	}{
		{"0x47: the spent output's tx", partialFailView{IndexView: view, failTx: f.tx1.TxHash()}, 0x47, in47},
		{"0x48: the spend seek", partialFailView{IndexView: view, failSpent: true}, 0x48, in48},
	} {
		t.Run(c.name, func(t *testing.T) {
			if out, _ := ok[addrOf(c.addr)].Run(c.input); len(out) == 0 {
				t.Fatal("the healthy view answers empty: the case proves nothing")
			}
			out, err := Precompiles(c.view, regtest)[addrOf(c.addr)].Run(c.input)
			if err != nil || out != nil {
				t.Fatalf("answer %x, error %v: want empty", out, err)
			}
		})
	}
}
