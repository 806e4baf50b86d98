package index

import (
	"context"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/cockroachdb/pebble/v2"
)

// EventKind says whether a block joined or left the connected chain.
type EventKind uint8

// Event kinds.
const (
	EventConnected    EventKind = 1
	EventDisconnected EventKind = 2
)

func (k EventKind) String() string {
	switch k {
	case EventConnected:
		return "connected"
	case EventDisconnected:
		return "disconnected"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is one change of the connected chain. Seq numbers are dense and
// increase by one per event. For a reorg the disconnected blocks come
// first, newest first, then the connected ones, oldest first; so applying
// events in order always walks the chain one block at a time.
type Event struct {
	Seq    uint64
	Kind   EventKind
	Hash   chainhash.Hash
	Height int32
}

// NextEventSeq returns the sequence number the next event will get. A
// consumer that wants only future events subscribes from it.
func (ix *Index) NextEventSeq() uint64 { return ix.published.Load() }

// Subscribe delivers every event with Seq >= fromSeq, in order, on the
// returned channel, until ctx is done or the index is closed; then the
// channel is closed.
//
// Concurrency contract: events are written to the database in the same
// atomic batch as the chain change they describe, and each subscriber reads
// them back in its own goroutine. So a slow subscriber never blocks the
// indexer and never loses events: it only falls behind, and it can resume
// after a restart from the last Seq it processed plus one, or from
// SeqAfter(last block it applied); events are kept forever. When an event
// arrives, queries already answer as of the event's block. The channel is
// closed when ctx is done or the index closes.
func (ix *Index) Subscribe(ctx context.Context, fromSeq uint64) <-chan Event {
	ch := make(chan Event, 64)
	if err := ix.enter(); err != nil {
		close(ch)
		return ch
	}
	ix.wg.Add(1)
	ix.leave()
	go func() {
		defer ix.wg.Done()
		defer close(ch)
		next := fromSeq
		for {
			ix.evMu.Lock()
			notify := ix.evNotify
			ix.evMu.Unlock()
			evs, err := ix.readEvents(next, ix.published.Load(), 256)
			if err != nil {
				if !errors.Is(err, ErrClosed) {
					ix.log.Error("read events failed", "from", next, "err", err)
				}
				return
			}
			for _, e := range evs {
				select {
				case ch <- e:
				case <-ctx.Done():
					return
				case <-ix.done:
					return
				}
				next = e.Seq + 1
			}
			if len(evs) > 0 {
				continue
			}
			select {
			case <-notify:
			case <-ctx.Done():
				return
			case <-ix.done:
				return
			}
		}
	}()
	return ch
}

// readEvents returns up to max stored events with from <= seq < to.
func (ix *Index) readEvents(from, to uint64, max int) ([]Event, error) {
	if from >= to {
		return nil, nil
	}
	if err := ix.enter(); err != nil {
		return nil, err
	}
	defer ix.leave()
	it, err := ix.db.NewIter(&pebble.IterOptions{LowerBound: eventKey(from), UpperBound: eventKey(to)})
	if err != nil {
		return nil, fmt.Errorf("index: events: %w", err)
	}
	defer it.Close()
	var out []Event
	for ok := it.First(); ok && len(out) < max; ok = it.Next() {
		seq, err := decodeEventKey(it.Key())
		if err != nil {
			return nil, err
		}
		val, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("index: events: %w", err)
		}
		se, err := decodeEvent(val)
		if err != nil {
			return nil, err
		}
		out = append(out, Event{Seq: seq, Kind: se.Kind, Hash: se.Hash, Height: se.Height})
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("index: events: %w", err)
	}
	return out, nil
}

// publish makes events below seq visible and wakes the subscribers.
func (ix *Index) publish(seq uint64) {
	ix.published.Store(seq)
	ix.evMu.Lock()
	close(ix.evNotify)
	ix.evNotify = make(chan struct{})
	ix.evMu.Unlock()
}

// SeqAfter returns the sequence number just after the newest event that
// connected hash: a consumer that has applied the chain up to hash resumes
// with Subscribe(ctx, SeqAfter(hash)) and then sees any later
// disconnection of hash too. The genesis block (never an event) gives 0.
func (ix *Index) SeqAfter(hash chainhash.Hash) (uint64, error) {
	if hash == *ix.params.GenesisHash {
		return 0, nil
	}
	if err := ix.enter(); err != nil {
		return 0, err
	}
	defer ix.leave()
	it, err := ix.db.NewIter(&pebble.IterOptions{LowerBound: eventKey(0), UpperBound: eventKey(ix.published.Load())})
	if err != nil {
		return 0, fmt.Errorf("index: events: %w", err)
	}
	defer it.Close()
	for ok := it.Last(); ok; ok = it.Prev() {
		val, err := it.ValueAndErr()
		if err != nil {
			return 0, fmt.Errorf("index: events: %w", err)
		}
		e, err := decodeEvent(val)
		if err != nil {
			return 0, err
		}
		if e.Kind == EventConnected && e.Hash == hash {
			seq, err := decodeEventKey(it.Key())
			if err != nil {
				return 0, err
			}
			return seq + 1, nil
		}
	}
	if err := it.Error(); err != nil {
		return 0, fmt.Errorf("index: events: %w", err)
	}
	return 0, fmt.Errorf("no connect event for %s: %w", hash, ErrNotFound)
}
