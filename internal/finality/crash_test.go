package finality

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/hemi-go/hemi/internal/chain/genesis"
)

// crashEvents is how many index events the crash scenario holds.
const crashEvents = 20_000

// crashScript builds the same Bitcoin history and L2 chain in the child
// and the parent: 20 keystones, and Bitcoin blocks mined, publishing
// random keystones, and reorganised 1-3 blocks deep, from a fixed seed.
func crashScript() (*simBTC, *simChain) {
	b, c := newSimBTC(), newSimChain()
	for range 3 {
		b.mine()
	}
	c.grow(500, 1, 0)
	rng := rand.New(rand.NewPCG(10, 7))
	for len(b.events) < crashEvents {
		switch x := rng.IntN(10); {
		case x < 6:
			b.mine()
		case x < 9:
			b.mine(c.ks[uint64(25*(1+rng.IntN(20)))].K.Script(), c.ks[uint64(25*(1+rng.IntN(20)))].K.Script())
		case b.height() > 10:
			b.disconnect(1 + rng.IntN(3))
		}
	}
	return b, c
}

// TestKill9 kills a child process whose service is applying the index's
// events and saving its state, at some moment, then restarts a service
// on the directory: it resumes from what was saved (not from the start)
// and ends with the same answers as a service rebuilt from scratch.
func TestKill9(t *testing.T) {
	const env = "HEMI_FINALITY_CRASH_CHILD"
	if dir := os.Getenv(env); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	for round, killAt := range []int64{500, 5_000, 12_000} {
		dir := filepath.Join(t.TempDir(), "finality")
		cmd := exec.Command(os.Args[0], "-test.run=^TestKill9$")
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
		var seen int64
		for sc.Scan() {
			if n, err := strconv.ParseInt(sc.Text(), 10, 64); err == nil {
				seen = n
				if n >= killAt {
					break
				}
			}
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		if seen < killAt {
			t.Fatalf("round %d: child stopped after %d events, before %d", round, seen, killAt)
		}

		b, c := crashScript()
		r := runService(t, b, c, dir, 10)
		replayed := b.eventsSent.Load()
		got := snapshotOf(t, r.s, c)
		r.stop()
		resetCounts(b, c)
		fresh := runService(t, b, c, "", 10)
		want := snapshotOf(t, fresh.s, c)
		fresh.stop()
		t.Logf("round %d: killed after %d events were delivered; the restart read %d of %d", round, seen, replayed, len(b.events))
		// Unsynced batches lost with the process (pebble's WAL tail not
		// yet written when it died, more under load) are replayed too,
		// but a kill after thousands of events must resume far from
		// the start.
		if killAt >= 5_000 && replayed >= int64(len(b.events))-killAt/4 {
			t.Fatalf("round %d: the restart replayed %d events, the child had applied about %d of %d", round, replayed, seen, len(b.events))
		}
		if got.heads.Finalized < want.heads.Finalized || got.heads.Safe < want.heads.Safe {
			t.Fatalf("round %d: restarted heads %+v below rebuilt %+v", round, got.heads, want.heads)
		}
		got.heads, want.heads = Heads{}, Heads{} // the tag may stay above a rebuilt one's
		if d := got.diff(want); d != "" {
			t.Fatalf("round %d: restarted and rebuilt services differ: %s", round, d)
		}
	}
}

// crashChild runs a service with state in dir over crashScript and
// prints how many events it was sent, every millisecond, until killed.
func crashChild(dir string) {
	b, c := crashScript()
	s, err := New(Config{Index: b, PoP: genesis.PoPConfig{SuperfinalDepth: 10}, Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	c.s = s
	s.Bind(c)
	go func() {
		if err := s.Run(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}()
	for {
		fmt.Println(b.eventsSent.Load())
		time.Sleep(time.Millisecond)
	}
}
