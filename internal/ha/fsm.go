package ha

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/hashicorp/raft"

	"github.com/hemi-go/hemi/internal/chain"
)

var (
	// ErrRejected: the FSM refused a committed entry whose block is not
	// the child of the last applied block (its number is not last+1 or
	// its parent differs). Every member refuses it alike, so the group
	// never applies two blocks at one height; the leader's Commit returns
	// it and the producer builds again on the unchanged head.
	ErrRejected = errors.New("ha: entry is not the child of the last applied block")
	// ErrStopped: the member stopped while an entry waited to be applied
	// (its chain lacked the Bitcoin view or the parent). The entry is
	// applied again from the log when the member restarts.
	ErrStopped = errors.New("ha: member stopped")
)

// Ref is one block: its number and hash.
type Ref struct {
	Number uint64      `json:"number"`
	Hash   common.Hash `json:"hash"`
}

// fsm is the group's replicated state machine: the chain of committed
// blocks. Its state is the last applied block only (blocks live in the
// chain database), so a snapshot is that reference and the log keeps a
// bounded tail.
//
// Determinism: Apply's verdict (apply or ErrRejected/ErrBadEntry) depends
// only on the entry and the last applied block, both identical on every
// member at the same log index; the chain work behind an accepted entry
// is retried until it succeeds (never skipped), so every member's chain
// holds every applied block.
type fsm struct {
	chain     Chain
	publisher Publisher // nil: none
	log       *slog.Logger
	m         *metrics
	stop      <-chan struct{}
	retry     time.Duration

	// pending holds the leader's own executed blocks between Commit and
	// their Apply, by hash, so the leader stores them without executing
	// them again (chain.CommitBuilt).
	pending sync.Map // common.Hash -> *chain.Built
	// committedAt is when raft handed the leader's own pending block to
	// Apply (the group committed it), by hash, for Commit's log line.
	committedAt sync.Map // common.Hash -> time.Time

	mu   sync.Mutex
	last *Ref // nil until the first entry (or a snapshot) is applied
	// applying is the block Apply is storing (the child of last), from
	// before the chain may take it until last is set to it: the chain's
	// head moves to it inside the store, so a head equal to applying is
	// the last committed block being applied, not a head ahead of the
	// group (notCaughtUp).
	applying *Ref
	waiting  string
	stopped  bool // an Apply was abandoned: no snapshot may be taken after it
}

// lastApplied is the last applied block (nil: none yet).
func (f *fsm) lastApplied() *Ref {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.last == nil {
		return nil
	}
	r := *f.last
	return &r
}

// applyState returns the last applied block and the block being
// applied (nil when none), read together.
func (f *fsm) applyState() (last, applying *Ref) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.last != nil {
		r := *f.last
		last = &r
	}
	if f.applying != nil {
		r := *f.applying
		applying = &r
	}
	return last, applying
}

// waitingFor says what the FSM waits for before it can apply the next
// entry ("" when it does not wait).
func (f *fsm) waitingFor() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.waiting
}

// Apply implements raft.FSM. The response is nil or an error (ErrBadEntry,
// ErrRejected, ErrStopped, chain.ErrClosed).
func (f *fsm) Apply(l *raft.Log) any {
	b, err := DecodeEntry(l.Data)
	if err != nil {
		f.m.rejected.Inc()
		f.log.Warn("raft entry refused: not a block", "index", l.Index, "err", err)
		return err
	}
	number, hash := b.NumberU64(), b.Hash()
	_, own := f.pending.Load(hash)
	if own {
		f.committedAt.Store(hash, time.Now())
	}
	if last := f.lastApplied(); last != nil && (number != last.Number+1 || b.Header.ParentHash != last.Hash) {
		// A leader that lost its leadership while this entry was in
		// flight, and whose entry a later leader committed before its own
		// at the same height: refused here by every member.
		f.m.rejected.Inc()
		f.pending.Delete(hash)
		f.log.Warn("raft entry refused: not the child of the last applied block", "index", l.Index, "term", l.Term,
			"number", number, "hash", hash, "parent", b.Header.ParentHash, "last_number", last.Number, "last_hash", last.Hash)
		return fmt.Errorf("%w: block %d %s on parent %s, last applied is %d %s", ErrRejected, number, hash,
			b.Header.ParentHash, last.Number, last.Hash)
	}
	if own && f.publisher != nil {
		// Committed and the child of the last applied block: it is the
		// chain's next block, and may go out while it is stored.
		f.publisher.PublishCommitted(b)
	}
	f.mu.Lock()
	f.applying = &Ref{Number: number, Hash: hash}
	f.mu.Unlock()
	if err := f.store(b); err != nil {
		f.mu.Lock()
		f.applying = nil
		f.mu.Unlock()
		return err
	}
	f.mu.Lock()
	f.last, f.applying = &Ref{Number: number, Hash: hash}, nil
	f.mu.Unlock()
	f.m.applied.Set(float64(number))
	return nil
}

// store puts the committed block b in the chain: the leader's own
// executed block with CommitBuilt, any other with InsertBlock. A block
// already stored is fine (gossip or an earlier run stored it). A block
// the chain cannot take yet (its Bitcoin view or parent not there) is
// retried until it can; a block the chain refuses as invalid is an
// Error (the leader validated it: this member's chain differs) and is
// retried too, so the member stays visibly stuck rather than skipping a
// committed block.
func (f *fsm) store(b *chain.Block) error {
	hash := b.Hash()
	if v, ok := f.pending.LoadAndDelete(hash); ok {
		if err := f.chain.CommitBuilt(v.(*chain.Built)); err == nil {
			return nil
		} else if errors.Is(err, chain.ErrClosed) {
			return f.abandon(err)
		} else {
			f.log.Debug("own block not stored as built; inserting it", "number", b.NumberU64(), "err", err)
		}
	}
	wait := f.retry
	for {
		err := f.chain.InsertBlock(b)
		switch {
		case err == nil, errors.Is(err, chain.ErrKnownBlock):
			f.setWaiting("")
			return nil
		case errors.Is(err, chain.ErrClosed):
			return f.abandon(err)
		case errors.Is(err, chain.ErrViewNotReady), errors.Is(err, chain.ErrUnknownParent):
			f.setWaiting(fmt.Sprintf("block %d: %v", b.NumberU64(), err))
			f.log.Debug("committed block waits for this member's chain", "number", b.NumberU64(), "err", err)
		default:
			f.setWaiting(fmt.Sprintf("block %d refused: %v", b.NumberU64(), err))
			f.log.Error("committed block refused by this member's chain; retrying", "number", b.NumberU64(), "hash", hash, "err", err)
			wait = max(wait, time.Second)
		}
		select {
		case <-f.stop:
			return f.abandon(ErrStopped)
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

func (f *fsm) setWaiting(s string) {
	f.mu.Lock()
	f.waiting = s
	f.mu.Unlock()
}

// abandon marks the FSM stopped: raft counts the entry as applied, so no
// snapshot may record a state after it (Snapshot refuses).
func (f *fsm) abandon(err error) error {
	f.mu.Lock()
	f.stopped = true
	f.mu.Unlock()
	return err
}

// snapshotState is a snapshot's content: the last applied block (absent
// before the first entry).
type snapshotState struct {
	Last *Ref `json:"last,omitempty"`
}

// Snapshot implements raft.FSM.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return nil, fmt.Errorf("%w: no snapshot after an abandoned entry", ErrStopped)
	}
	s := snapshotState{}
	if f.last != nil {
		r := *f.last
		s.Last = &r
	}
	return s, nil
}

// Persist implements raft.FSMSnapshot.
func (s snapshotState) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(s); err != nil {
		sink.Cancel()
		return fmt.Errorf("ha: write snapshot: %w", err)
	}
	return sink.Close()
}

// Release implements raft.FSMSnapshot.
func (snapshotState) Release() {}

// maxSnapshotSize bounds what Restore reads: a snapshot is one small
// JSON object.
const maxSnapshotSize = 1 << 16

// Restore implements raft.FSM: the last applied block becomes the
// snapshot's, once the chain holds it (a member restored from a leader's
// snapshot may still be syncing the chain: it waits).
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var s snapshotState
	if err := json.NewDecoder(io.LimitReader(rc, maxSnapshotSize)).Decode(&s); err != nil {
		return fmt.Errorf("ha: read snapshot: %w", err)
	}
	if s.Last != nil {
		for wait := f.retry; ; wait = min(2*wait, 2*time.Second) {
			h, err := f.chain.HeaderByHash(s.Last.Hash)
			if err == nil && h.Number.Uint64() == s.Last.Number {
				break
			}
			f.setWaiting(fmt.Sprintf("snapshot block %d %s not in the chain yet", s.Last.Number, s.Last.Hash))
			f.log.Info("raft snapshot: waiting for the chain to hold its block", "number", s.Last.Number, "hash", s.Last.Hash)
			select {
			case <-f.stop:
				return f.abandon(ErrStopped)
			case <-time.After(wait):
			}
		}
		f.setWaiting("")
	}
	f.mu.Lock()
	f.last = s.Last
	f.mu.Unlock()
	if s.Last != nil {
		f.m.applied.Set(float64(s.Last.Number))
	}
	return nil
}
