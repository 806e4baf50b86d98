package integration

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/tbc"
	"github.com/hemi-go/hemi/internal/testtools/testkit"
)

// params is the network every test runs on.
var params = &chaincfg.RegressionNetParams

// Timeouts of the wait helpers. Syncing a few hundred regtest blocks takes
// seconds; the margins cover a loaded 2-core CI machine running -race.
const (
	syncTimeout = 2 * time.Minute
	pollEvery   = 10 * time.Millisecond
)

// logTailLines is how much of a service's log a failed test prints (and
// all that is kept: a sync's log is long).
const logTailLines = 300

// testLogger returns a logger for one service of t. Its output is printed
// only if t fails (or always, to stderr, with HEMI_TEST_LOG set), so passing
// runs stay quiet.
func testLogger(t *testing.T, name string) *slog.Logger {
	t.Helper()
	if os.Getenv("HEMI_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", name)
	}
	tail := &testkit.LogBuffer{Keep: logTailLines}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log of %s (last %d lines):\n%s", name, logTailLines, tail.String())
		}
	})
	return tail.Logger(slog.LevelDebug)
}

// waitFor polls cond until it holds, failing t after timeout.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(pollEvery)
	}
}

// node is one running tbc.Service with its query API.
type node struct {
	t       *testing.T
	name    string
	svc     *tbc.Service
	api     *tbc.Client
	apiAddr string
	dataDir string
	cancel  context.CancelFunc
	done    chan error
	stopped bool
}

// startNode runs a tbc.Service on dataDir syncing from peers, with its API
// on a free loopback port, until Stop or the end of the test.
func startNode(t *testing.T, name, dataDir string, peers ...string) *node {
	t.Helper()
	return startNodeWith(t, name, tbc.Config{DataDir: dataDir, Peers: peers})
}

// startNodeWith is startNode with more of the service's configuration;
// Params, API and Logger are set here. A start whose API port was taken
// between choosing and binding it is retried on another port.
func startNodeWith(t *testing.T, name string, cfg tbc.Config) *node {
	t.Helper()
	cfg.Params, cfg.Logger = params, testLogger(t, name)
	for attempt := 1; ; attempt++ {
		n, err := tryStartNode(t, name, cfg)
		if err == nil {
			t.Cleanup(n.Stop)
			return n
		}
		if attempt == 3 || !strings.Contains(err.Error(), "api listen") {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

// tryStartNode starts the service with its API on a free port and waits
// until the API answers; an error means Run has returned.
func tryStartNode(t *testing.T, name string, cfg tbc.Config) (*node, error) {
	t.Helper()
	cfg.API = testkit.FreeAddr(t)
	svc, err := tbc.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("tbc.New: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{t: t, name: name, svc: svc, api: tbc.NewClient(cfg.API), apiAddr: cfg.API, dataDir: cfg.DataDir,
		cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- svc.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-n.done:
			cancel()
			return nil, fmt.Errorf("Run returned early: %w", err)
		default:
		}
		if _, err := n.api.Status(context.Background()); err == nil {
			return n, nil
		}
		if time.Now().After(deadline) {
			n.Stop()
			t.Fatalf("%s: API on %s did not answer in 30s", name, cfg.API)
		}
		time.Sleep(pollEvery)
	}
}

// Stop cancels the service and checks that Run ends cleanly. It is safe to
// call twice.
func (n *node) Stop() {
	n.t.Helper()
	if n.stopped {
		return
	}
	n.stopped = true
	n.cancel()
	select {
	case err := <-n.done:
		if err != nil {
			n.t.Errorf("%s: Run: %v", n.name, err)
		}
	case <-time.After(30 * time.Second):
		n.t.Errorf("%s: Run did not return 30s after cancel", n.name)
	}
}

// ix is the service's index.
func (n *node) ix() *index.Index { return n.svc.Index() }

// waitTip waits until the service has indexed up to hash.
func (n *node) waitTip(hash chainhash.Hash) {
	n.t.Helper()
	waitFor(n.t, syncTimeout, n.name+" block tip "+hash.String(), func() bool {
		h, _ := n.svc.BlockTip()
		return h == hash
	})
}

// isNotFound reports whether err is the index's "not found" answer.
func isNotFound(err error) bool { return errors.Is(err, index.ErrNotFound) }
