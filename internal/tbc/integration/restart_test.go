package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/hemi-go/hemi/internal/btc/btcdtest"
	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/tbc"
)

// Environment of the child process that TestRestartContinues kills.
const (
	childEnv     = "HEMI_TBC_INTEGRATION_CHILD"
	childDirEnv  = "HEMI_TBC_INTEGRATION_DIR"
	childPeerEnv = "HEMI_TBC_INTEGRATION_PEER"
)

// restartIndex makes the index commit every few blocks, so a stop or a
// kill lands between many commits instead of before or after one big one.
var restartIndex = index.Config{BatchBytes: 16 << 10}

// TestMain runs the service as a child process when the test binary is
// started by TestRestartContinues, and the tests otherwise.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		if err := childMain(); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childMain runs a tbc.Service on $HEMI_TBC_INTEGRATION_DIR syncing from
// $HEMI_TBC_INTEGRATION_PEER and prints "open <height> <hash>" once, then
// "tip <height> <hash>" whenever the indexed tip changes, until it is
// killed (or gives up after two minutes, so it never outlives a test).
func childMain() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	svc, err := tbc.New(tbc.Config{
		Params:  params,
		DataDir: os.Getenv(childDirEnv),
		Peers:   []string{os.Getenv(childPeerEnv)},
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Index:   restartIndex,
	})
	if err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	last, height := svc.BlockTip()
	fmt.Fprintf(out, "open %d %s\n", height, last)
	out.Flush()
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-t.C:
			if h, height := svc.BlockTip(); h != last {
				last = h
				fmt.Fprintf(out, "tip %d %s\n", height, h)
				out.Flush()
			}
		}
	}
}

// TestRestartContinues stops the service in the middle of a sync, checks
// the stopped index against btcd as of where it stopped, restarts it on the
// same data directory and checks that it continues to the tip and answers
// like btcd. Then it does the same with kill -9 of a child process at
// random moments of the sync.
func TestRestartContinues(t *testing.T) {
	btcd := btcdtest.Start(t, btcdtest.Options{TxIndex: true, AddrIndex: true})
	w := newWallet(t, "restart")
	w.mine(btcd, 110)
	w.publish(btcd, keystone(7, w.tip))
	w.grow(btcd, 400)
	s := takeSnapshot(t, btcd, w.addresses())
	e := expectation{absent: w.sent, pubs: w.pubs}
	t.Logf("chain: %s", s.summary())

	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	t.Run("stop and restart", func(t *testing.T) {
		dir := t.TempDir()
		cfg := tbc.Config{DataDir: dir, Peers: []string{btcd.P2PAddr()}, Index: restartIndex}
		// btcd serves only the chain up to target during the first run, so
		// the stop lands mid-sync however fast the sync is; the second run
		// gets the rest.
		target := s.height/4 + rng.Int32N(s.height/2)
		cut := s.hashes[target+1]
		if err := btcd.RPC().InvalidateBlock(&cut); err != nil {
			t.Fatalf("invalidateblock %s: %v", cut, err)
		}
		first := startNodeWith(t, "first run", cfg)
		waitFor(t, syncTimeout, fmt.Sprintf("first run at height %d", target), func() bool {
			_, h := first.svc.BlockTip()
			return h >= target
		})
		first.Stop()
		stopped, stoppedHeight := first.svc.BlockTip()
		t.Logf("stopped at %d (btcd cut at %d) of %d", stoppedHeight, target, s.height)
		if stoppedHeight != target || stopped != s.hashes[target] {
			t.Fatalf("first run stopped at %s@%d, want btcd's cut tip %s@%d", stopped, stoppedHeight, s.hashes[target], target)
		}
		if err := btcd.RPC().ReconsiderBlock(&cut); err != nil {
			t.Fatalf("reconsiderblock %s: %v", cut, err)
		}
		btcd.WaitForTip(s.tip)

		// A clean stop keeps every committed block, consistently.
		got := checkReopened(t, dir, s, e)
		if got != stopped {
			t.Errorf("reopened at %s, stopped at %s@%d", got, stopped, stoppedHeight)
		}

		second := startNodeWith(t, "second run", cfg)
		second.waitTip(s.tip)
		compareIndex(t, second.ix(), s, true, e)
		// As of where the first run stopped, it answers as it did then.
		compareIndex(t, second.ix(), s.truncate(t, stoppedHeight), false, e)
		compareAPI(t, second.api, s, true, e)
		checkEvents(t, second.ix(), s, s.height)
	})

	t.Run("kill -9 and reopen", func(t *testing.T) {
		dir := t.TempDir()
		reached := int32(0) // highest tip a child reported
		var reopened []int32
		for round := range 3 {
			if reached >= s.height {
				// A child outran its kill and finished the sync:
				// there is no mid-sync point left to kill at.
				break
			}
			// Kill at a random height of what is left, in the first
			// two thirds so the kill lands mid-sync.
			left := s.height - reached
			target := reached + 1 + rng.Int32N(max(1, left*2/3))
			opened, killed := runChildUntil(t, dir, btcd.P2PAddr(), target)
			t.Logf("round %d: child opened at %d, killed at %d (target %d)", round, opened, killed, target)
			if opened < reached {
				// The index syncs every commit before it publishes the
				// tip, so a kill -9 never loses a tip a caller saw.
				t.Errorf("round %d: reopened at %d, below the tip %d reported (committed) before the kill", round, opened, reached)
			}
			reached = max(reached, opened, killed)
			tip := checkReopened(t, dir, s, e)
			reopened = append(reopened, heightOf(t, s, tip))
			if t.Failed() {
				return
			}
		}
		final := startNodeWith(t, "after kills", tbc.Config{DataDir: dir, Peers: []string{btcd.P2PAddr()}})
		final.waitTip(s.tip)
		compareIndex(t, final.ix(), s, true, e)
		checkEvents(t, final.ix(), s, s.height)
		for _, h := range reopened {
			compareIndex(t, final.ix(), s.truncate(t, h), false, e)
		}
	})
}

// runChildUntil runs the service in a child process on dir and kills it
// with SIGKILL as soon as it reports a tip at or above target. It returns
// the height the child opened at and the last height it reported.
func runChildUntil(t *testing.T, dir, peer string, target int32) (opened, last int32) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", childDirEnv+"="+dir, childPeerEnv+"="+peer)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	sc := bufio.NewScanner(out)
	lines := make(chan string)
	go func() {
		defer close(lines)
		for sc.Scan() {
			lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	defer func() {
		_ = cmd.Process.Kill() // SIGKILL; a no-op error if already killed
		for range lines {      // the reader ends at EOF; Wait comes after it
		}
		_ = cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("child stderr:\n%s", stderr.String())
		}
	}()
	timeout := time.After(syncTimeout)
	opened = -1
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("child ended before reaching height %d (last %d)", target, last)
			}
			kind, height, _, err := parseChildLine(line)
			if err != nil {
				t.Fatalf("child: %v", err)
			}
			if kind == "open" {
				opened, last = height, height
			} else {
				last = height
			}
			if opened >= 0 && last >= target {
				if err := cmd.Process.Kill(); err != nil {
					t.Fatalf("kill child: %v", err)
				}
				return opened, last
			}
		case <-timeout:
			t.Fatalf("child did not reach height %d in %s (last %d)", target, syncTimeout, last)
		}
	}
}

func parseChildLine(line string) (kind string, height int32, hash chainhash.Hash, err error) {
	f := strings.Fields(line)
	if len(f) != 3 || (f[0] != "open" && f[0] != "tip") {
		return "", 0, hash, fmt.Errorf("unexpected line %q", line)
	}
	h, err := strconv.ParseInt(f[1], 10, 32)
	if err != nil {
		return "", 0, hash, fmt.Errorf("line %q: %w", line, err)
	}
	hp, err := chainhash.NewHashFromStr(f[2])
	if err != nil {
		return "", 0, hash, fmt.Errorf("line %q: %w", line, err)
	}
	return f[0], int32(h), *hp, nil
}

// reopenIndex opens the index a stopped service left in dataDir, without
// any network, and waits until the blocks it had stored but not connected
// are connected. The test closes it.
func reopenIndex(t *testing.T, dataDir string) *index.Index {
	t.Helper()
	ix, err := index.Open(index.Config{Dir: filepath.Join(dataDir, "tbc"), Params: params,
		Logger: testLogger(t, "reopened index"), MaxBatchDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatalf("reopen index: %v", err)
	}
	t.Cleanup(func() {
		if err := ix.Close(); err != nil {
			t.Errorf("close reopened index: %v", err)
		}
	})
	// Open connects blocks that were stored but not connected before the
	// stop, committing them after MaxBatchDelay: wait until the tip rests.
	tip, _ := ix.BlockTip()
	for still := time.Now(); time.Since(still) < 300*time.Millisecond; time.Sleep(pollEvery) {
		if h, _ := ix.BlockTip(); h != tip {
			tip, still = h, time.Now()
		}
	}
	return ix
}

// checkReopened reopens the index in dataDir, checks that its tip is a
// block of btcd's chain and that every answer as of that tip and every
// stored event match btcd's chain cut there, and closes it. It returns the
// tip.
func checkReopened(t *testing.T, dataDir string, s *snapshot, e expectation) chainhash.Hash {
	t.Helper()
	ix := reopenIndex(t, dataDir)
	defer ix.Close() // before the next round opens it again; Close is idempotent
	tip, height := ix.BlockTip()
	if height > s.height || s.hashes[height] != tip {
		t.Fatalf("reopened tip %s@%d is not on btcd's chain", tip, height)
	}
	compareIndex(t, ix, s.truncate(t, height), true, e)
	checkEvents(t, ix, s, height)
	return tip
}

// checkEvents reads every stored event of ix and checks that they are
// exactly the connection of btcd's blocks 1..height, in order, with dense
// sequence numbers from 0 (a linear chain has no disconnections).
func checkEvents(t *testing.T, ix *index.Index, s *snapshot, height int32) {
	t.Helper()
	if next := ix.NextEventSeq(); next != uint64(height) {
		t.Errorf("next event seq %d, want %d (one event per connected block)", next, height)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := readEvents(t, ix.Subscribe(ctx, 0), int(height))
	for i, ev := range got {
		h := int32(i) + 1
		if ev.Seq != uint64(i) || ev.Kind != index.EventConnected || ev.Height != h || ev.Hash != s.hashes[h] {
			t.Errorf("event %d: seq %d %v %s@%d, want seq %d connected %s@%d", i, ev.Seq, ev.Kind, ev.Hash, ev.Height, i, s.hashes[h], h)
			return
		}
	}
}

// heightOf returns the height of hash in the snapshot's chain.
func heightOf(t *testing.T, s *snapshot, hash chainhash.Hash) int32 {
	t.Helper()
	for h, x := range s.hashes {
		if x == hash {
			return int32(h)
		}
	}
	t.Fatalf("%s is not in btcd's chain", hash)
	return -1
}
