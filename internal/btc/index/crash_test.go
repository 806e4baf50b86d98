package index

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/cockroachdb/pebble/v2"

	"github.com/hemi-go/hemi/internal/pebblelog"
)

// expected computes, straight from the blocks, what the index must answer
// as of block h: every tx's height, and the balance of every script.
type expected struct {
	txHeight map[chainhash.Hash]int32
	balance  map[[32]byte]int64
}

func expectAt(bs []*wire.MsgBlock, h int) expected {
	e := expected{txHeight: map[chainhash.Hash]int32{}, balance: map[[32]byte]int64{}}
	type out struct {
		sh    [32]byte
		value int64
	}
	outs := map[wire.OutPoint]out{}
	for i, b := range bs[:h] {
		for j, tx := range b.Transactions {
			id := tx.TxHash()
			e.txHeight[id] = int32(i + 1)
			if j > 0 {
				for _, in := range tx.TxIn {
					delete(outs, in.PreviousOutPoint)
				}
			}
			for v, o := range tx.TxOut {
				if len(o.PkScript) > 0 && o.PkScript[0] == opReturn {
					continue
				}
				outs[wire.OutPoint{Hash: id, Index: uint32(v)}] = out{sha256.Sum256(o.PkScript), o.Value}
			}
		}
	}
	for _, o := range outs {
		e.balance[o.sh] += o.value
	}
	return e
}

// verifyAt checks the index as of its tip against the blocks.
func verifyAt(t *testing.T, ix *Index, bs []*wire.MsgBlock) int32 {
	t.Helper()
	// Connecting may go on in the background: check as of one tip.
	tip, h := ix.BlockTip()
	if h > 0 && tip != bs[h-1].BlockHash() {
		t.Fatalf("tip %s@%d is not block %d of the chain", tip, h, h)
	}
	e := expectAt(bs, int(h))
	for id, height := range e.txHeight {
		info, err := ix.TxByID(id, tip)
		if err != nil || info.Height != height || info.Confirmations != h-height+1 {
			t.Fatalf("tx %s: %+v %v (want height %d)", id, info, err, height)
		}
	}
	// Every script: compare a sample of balances (all of them for small
	// chains) through the public API, which hashes the script itself.
	scripts := map[[32]byte][]byte{}
	for _, b := range bs[:h] {
		for _, tx := range b.Transactions {
			for _, o := range tx.TxOut {
				scripts[sha256.Sum256(o.PkScript)] = o.PkScript
			}
		}
	}
	n := 0
	for sh, s := range scripts {
		if n++; n > 300 {
			break
		}
		got, err := ix.Balance(s, tip)
		if err != nil || got != e.balance[sh] {
			t.Fatalf("balance of %x: %d %v, want %d", s, got, err, e.balance[sh])
		}
	}
	return h
}

func TestReopenMidSync(t *testing.T) {
	g := newGen(regtest)
	bs := realisticChain(t, g, 30, 20)
	dir := t.TempDir()
	ix := openTest(t, dir, regtest)
	if _, _, err := ix.AcceptHeaders(headers(bs)); err != nil {
		t.Fatal(err)
	}
	// Blocks 1-10 and 15-20 arrive; 11-14 are missing when we stop.
	for _, i := range append(seq(0, 10), seq(14, 20)...) {
		if err := ix.AcceptBlock(bs[i]); err != nil {
			t.Fatal(err)
		}
	}
	mustTip(t, ix, bs[9].BlockHash(), 10)
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ix.AcceptBlock(bs[10]); !errors.Is(err, ErrClosed) {
		t.Fatalf("AcceptBlock after Close: %v", err)
	}

	ix = openTest(t, dir, regtest)
	defer ix.Close()
	mustTip(t, ix, bs[9].BlockHash(), 10)
	verifyAt(t, ix, bs)
	if need := ix.NeedBlocks(10); len(need) != 10 || need[0] != bs[10].BlockHash() || need[4] != bs[20].BlockHash() {
		t.Fatalf("need after reopen: %d entries", len(need))
	}
	for _, i := range seq(10, 14) {
		if err := ix.AcceptBlock(bs[i]); err != nil {
			t.Fatal(err)
		}
	}
	mustTip(t, ix, bs[19].BlockHash(), 20)
	for _, i := range seq(20, 30) {
		if err := ix.AcceptBlock(bs[i]); err != nil {
			t.Fatal(err)
		}
	}
	mustTip(t, ix, bs[29].BlockHash(), 30)
	verifyAt(t, ix, bs)
}

// TestCloseLeavesNoLogToReplay: Close flushes the memtables, so the next
// open replays nothing from pebble's write-ahead log (pebble's own Close
// does not flush; the replay was a large part of a long node's restart),
// and the reopened index holds everything.
func TestCloseLeavesNoLogToReplay(t *testing.T) {
	g := newGen(regtest)
	bs := realisticChain(t, g, 30, 20)
	dir := t.TempDir()
	ix := openTest(t, dir, regtest)
	feed(t, ix, bs)
	mustTip(t, ix, bs[29].BlockHash(), 30)
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Dir: dir, Params: regtest, Logger: slog.New(slog.DiscardHandler)}
	if err := cfg.setDefaults(); err != nil {
		t.Fatal(err)
	}
	if n, err := pebblelog.ReplayedKeys(dir, pebbleOptions(&cfg)); err != nil || n != 0 {
		t.Fatalf("the next open replays %d keys (%v), want 0", n, err)
	}
	ix = openTest(t, dir, regtest)
	defer ix.Close()
	mustTip(t, ix, bs[29].BlockHash(), 30)
	verifyAt(t, ix, bs)
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// TestOrphanEntriesIgnored simulates a crash that left index entries of a
// block on disk without the tip that would make them count.
func TestOrphanEntriesIgnored(t *testing.T) {
	g := newGen(regtest)
	bs := realisticChain(t, g, 6, 10)
	dir := t.TempDir()
	ix := openTest(t, dir, regtest)
	feed(t, ix, bs[:5])
	if _, _, err := ix.AcceptHeaders(headers(bs[5:])); err != nil {
		t.Fatal(err)
	}
	n := ix.byHash[bs[5].BlockHash()]
	raw, bd, err := prepareBlock(bs[5])
	if err != nil {
		t.Fatal(err)
	}
	_ = raw
	b := ix.db.NewBatch()
	w := newEntryWriter()
	for _, x := range dataIndexes {
		x.write(w, n, bd)
	}
	w.writeTo(b)
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	b.Close()
	ix.Close()

	ix = openTest(t, dir, regtest)
	defer ix.Close()
	mustTip(t, ix, bs[4].BlockHash(), 5)
	if _, err := ix.TxByID(bs[5].Transactions[1].TxHash(), chainhash.Hash{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("orphan entry visible: %v", err)
	}
	verifyAt(t, ix, bs)
	if err := ix.AcceptBlock(bs[5]); err != nil {
		t.Fatal(err)
	}
	mustTip(t, ix, bs[5].BlockHash(), 6)
	verifyAt(t, ix, bs)
}

// TestIndexCatchUp drops two indexes (entries and tips) as if they were
// added in a later version; Open rebuilds them from the stored blocks.
func TestIndexCatchUp(t *testing.T) {
	s := newForkScenario(t)
	dir := t.TempDir()
	ix := openTest(t, dir, regtest)
	all := append(append([]*wire.MsgBlock{}, s.common...), s.b...)
	feed(t, ix, all)
	mustTip(t, ix, hashOf(s.b[3]), 6)
	ix.Close()

	db, err := pebble.Open(dir, pebbleOptions(&ix.cfg))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []byte{pfxTx, pfxPop} {
		if err := db.DeleteRange([]byte{p}, []byte{p + 1}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{txIndexName, popIndexName} {
		if err := db.Delete(tipKey(name), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	ix = openTest(t, dir, regtest)
	defer ix.Close()
	if info, err := ix.TxByID(s.txB.TxHash(), chainhash.Hash{}); err != nil || info.Height != 4 {
		t.Fatalf("tx after catch-up: %+v %v", info, err)
	}
	if ps, err := ix.Publications(s.ks.ID(), chainhash.Hash{}); err != nil || len(ps) != 1 {
		t.Fatalf("publications after catch-up: %v %v", ps, err)
	}
	for _, name := range indexNames {
		v, closer, err := ix.db.Get(tipKey(name))
		if err != nil {
			t.Fatalf("%s tip: %v", name, err)
		}
		_, h, _ := decodeTip(v)
		closer.Close()
		if h != hashOf(s.b[3]) {
			t.Fatalf("%s tip %s", name, h)
		}
	}
}

// TestKill9 kills a syncing child process at a random moment and checks
// that the database reopens consistent with its tip, at or above every
// height a subscriber was told of, and finishes the sync. The child
// commits either on its timer (large batches) or, with batches of one
// block, in the background while it stages the next (see commitBatch).
func TestKill9(t *testing.T) {
	if dir := os.Getenv("INDEX_CRASH_CHILD"); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	bs := crashChain(t)
	for round := range 6 {
		killAt := []int{3, 17, 41}[round%3]
		batch := []string{"0", "16384"}[round/3]
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestKill9$")
		cmd.Env = append(os.Environ(), "INDEX_CRASH_CHILD="+dir, "INDEX_CRASH_BATCH="+batch)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		seen := 0
		for sc.Scan() {
			if h, err := strconv.Atoi(sc.Text()); err == nil {
				seen = max(seen, h)
				if h >= killAt {
					break
				}
			}
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()

		ix := openTest(t, dir, regtest)
		h := verifyAt(t, ix, bs)
		if int(h) < seen {
			t.Fatalf("round %d (batch %s): reopened at %d below height %d an event announced", round, batch, h, seen)
		}
		t.Logf("round %d (batch %s): killed after height %d, reopened at %d", round, batch, killAt, h)
		feed(t, ix, bs)
		mustTip(t, ix, bs[len(bs)-1].BlockHash(), int32(len(bs)))
		verifyAt(t, ix, bs)
		ix.Close()
	}
}

func crashChain(t testing.TB) []*wire.MsgBlock { return realisticChain(t, newGen(regtest), 60, 30) }

// crashChild syncs the crash chain into dir, block by block from two
// goroutines' worth of out-of-order arrivals, printing each new tip height,
// until it is killed.
func crashChild(dir string) {
	t := &testing.T{}
	bs := crashChain(t)
	batch, _ := strconv.Atoi(os.Getenv("INDEX_CRASH_BATCH"))
	ix, err := Open(Config{Dir: dir, Params: regtest, MaxBatchDelay: 5 * time.Millisecond, BatchBytes: batch,
		Now: func() time.Time { return time.Unix(1_900_000_000, 0) }})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if _, _, err := ix.AcceptHeaders(headers(bs)); err != nil {
		os.Exit(2)
	}
	ctx := context.Background()
	events := ix.Subscribe(ctx, 0)
	go func() {
		for e := range events {
			fmt.Println(e.Height)
		}
	}()
	for i := 0; i < len(bs); i += 2 {
		if i+1 < len(bs) {
			_ = ix.AcceptBlock(bs[i+1])
		}
		_ = ix.AcceptBlock(bs[i])
		time.Sleep(2 * time.Millisecond)
	}
	select {} // wait to be killed
}

// TestCorruptStoredBlockRefetched: a stored block that cannot be decoded
// when its turn to connect comes is marked missing and fetched again.
func TestCorruptStoredBlockRefetched(t *testing.T) {
	g := newGen(regtest)
	bs := realisticChain(t, g, 8, 5)
	dir := t.TempDir()
	ix := openTest(t, dir, regtest)
	if _, _, err := ix.AcceptHeaders(headers(bs)); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1, 3, 4} { // 3 is missing: 4 and 5 wait
		if err := ix.AcceptBlock(bs[i]); err != nil {
			t.Fatal(err)
		}
	}
	id := ix.byHash[bs[3].BlockHash()].id
	ix.Close()

	db, err := pebble.Open(dir, pebbleOptions(&ix.cfg))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set(idKey(pfxBlock, id), []byte("garbage"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()

	ix = openTest(t, dir, regtest)
	defer ix.Close()
	mustTip(t, ix, bs[1].BlockHash(), 2)
	if err := ix.AcceptBlock(bs[2]); err != nil {
		t.Fatal(err)
	}
	mustTip(t, ix, bs[2].BlockHash(), 3)
	need := ix.NeedBlocks(2)
	if len(need) == 0 || need[0] != bs[3].BlockHash() {
		t.Fatalf("corrupt block not needed again: %v", need)
	}
	feed(t, ix, bs)
	mustTip(t, ix, bs[7].BlockHash(), 8)
	verifyAt(t, ix, bs)
}
