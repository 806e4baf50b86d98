package index

import (
	"context"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
)

// TestSlowSubscriber: a subscriber that reads nothing while 150 blocks
// connect neither blocks the index nor loses events; a second subscriber
// resumes from a sequence number after a restart.
func TestSlowSubscriber(t *testing.T) {
	g := newGen(regtest)
	bs := g.chain(t, *regtest.GenesisHash, 150, script(1))
	dir := t.TempDir()
	ix := openTest(t, dir, regtest)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow := ix.Subscribe(ctx, 0)
	feed(t, ix, bs)
	mustTip(t, ix, bs[149].BlockHash(), 150)
	got := collect(t, slow, 150)
	for i, e := range got {
		if e.Seq != uint64(i) || e.Kind != EventConnected || e.Height != int32(i+1) || e.Hash != bs[i].BlockHash() {
			t.Fatalf("event %d: %+v", i, e)
		}
	}
	if next := ix.NextEventSeq(); next != 150 {
		t.Fatalf("NextEventSeq %d", next)
	}
	ix.Close()
	select {
	case _, ok := <-slow:
		if ok {
			t.Fatal("event after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("subscription not closed by Close")
	}

	ix = openTest(t, dir, regtest)
	defer ix.Close()
	resumed := ix.Subscribe(ctx, 140)
	more := g.chain(t, bs[149].BlockHash(), 2, script(1))
	feed(t, ix, more)
	got = collect(t, resumed, 12)
	if got[0].Seq != 140 || got[0].Hash != bs[140].BlockHash() || got[11].Hash != more[1].BlockHash() || got[11].Height != 152 {
		t.Fatalf("resumed events: first %+v last %+v", got[0], got[11])
	}

	// Cancelling the context closes the channel.
	ctx2, cancel2 := context.WithCancel(context.Background())
	sub := ix.Subscribe(ctx2, ix.NextEventSeq())
	cancel2()
	select {
	case _, ok := <-sub:
		if ok {
			t.Fatal("unexpected event")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("subscription not closed by cancel")
	}
}

// TestConcurrentQueriesDuringSync runs queries while blocks connect and
// reorg, for the race detector and for consistency: a balance as of a
// fixed block never changes.
func TestConcurrentQueriesDuringSync(t *testing.T) {
	s := newForkScenario(t)
	ix := openTest(t, t.TempDir(), regtest)
	defer ix.Close()
	feed(t, ix, append(append([]*wire.MsgBlock{}, s.common...), s.a...))
	a5 := hashOf(s.a[2])
	want, err := ix.Balance(payA, a5)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		defer close(errc)
		for {
			select {
			case <-done:
				return
			default:
			}
			got, err := ix.Balance(payA, a5)
			if err != nil || got != want {
				errc <- errorf("balance as of a5 changed: %d %v", got, err)
				return
			}
			_, _ = ix.Balance(payB, [32]byte{})
			_ = ix.NeedBlocks(10)
			_ = ix.Locator()
		}
	}()
	feed(t, ix, s.b)
	more := s.g.chain(t, hashOf(s.b[3]), 20, payM)
	feed(t, ix, more)
	mustTip(t, ix, more[19].BlockHash(), 26)
	close(done)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
