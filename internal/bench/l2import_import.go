package bench

import (
	"context"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus/beacon"
	"github.com/ethereum/go-ethereum/consensus/ethash"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethdb/pebble"
	"github.com/holiman/uint256"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/explorer/addrindex"
)

// l2CacheMB is the cache given to both importers: pebble's block cache
// and the clean trie node cache (and go-ethereum's dirty trie and
// snapshot caches, which our chain does not have).
const l2CacheMB = 256

// l2Import is one timed import.
type l2Import struct {
	took time.Duration
	// cpu is the process's CPU time (user and system, every thread) over
	// took: what the import cost, whatever else the machine ran.
	cpu time.Duration
	// flush is go-ethereum's Stop (its deferred trie writes), not in took.
	flush time.Duration
}

// profileTo starts a CPU profile into path ("" does nothing) and returns
// its stop function.
func profileTo(path string) (func() error, error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("bench: profile dir: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("bench: profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench: start profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

// importOurs imports w's blocks into a fresh chain in dir with
// InsertChain (the batch's senders recovered in the background, as
// go-ethereum's InsertChain does; then per block: seal, header and view
// rules, system transactions, execution, receipts, bloom, gas and state
// roots, commit to pebble), then checks the result (not timed). With
// addrIndex, the explorer's address index follows the chain as a node
// runs it (its own goroutine and database), and the time runs until it
// has indexed the last block.
func importOurs(w *l2Workload, btc *l2Bitcoin, dir, profile string, addrIndex bool) (l2Import, error) {
	blocks, err := w.oursBlocks()
	if err != nil {
		return l2Import{}, err
	}
	c, err := ourChain(w, btc, dir)
	if err != nil {
		return l2Import{}, fmt.Errorf("bench: open our chain: %w", err)
	}
	defer c.Close()
	var ix *addrindex.Index
	if addrIndex {
		if ix, err = addrindex.New(addrindex.Config{Dir: filepath.Join(dir, "addrindex"), Chain: c, Logger: slog.New(slog.DiscardHandler)}); err != nil {
			return l2Import{}, err
		}
		defer ix.Close()
	}
	runtime.GC()
	stop, err := profileTo(profile)
	if err != nil {
		return l2Import{}, err
	}
	start, cpu0 := time.Now(), selfCPU()
	ctx, cancel := context.WithCancel(context.Background())
	ixDone := make(chan error, 1)
	if ix != nil {
		go func() { ixDone <- ix.Run(ctx) }()
	} else {
		ixDone <- nil
	}
	defer func() { cancel(); <-ixDone }()
	if n, err := c.InsertChain(blocks); err != nil {
		stop()
		return l2Import{}, fmt.Errorf("bench: our chain: insert block %d: %w", n+1, err)
	}
	if ix != nil {
		if err := ix.WaitFor(ctx, c.Head().Hash()); err != nil {
			stop()
			return l2Import{}, fmt.Errorf("bench: address index: %w", err)
		}
	}
	res := l2Import{took: time.Since(start), cpu: selfCPU() - cpu0}
	if err := stop(); err != nil {
		return res, err
	}
	if err := w.checkOurs(c); err != nil {
		return res, err
	}
	if ix != nil {
		if err := w.checkIndex(c, ix); err != nil {
			return res, err
		}
	}
	return res, nil
}

// checkIndex checks that the address index holds each block's senders.
func (w *l2Workload) checkIndex(c *chain.Chain, ix *addrindex.Index) error {
	for n := 1; n <= w.blocks; n++ {
		b, err := c.BlockByNumber(uint64(n))
		if err != nil {
			return err
		}
		if len(b.Body.Txs) == 0 {
			continue
		}
		signer := types.MakeSigner(c.Config().ChainConfig, b.Header.Number, b.Header.Time)
		from, err := types.Sender(signer, b.Body.Txs[0])
		if err != nil {
			return err
		}
		p, err := ix.Before(from, uint64(n)+1, 1, addrindex.FlagFrom)
		if err != nil {
			return err
		}
		if len(p.Entries) == 0 || p.Entries[0].Number != uint64(n) {
			return fmt.Errorf("bench: address index: block %d's first sender %s not indexed (%+v)", n, from, p.Entries)
		}
	}
	return nil
}

// checkOurs checks that our chain holds every block with every
// transaction successful, and the expected state.
func (w *l2Workload) checkOurs(c *chain.Chain) error {
	head := c.Head()
	if head.Number.Uint64() != uint64(w.blocks) {
		return fmt.Errorf("bench: our chain's head is %d, want %d", head.Number, w.blocks)
	}
	for n := 1; n <= w.blocks; n++ {
		b, err := c.BlockByNumber(uint64(n))
		if err != nil {
			return fmt.Errorf("bench: our block %d: %w", n, err)
		}
		rs, err := c.Receipts(b.Hash())
		if err != nil {
			return fmt.Errorf("bench: our receipts %d: %w", n, err)
		}
		if err := w.checkReceipts("ours", n, len(b.Body.Txs), rs); err != nil {
			return err
		}
	}
	st, err := c.StateAt(head.Root)
	if err != nil {
		return fmt.Errorf("bench: our head state: %w", err)
	}
	return w.checkState("ours", st)
}

// importGeth imports w's blocks into a fresh go-ethereum core.BlockChain
// on pebble in dir with InsertChain (header verification by the beacon
// engine, sender recovery, execution, receipt, bloom, gas and state root
// validation, block and state writes), with scheme's state storage, then
// checks the result (not timed). archive makes it commit every block's
// state to disk, as our chain does, instead of keeping recent tries in
// memory.
func importGeth(w *l2Workload, dir, scheme string, archive bool, profile string) (l2Import, error) {
	blocks, err := w.gethBlocksFresh()
	if err != nil {
		return l2Import{}, err
	}
	kv, err := pebble.New(dir, l2CacheMB, 256, "hemi/bench/geth/", false)
	if err != nil {
		return l2Import{}, fmt.Errorf("bench: open go-ethereum database: %w", err)
	}
	db := rawdb.NewDatabase(kv)
	defer db.Close()
	cfg := core.DefaultConfig()
	cfg.StateScheme = scheme
	cfg.ArchiveMode = archive
	cfg.TrieCleanLimit, cfg.TrieDirtyLimit, cfg.SnapshotLimit = l2CacheMB, l2CacheMB, l2CacheMB
	cfg.TxLookupLimit = 0 // index every transaction, as our chain does
	bc, err := core.NewBlockChain(db, w.geth, beacon.New(ethash.NewFaker()), cfg)
	if err != nil {
		return l2Import{}, fmt.Errorf("bench: go-ethereum blockchain: %w", err)
	}
	stopped := false
	defer func() {
		if !stopped {
			bc.Stop()
		}
	}()
	runtime.GC()
	stop, err := profileTo(profile)
	if err != nil {
		return l2Import{}, err
	}
	start, cpu0 := time.Now(), selfCPU()
	if n, err := bc.InsertChain(blocks); err != nil {
		stop()
		return l2Import{}, fmt.Errorf("bench: go-ethereum: insert block %d: %w", n+1, err)
	}
	res := l2Import{took: time.Since(start), cpu: selfCPU() - cpu0}
	if err := stop(); err != nil {
		return res, err
	}
	if err := w.checkGeth(bc); err != nil {
		return res, err
	}
	start = time.Now()
	bc.Stop()
	stopped = true
	res.flush = time.Since(start)
	return res, nil
}

// checkGeth is checkOurs for go-ethereum's chain.
func (w *l2Workload) checkGeth(bc *core.BlockChain) error {
	head := bc.CurrentBlock()
	if head.Number.Uint64() != uint64(w.blocks) {
		return fmt.Errorf("bench: go-ethereum's head is %d, want %d", head.Number, w.blocks)
	}
	for n := 1; n <= w.blocks; n++ {
		b := bc.GetBlockByNumber(uint64(n))
		if b == nil {
			return fmt.Errorf("bench: go-ethereum has no block %d", n)
		}
		if err := w.checkReceipts("go-ethereum", n, len(b.Transactions()), bc.GetReceiptsByHash(b.Hash())); err != nil {
			return err
		}
	}
	st, err := bc.StateAt(head.Root, head.Number, head.Time)
	if err != nil {
		return fmt.Errorf("bench: go-ethereum head state: %w", err)
	}
	return w.checkState("go-ethereum", st)
}

// checkReceipts checks that block n holds perBlock user transactions and
// that the last perBlock receipts (ours come after the system
// transactions') report success.
func (w *l2Workload) checkReceipts(who string, n, txs int, rs types.Receipts) error {
	if txs != w.perBlock {
		return fmt.Errorf("bench: %s block %d has %d user txs, want %d", who, n, txs, w.perBlock)
	}
	if len(rs) < w.perBlock {
		return fmt.Errorf("bench: %s block %d has %d receipts, want at least %d", who, n, len(rs), w.perBlock)
	}
	for i, r := range rs[len(rs)-w.perBlock:] {
		if r.Status != types.ReceiptStatusSuccessful {
			return fmt.Errorf("bench: %s block %d tx %d failed", who, n, i)
		}
	}
	return nil
}

// checkState checks the state after all blocks: every sender sent one
// transfer per block (its nonce), and every recipient holds exactly what
// it was sent (ETH, or BenchToken balance); token senders hold what they
// had minus what they sent.
func (w *l2Workload) checkState(who string, st *state.StateDB) error {
	sentUnits := common.BigToHash(new(big.Int).Sub(l2SenderToken, big.NewInt(int64(w.blocks)*l2TransferUnits)))
	for _, s := range w.senders {
		if got := st.GetNonce(s); got != uint64(w.blocks) {
			return fmt.Errorf("bench: %s: sender %s nonce %d, want %d", who, s, got, w.blocks)
		}
		if w.kind.erc20 {
			if got := st.GetState(BenchTokenAddress, tokenBalanceSlot(s)); got != sentUnits {
				return fmt.Errorf("bench: %s: sender %s token balance %s, want %s", who, s, got.Big(), sentUnits.Big())
			}
		}
	}
	wantWei := uint256.NewInt(l2TransferWei)
	wantUnits := common.BigToHash(big.NewInt(l2TransferUnits))
	for n := range w.blocks {
		for i := range w.perBlock {
			r := w.recipient(n, i)
			if w.kind.erc20 {
				if got := st.GetState(BenchTokenAddress, tokenBalanceSlot(r)); got != wantUnits {
					return fmt.Errorf("bench: %s: recipient %s token balance %s, want %d", who, r, got.Big(), l2TransferUnits)
				}
			} else if got := st.GetBalance(r); !got.Eq(wantWei) {
				return fmt.Errorf("bench: %s: recipient %s balance %s, want %d", who, r, got, l2TransferWei)
			}
		}
	}
	return nil
}

// selfCPU is the CPU time this process used so far (user and system,
// every thread; 0 where getrusage fails). Both importers run in this
// process one at a time, so the difference over an import is what that
// import cost, which on a loaded machine tells more than its wall time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
