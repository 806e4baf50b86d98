package chain

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/indextest"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/node/indexadapt"
)

// crashSetup is the Bitcoin fixture and the genesis every crash and
// restart test (parent and child process) builds the same way.
func crashSetup(t testing.TB, dir string) (*indextest.Chain, *index.Index, *harness) {
	t.Helper()
	f := newBTCFixture(t, 12)
	ix := indextest.Open(t, regtest, filepath.Join(dir, "btc"))
	indextest.Feed(t, ix, f.Blocks)
	h := newHarness(t, ix, filepath.Join(dir, "l2"), testGenesis(t, viewAt(t, indexadapt.NewChain(ix), f.Blocks[1])))
	return f, ix, h
}

// nextBlock mines a block of transfers from user 0 and user 1 on the head.
func nextBlock(h *harness, f *indextest.Chain) *Block {
	head := h.chain.Head()
	st, err := h.chain.StateAt(head.Root)
	if err != nil {
		h.t.Fatal(err)
	}
	var txs []*types.Transaction
	for i, k := range userKeys[:2] {
		n := st.GetNonce(addr(k))
		for j := range 5 {
			to := common.BigToAddress(common.Big256)
			to[0] = byte(i + 1)
			txs = append(txs, h.transfer(k, n+uint64(j), to, int64(1+j)))
		}
	}
	return h.mine(viewAt(h.t, h.btc, f.Blocks[min(2+int(head.Number.Uint64()), 9)]), txs...)
}

// checkConsistent verifies every canonical block of a reopened chain: its
// body hashes to the header, its stored receipts to the receipts root,
// its state opens, and the head's nonces count the transfers.
func checkConsistent(t *testing.T, c *Chain) uint64 {
	t.Helper()
	head := c.Head()
	var transfers uint64
	for n := uint64(1); n <= head.Number.Uint64(); n++ {
		b, err := c.BlockByNumber(n)
		if err != nil {
			t.Fatalf("block %d: %v", n, err)
		}
		if block.TxRoot(b.Body) != b.Header.TxHash {
			t.Fatalf("block %d body does not match its header", n)
		}
		rs, err := c.Receipts(b.Hash())
		if err != nil || block.ReceiptRoot(rs) != b.Header.ReceiptHash {
			t.Fatalf("block %d receipts: %v", n, err)
		}
		if _, err := c.StateAt(b.Header.Root); err != nil {
			t.Fatalf("block %d state: %v", n, err)
		}
		transfers += uint64(len(b.Body.Txs))
	}
	st, err := c.StateAt(head.Root)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.GetNonce(addr(userKeys[0])) + st.GetNonce(addr(userKeys[1])); got != transfers {
		t.Fatalf("head %d: nonces sum to %d, blocks hold %d transfers", head.Number, got, transfers)
	}
	return head.Number.Uint64()
}

// TestRestart: a closed and reopened chain has the same head, blocks,
// receipts and state, and goes on.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	f, ix, h := crashSetup(t, dir)
	var last *Block
	for range 4 {
		last = nextBlock(h, f)
	}
	if err := h.chain.Close(); err != nil {
		t.Fatal(err)
	}
	h2 := newHarness(t, ix, filepath.Join(dir, "l2"), h.spec)
	if h2.chain.Head().Hash() != last.Hash() {
		t.Fatalf("reopened at %d, want %d", h2.chain.Head().Number, last.NumberU64())
	}
	checkConsistent(t, h2.chain)
	nextBlock(h2, f)
	ix.Close()

	// Another genesis on the same database is refused.
	other := testGenesis(t, h.spec.View, common.Address{9})
	cfg := h2.cfg
	cfg.Genesis = other
	h2.chain.Close()
	ix2 := indextest.Open(t, regtest, filepath.Join(dir, "btc"))
	defer ix2.Close()
	cfg.Bitcoin = indexadapt.NewChain(ix2)
	if _, err := New(cfg); !errorsIs(err, ErrGenesisMismatch) {
		t.Fatalf("other genesis: %v", err)
	}
}

// TestKill9 kills a child process that is inserting blocks at some
// moment, reopens its database and checks it restarts at a committed
// block with consistent state, then continues.
func TestKill9(t *testing.T) {
	// The pause lets the child run into the next blocks: the kill lands
	// at some point of an import (state flush, batch, fsync).
	kill9(t, "HEMI_CHAIN_CRASH_CHILD", crashChild, []int{1, 4, 9}, 3*time.Millisecond, func(round, printed int, dir string) {
		f, ix, h := crashSetup(t, dir)
		n := checkConsistent(t, h.chain)
		// The child fsyncs each block before printing its number.
		if n < uint64(printed) {
			t.Fatalf("round %d: reopened at %d, the child had committed %d", round, n, printed)
		}
		t.Logf("round %d: killed after block %d was reported, reopened at %d", round, printed, n)
		nextBlock(h, f)
		checkConsistent(t, h.chain)
		h.chain.Close()
		ix.Close()
	})
}

// kill9 is the kill -9 harness of test t. In the child process (env
// holds its data directory) it runs child, which prints a growing number
// after each commit until it is killed. In the parent, for each round and
// its killAt it starts a child on a new directory, waits until the child
// printed killAt or more, pauses round*pause, kills it with SIGKILL and
// calls check with the last number printed, to reopen the directory.
func kill9(t *testing.T, env string, child func(dir string), killAts []int, pause time.Duration, check func(round, printed int, dir string)) {
	t.Helper()
	if dir := os.Getenv(env); dir != "" {
		child(dir)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	for round, killAt := range killAts {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$")
		cmd.Env = append(os.Environ(), env+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		printed := 0
		for sc.Scan() {
			if n, err := strconv.Atoi(sc.Text()); err == nil {
				printed = n
				if n >= killAt {
					break
				}
			}
		}
		time.Sleep(time.Duration(round) * pause)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		if printed < killAt {
			t.Fatalf("round %d: child stopped after printing %d, before %d", round, printed, killAt)
		}
		check(round, printed, dir)
	}
}

// crashTB makes the test helpers usable in the child process.
type crashTB struct{ testing.TB }

func (crashTB) Helper()           {}
func (crashTB) Cleanup(func())    {}
func (crashTB) Fatal(args ...any) { fmt.Fprintln(os.Stderr, args...); os.Exit(2) }
func (crashTB) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(2)
}

// crashChild inserts blocks into dir (fsynced, NoSync off) and prints
// each committed number, until it is killed.
func crashChild(dir string) {
	t := crashTB{}
	f, _, h := crashSetup(t, dir)
	h.chain.cfg.NoSync = false
	for {
		b := nextBlock(h, f)
		fmt.Println(b.NumberU64())
	}
}
