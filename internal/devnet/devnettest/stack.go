package devnettest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/devnet"
	"github.com/hemi-go/hemi/internal/finality"
	"github.com/hemi-go/hemi/internal/popm"
)

// ErrStack means the stack stopped (one of its services failed, or Close
// was called) while a caller waited on it.
var ErrStack = devnet.ErrStopped

// Stack defaults.
const (
	// StackInitialBlocks are mined before the indexer starts, so the dev
	// miner's first coinbase (which funds the PoP miner) is mature.
	StackInitialBlocks = devnet.DefaultInitialBlocks
	// DefaultStackWait bounds each of the stack's waits when the
	// caller's context has no deadline.
	DefaultStackWait = devnet.DefaultWait
	// stackPoll is how often waits re-check a condition nothing
	// announces (the index tip, the mempool, finality).
	stackPoll = 5 * time.Millisecond
	// minePause is MineUntil's pause between blocks.
	minePause = 20 * time.Millisecond
)

// StackConfig configures StartStack: devnet.StartConfig, whose OnL2 the
// stack sets (and whose PoPM.OnEvent, if set, is called after the stack
// has recorded the event).
type StackConfig = devnet.StartConfig

// PoPEvent is a PoP miner event as the stack recorded it.
type PoPEvent struct {
	popm.Event
	// Seq numbers the events from 0 in the order they were reported.
	Seq int
	// BTCHeight is the regtest node's tip height when the event was
	// reported. For a transaction handed to the network (published,
	// bumped, republished) it is the height at broadcast: the stack
	// records it while no block is being mined, and MineBTC includes
	// the transaction in the next block, so it is mined at BTCHeight+1.
	BTCHeight int32
}

// Stack is the harness the end-to-end tests and the benchmarks drive: a
// whole devnet in one process (devnet.Start: the embedded regtest
// Bitcoin node, the Bitcoin indexer syncing from it over P2P, the L2
// node, the PoP miner funded from the dev coinbase, optionally the
// JSON-RPC server) with manual mining (MineBTC; a timer too with
// StackConfig.MineInterval), and records of what happened (the L2 heads
// and when they were sealed, the PoP miner's events) to wait on. Start
// it with StartStack and stop it with Close; its methods are safe for
// concurrent use.
type Stack struct {
	*devnet.Devnet

	cfg StackConfig

	// mineMu is held while a block is mined and while an event's
	// Bitcoin height is read, so a transaction is never reported at a
	// height a block under construction is about to change.
	mineMu sync.Mutex
	// pending are the transactions reported sent at the current tip, by
	// keystone id (a bump replaces its keystone's entry); guarded by
	// mineMu. MineBTC waits until they are in the mempool.
	pending map[[32]byte]chainhash.Hash
	mined   int // blocks MineBTC and MineEmptyBTC mined; guarded by mineMu

	mu      sync.Mutex
	events  []PoPEvent
	sealed  map[uint64]sealedAt
	changed chan struct{} // closed and replaced when events or sealed change
}

type sealedAt struct {
	hash common.Hash
	at   time.Time
}

// StartStack starts the stack (devnet.Start) in ctx's lifetime (or until
// Close): it mines StackInitialBlocks regtest blocks, waits for the
// indexer, funds the PoP miner, and starts the L2 node and the miner,
// recording every L2 head from before the sequencer runs and every PoP
// miner event. On error, whatever started is stopped.
func StartStack(ctx context.Context, cfg StackConfig) (*Stack, error) {
	s := &Stack{cfg: cfg, pending: map[[32]byte]chainhash.Hash{}, sealed: map[uint64]sealedAt{}, changed: make(chan struct{})}
	dcfg := cfg
	dcfg.OnL2 = func(d *devnet.Devnet) {
		s.Devnet = d
		// The head subscription starts before the sequencer, so every
		// block's arrival is recorded.
		d.Go(func(ctx context.Context) error {
			for h := range d.L2.Chain.Subscribe(ctx, 0) {
				s.mu.Lock()
				s.sealed[h.Number.Uint64()] = sealedAt{hash: h.Hash(), at: time.Now()}
				s.notifyLocked()
				s.mu.Unlock()
			}
			return nil
		})
	}
	dcfg.PoPM.OnEvent = s.onEvent
	// OnL2 has set s.Devnet before the L2 or the miner (onEvent) ran.
	if _, err := devnet.Start(ctx, dcfg); err != nil {
		return nil, err
	}
	return s, nil
}

// onEvent records a PoP miner event (the miner's goroutine calls it).
func (s *Stack) onEvent(e popm.Event) {
	s.mineMu.Lock()
	_, height := s.BTC.Tip()
	switch e.Kind {
	case popm.NotePublished, popm.NoteBumped, popm.NoteRepublished:
		s.pending[e.KeystoneID] = e.Txid
	case popm.NoteRefused:
		if s.pending[e.KeystoneID] == e.Txid {
			delete(s.pending, e.KeystoneID)
		}
	}
	s.mineMu.Unlock()
	s.mu.Lock()
	s.events = append(s.events, PoPEvent{Event: e, Seq: len(s.events), BTCHeight: height})
	s.notifyLocked()
	s.mu.Unlock()
	if s.cfg.PoPM.OnEvent != nil {
		s.cfg.PoPM.OnEvent(e)
	}
}

// notifyLocked wakes the waiters; the caller holds mu.
func (s *Stack) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// MineBTC mines n ordinary regtest blocks (each takes what the mempool
// offers) and waits until the indexer has them. Before the first block it
// waits until every PoP transaction reported sent at the current tip is in
// the mempool, so a publication is always mined in the block after its
// broadcast.
func (s *Stack) MineBTC(ctx context.Context, n int) ([]chainhash.Hash, error) {
	return s.mineBTC(ctx, n, false, s.MinerAddr)
}

// MineEmptyBTC is MineBTC with coinbase-only blocks (regtest.MineEmpty):
// a replacement branch without the transactions a reorg returned to the
// mempool. It does not wait for pending transactions.
func (s *Stack) MineEmptyBTC(ctx context.Context, n int) ([]chainhash.Hash, error) {
	return s.mineBTC(ctx, n, true, s.MinerAddr)
}

// MineEmptyBTCTo is MineEmptyBTC paying the coinbases to addr: a test's
// own wallet gets whole block subsidies (exactly the subsidy: no fees),
// mature after 100 more blocks.
func (s *Stack) MineEmptyBTCTo(ctx context.Context, n int, addr address.Address) ([]chainhash.Hash, error) {
	return s.mineBTC(ctx, n, true, addr)
}

func (s *Stack) mineBTC(ctx context.Context, n int, empty bool, addr address.Address) ([]chainhash.Hash, error) {
	ctx, cancel := s.waitContext(ctx)
	defer cancel()
	var hs []chainhash.Hash
	for {
		s.mineMu.Lock()
		missing := s.missingLocked()
		if empty || len(missing) == 0 {
			var err error
			if empty {
				hs, err = s.BTC.MineEmpty(n, addr)
			} else {
				hs, err = s.BTC.Mine(n, addr)
			}
			s.mined += len(hs)
			if !empty {
				clear(s.pending) // all of them were in the mempool
			}
			s.mineMu.Unlock()
			if err != nil {
				return hs, fmt.Errorf("devnet: mine: %w", err)
			}
			break
		}
		s.mineMu.Unlock()
		if err := s.sleep(ctx, stackPoll); err != nil {
			return nil, fmt.Errorf("devnet: pop transactions %v reported sent are not in the regtest mempool: %w", missing, err)
		}
	}
	return hs, s.WaitIndexed(ctx)
}

// missingLocked lists the pending transactions not in the mempool; the
// caller holds mineMu.
func (s *Stack) missingLocked() []chainhash.Hash {
	if len(s.pending) == 0 {
		return nil
	}
	in := s.BTC.MempoolTxids()
	var out []chainhash.Hash
	for _, id := range s.pending {
		if !slices.Contains(in, id) {
			out = append(out, id)
		}
	}
	return out
}

// MinedBTC is how many blocks MineBTC and MineEmptyBTC have mined.
func (s *Stack) MinedBTC() int {
	s.mineMu.Lock()
	defer s.mineMu.Unlock()
	return s.mined
}

// WaitIndexed waits until the indexer's tip is the regtest node's.
func (s *Stack) WaitIndexed(ctx context.Context) error {
	return s.WaitFor(ctx, "the indexer to reach the regtest tip", func() bool {
		want, _ := s.BTC.Tip()
		got, _ := s.TBC.Index().BlockTip()
		return got == want
	})
}

// WaitMempool waits until the regtest mempool holds txid.
func (s *Stack) WaitMempool(ctx context.Context, txid chainhash.Hash) error {
	return s.WaitFor(ctx, "transaction "+txid.String()+" in the regtest mempool", func() bool {
		return slices.Contains(s.BTC.MempoolTxids(), txid)
	})
}

// WaitL2 waits until the L2 has canonical block number and returns its
// header.
func (s *Stack) WaitL2(ctx context.Context, number uint64) (*types.Header, error) {
	ctx, cancel := s.waitContext(ctx)
	defer cancel()
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if s.L2.Chain.Head().Number.Uint64() >= number {
			return s.L2.Chain.HeaderByNumber(number)
		}
		if err := s.wake(ctx, ch); err != nil {
			return nil, fmt.Errorf("devnet: wait for L2 block %d (head %d): %w", number, s.L2.Chain.Head().Number, err)
		}
	}
}

// SealedAt is when the stack's head subscription received canonical L2
// block number (its commit, right after the sequencer sealed it), and the
// block's hash.
func (s *Stack) SealedAt(number uint64) (time.Time, common.Hash, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.sealed[number]
	return x.at, x.hash, ok
}

// Events returns the recorded PoP miner events from sequence number from
// on.
func (s *Stack) Events(from int) []PoPEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	if from >= len(s.events) {
		return nil
	}
	return slices.Clone(s.events[max(from, 0):])
}

// WaitEvents waits until there is at least one PoP miner event with
// sequence number from or later and returns them all.
func (s *Stack) WaitEvents(ctx context.Context, from int) ([]PoPEvent, error) {
	ctx, cancel := s.waitContext(ctx)
	defer cancel()
	for {
		s.mu.Lock()
		ch := s.changed
		if n := len(s.events); max(from, 0) < n {
			out := slices.Clone(s.events[max(from, 0):])
			s.mu.Unlock()
			return out, nil
		}
		s.mu.Unlock()
		if err := s.wake(ctx, ch); err != nil {
			return nil, fmt.Errorf("devnet: wait for PoP miner event %d: %w", from, err)
		}
	}
}

// WaitEvent waits for the first PoP miner event with sequence number at
// least from, of kind, for keystone number.
func (s *Stack) WaitEvent(ctx context.Context, from int, kind popm.NoteKind, number uint64) (PoPEvent, error) {
	ctx, cancel := s.waitContext(ctx)
	defer cancel()
	for {
		s.mu.Lock()
		ch := s.changed
		for _, e := range s.events[min(max(from, 0), len(s.events)):] {
			if e.Kind == kind && e.KeystoneNumber == number {
				s.mu.Unlock()
				return e, nil
			}
		}
		from = len(s.events)
		s.mu.Unlock()
		if err := s.wake(ctx, ch); err != nil {
			return PoPEvent{}, fmt.Errorf("devnet: wait for a %s event of keystone %d: %w", kind, number, err)
		}
	}
}

// Finality is the finality service's answer for canonical L2 block
// number.
func (s *Stack) Finality(number uint64) (*finality.BlockFinality, error) {
	return s.L2.Finality.Finality(number)
}

// WaitFinality waits until cond holds for block number's finality and
// returns it.
func (s *Stack) WaitFinality(ctx context.Context, number uint64, what string, cond func(*finality.BlockFinality) bool) (*finality.BlockFinality, error) {
	var last *finality.BlockFinality
	err := s.WaitFor(ctx, fmt.Sprintf("L2 block %d: %s", number, what), func() bool {
		f, err := s.L2.Finality.Finality(number)
		if err != nil {
			return false
		}
		last = f
		return cond(f)
	})
	if err != nil && last != nil {
		err = fmt.Errorf("%w (last: published %v, confirmations %d, superfinal %v)", err, last.Published, last.Confirmations, last.Superfinal)
	}
	return last, err
}

// MineUntil mines one regtest block at a time (MineBTC, which waits for
// the PoP miner's publications to be in the mempool) until cond holds;
// after max blocks it gives up with an error naming what. Between blocks
// it pauses a moment so the L2 and the PoP miner take each one before
// the next.
func (s *Stack) MineUntil(ctx context.Context, what string, max int, cond func() bool) error {
	for i := 0; !cond(); i++ {
		if i == max {
			return fmt.Errorf("devnet: %s: not after %d Bitcoin blocks", what, max)
		}
		if _, err := s.MineBTC(ctx, 1); err != nil {
			return err
		}
		if err := s.sleep(ctx, minePause); err != nil {
			return fmt.Errorf("devnet: mine until %s: %w", what, err)
		}
	}
	return nil
}

// MineUntilSuperfinal is MineUntil L2 block number is superfinal; it
// returns the block's finality.
func (s *Stack) MineUntilSuperfinal(ctx context.Context, number uint64, max int) (*finality.BlockFinality, error) {
	var last *finality.BlockFinality
	err := s.MineUntil(ctx, fmt.Sprintf("L2 block %d superfinal", number), max, func() bool {
		f, err := s.L2.Finality.Finality(number)
		if err != nil {
			return false
		}
		last = f
		return f.Superfinal
	})
	if err != nil && last != nil {
		err = fmt.Errorf("%w (last: published %v, confirmations %d)", err, last.Published, last.Confirmations)
	}
	return last, err
}

// WaitFor polls cond until it holds, the stack stops or ctx (by default
// DefaultStackWait) ends.
func (s *Stack) WaitFor(ctx context.Context, what string, cond func() bool) error {
	ctx, cancel := s.waitContext(ctx)
	defer cancel()
	for !cond() {
		if err := s.sleep(ctx, stackPoll); err != nil {
			return fmt.Errorf("devnet: wait for %s: %w", what, err)
		}
	}
	return nil
}

// waitContext bounds a wait by StackConfig.WaitTimeout unless ctx has a
// deadline.
func (s *Stack) waitContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || s.cfg.WaitTimeout < 0 {
		return context.WithCancel(ctx)
	}
	if s.cfg.WaitTimeout > 0 {
		return context.WithTimeout(ctx, s.cfg.WaitTimeout)
	}
	return context.WithTimeout(ctx, DefaultStackWait)
}

func (s *Stack) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.Done():
		return s.Stopped()
	}
}

func (s *Stack) wake(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.Done():
		return s.Stopped()
	}
}
