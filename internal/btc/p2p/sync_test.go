package p2p

import (
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// testLogger discards logs unless P2P_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("P2P_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testClient struct {
	*Client
	reg  *prometheus.Registry
	done chan error
	stop context.CancelFunc
}

// startClient runs a client for chain against peers until the test ends.
func startClient(t *testing.T, chain Chain, peers []string, mod func(*Config)) *testClient {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg := Config{
		Params:       &chaincfg.RegressionNetParams,
		Peers:        peers,
		Logger:       testLogger(),
		Registerer:   reg,
		ReconnectMin: 20 * time.Millisecond,
		ReconnectMax: 100 * time.Millisecond,
		StallTimeout: 3 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg, chain)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tc := &testClient{Client: c, reg: reg, done: make(chan error, 1), stop: cancel}
	go func() { tc.done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-tc.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
	})
	return tc
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitSynced waits until fc's block tip is the tip of tc.
func waitSynced(t *testing.T, fc *fakeChain, tc *testChain) {
	t.Helper()
	want, wantHeight := tc.tip()
	waitFor(t, 30*time.Second, "block tip "+want.String(), func() bool {
		h, height := fc.BlockTip()
		return h == want && height == wantHeight
	})
}

func TestSyncOnePeer(t *testing.T) {
	t.Parallel()
	long := buildChain(t, 2100, 1)
	short := buildChain(t, 150, 3)
	tests := []struct {
		name   string
		chain  *testChain
		delay  time.Duration
		window int
		// minInFlight is the least the largest number of blocks in
		// flight seen while the chain stores a block may be: a full
		// pipeline keeps requests out while we index.
		minInFlight int
	}{
		{name: "more than one headers batch", chain: long},
		{name: "slow chain keeps pipeline full", chain: short, delay: 2 * time.Millisecond, minInFlight: DefaultBlocksInFlightPerPeer / 2},
		{name: "window of one block", chain: short, window: 1},
		{name: "window of eight blocks", chain: short, window: 8, delay: time.Millisecond, minInFlight: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := startRemote(t, remoteOpts{chain: tt.chain})
			fc := newFakeChain(tt.chain.params)
			fc.acceptDelay = tt.delay
			var c *testClient
			var maxInFlight atomic.Int32
			ready := make(chan struct{})
			fc.onAccept = func() {
				<-ready
				c.mu.Lock()
				n := int32(len(c.inflight))
				c.mu.Unlock()
				if n > maxInFlight.Load() {
					maxInFlight.Store(n)
				}
			}
			c = startClient(t, fc, []string{r.addr}, func(cfg *Config) { cfg.BlocksInFlightPerPeer = tt.window })
			close(ready)
			waitSynced(t, fc, tt.chain)
			window := cmp.Or(tt.window, DefaultBlocksInFlightPerPeer)
			if got := int(maxInFlight.Load()); got > window || got < tt.minInFlight {
				t.Errorf("max blocks in flight while storing = %d, want between %d and the window %d", got, tt.minInFlight, window)
			}
			n := len(tt.chain.blocks) - 1
			if got := r.servedBlocks(); got != n {
				t.Errorf("peer served %d blocks, want each of %d exactly once", got, n)
			}
			if got := metricValue(c.m.blocksAccepted); got != float64(n) {
				t.Errorf("blocks_accepted_total = %v, want %d", got, n)
			}
			waitFor(t, 5*time.Second, "synced progress", func() bool { return c.Progress().Synced })
			p := c.Progress()
			if p.HeaderHeight != int32(n) || p.BlockHeight != int32(n) || p.Peers != 1 || p.ETA != 0 {
				t.Errorf("progress = %+v", p)
			}
		})
	}
}

func TestSyncSeveralPeers(t *testing.T) {
	t.Parallel()
	tc := buildChain(t, 600, 2)
	fc := newFakeChain(tc.params)
	fc.acceptDelay = time.Millisecond
	var addrs []string
	var remotes []*remote
	for range 3 {
		r := startRemote(t, remoteOpts{chain: tc})
		remotes = append(remotes, r)
		addrs = append(addrs, r.addr)
	}
	c := startClient(t, fc, addrs, func(cfg *Config) { cfg.BlocksInFlightPerPeer = 8 })
	waitFor(t, 10*time.Second, "three peers", func() bool { return c.Progress().Peers == 3 })
	waitSynced(t, fc, tc)
	total, used := 0, 0
	for _, r := range remotes {
		total += r.servedBlocks()
		if r.servedBlocks() > 0 {
			used++
		}
	}
	if total != 600 {
		t.Errorf("peers served %d blocks in total, want 600 (no duplicates)", total)
	}
	if used < 2 {
		t.Errorf("blocks came from %d peer(s), want at least 2", used)
	}
	infos := c.Peers()
	if len(infos) != 3 {
		t.Fatalf("Peers() = %d entries, want 3", len(infos))
	}
	for _, pi := range infos {
		if pi.UserAgent == "" || !pi.Witness || pi.BytesReceived == 0 || pi.Height != 600 || pi.Connected.IsZero() {
			t.Errorf("peer info %+v", pi)
		}
	}
}

func TestRerequest(t *testing.T) {
	t.Parallel()
	tc := buildChain(t, 300, 2)
	prefix := &testChain{params: tc.params, blocks: tc.blocks[:60], hashes: tc.hashes[:60], index: map[chainhash.Hash]int{}}
	for i, h := range prefix.hashes {
		prefix.index[h] = i
	}
	tests := []struct {
		name  string
		flaky remoteOpts
	}{
		{name: "peer disconnects mid sync", flaky: remoteOpts{chain: tc, serveLimit: 40}},
		{name: "peer stalls", flaky: remoteOpts{chain: tc, ignoreBlocks: true}},
		{name: "peer lacks blocks", flaky: remoteOpts{chain: prefix}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			flaky := startRemote(t, tt.flaky)
			fc := newFakeChain(tc.params)
			fc.acceptDelay = time.Millisecond
			c := startClient(t, fc, []string{flaky.addr}, func(cfg *Config) {
				cfg.StallTimeout = 300 * time.Millisecond
				cfg.BlocksInFlightPerPeer = 8
			})
			// Let the flaky peer take requests before the good one comes.
			waitFor(t, 10*time.Second, "flaky peer busy", func() bool {
				c.mu.Lock()
				defer c.mu.Unlock()
				return len(c.inflight) > 0 || flaky.servedBlocks() > 0
			})
			good := startRemote(t, remoteOpts{chain: tc})
			c.addPeerAddr(t, good.addr)
			waitSynced(t, fc, tc)
			if got := metricValue(c.m.blockRetries); got == 0 {
				t.Errorf("block_requests_released_total = 0, want requests moved to the good peer")
			}
			if got := metricValue(c.m.bans.WithLabelValues(reasonInvalidBlock)); got != 0 {
				t.Errorf("an honest but flaky peer was banned")
			}
		})
	}
}

// addPeerAddr starts connecting to one more address, as if configured.
func (c *testClient) addPeerAddr(t *testing.T, addr string) {
	t.Helper()
	c.Client.mu.Lock()
	ctx := c.Client.runCtx
	c.Client.mu.Unlock()
	slots := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Client.connLoop(ctx, addr, slots)
	}()
	t.Cleanup(func() {
		c.stop()
		<-done
	})
}

func TestStorageFailureStopsRun(t *testing.T) {
	t.Parallel()
	tc := buildChain(t, 20, 1)
	disk := errors.New("disk full")
	tests := []struct {
		name  string
		setup func(*fakeChain)
	}{
		{name: "blocks", setup: func(fc *fakeChain) { fc.acceptErr = disk }},
		{name: "headers", setup: func(fc *fakeChain) { fc.headersErr = disk }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := startRemote(t, remoteOpts{chain: tc})
			fc := newFakeChain(tc.params)
			tt.setup(fc)
			c, err := New(Config{Params: tc.params, Peers: []string{r.addr}, Logger: testLogger()}, fc)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err = c.Run(ctx)
			if !errors.Is(err, disk) || ctx.Err() != nil {
				t.Fatalf("Run = %v, want the storage error before the deadline", err)
			}
			if err := c.Run(context.Background()); !errors.Is(err, ErrRunning) {
				t.Errorf("second Run = %v, want ErrRunning", err)
			}
		})
	}
}

func TestReorgFollowsLongerChain(t *testing.T) {
	t.Parallel()
	base := buildChain(t, 50, 1)
	fork := &testChain{params: base.params, index: map[chainhash.Hash]int{}}
	for _, b := range base.blocks[:41] {
		fork.add(b)
	}
	fork.extend(t, 15, 1, 7) // 55 blocks, forks at 40
	fc := newFakeChain(base.params)
	r1 := startRemote(t, remoteOpts{chain: base})
	c := startClient(t, fc, []string{r1.addr}, nil)
	waitSynced(t, fc, base)
	r2 := startRemote(t, remoteOpts{chain: fork})
	c.addPeerAddr(t, r2.addr)
	waitSynced(t, fc, fork)
	if got := c.Progress().BlockHash; got != fork.hashes[55] {
		t.Errorf("progress block hash %s, want fork tip %s", got, fork.hashes[55])
	}
}

func TestAnnouncementsAfterSync(t *testing.T) {
	t.Parallel()
	tc := buildChain(t, 30, 1)
	r := startRemote(t, remoteOpts{chain: tc})
	fc := newFakeChain(tc.params)
	c := startClient(t, fc, []string{r.addr}, nil)
	waitSynced(t, fc, tc)
	waitFor(t, 5*time.Second, "peer registered", func() bool { return c.Progress().Peers == 1 })

	// The remote mines a block (its chain grows in place; tests own both
	// ends) and announces it with headers, as after sendheaders.
	next := buildChainFrom(t, tc, 2)
	r.mu.Lock()
	p := r.peers[len(r.peers)-1]
	r.opts.chain = next
	r.mu.Unlock()
	hdrs := wire.NewMsgHeaders()
	for _, b := range next.blocks[31:] {
		h := b.Header
		_ = hdrs.AddBlockHeader(&h)
	}
	p.QueueMessage(hdrs, nil)
	waitSynced(t, fc, next)

	// An inv announcement works as well.
	next2 := buildChainFrom(t, next, 1)
	r.mu.Lock()
	r.opts.chain = next2
	r.mu.Unlock()
	tip, _ := next2.tip()
	inv := wire.NewMsgInv()
	_ = inv.AddInvVect(wire.NewInvVect(wire.InvTypeBlock, &tip))
	p.QueueMessage(inv, nil)
	waitSynced(t, fc, next2)
}

// buildChainFrom copies tc and mines n more blocks on it.
func buildChainFrom(t *testing.T, tc *testChain, n int) *testChain {
	out := &testChain{params: tc.params, index: map[chainhash.Hash]int{}}
	for _, b := range tc.blocks {
		out.add(b)
	}
	out.extend(t, n, 1, 0)
	return out
}

// metricValue reads a counter or gauge.
func metricValue(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		return -1
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

func TestReconnectAfterPeerRestart(t *testing.T) {
	t.Parallel()
	tc := buildChain(t, 30, 1)
	r := startRemote(t, remoteOpts{chain: tc})
	fc := newFakeChain(tc.params)
	c := startClient(t, fc, []string{r.addr}, nil)
	waitSynced(t, fc, tc)
	r.stop()
	waitFor(t, 5*time.Second, "peer gone", func() bool { return c.Progress().Peers == 0 })

	// The peer comes back on the same address with more blocks.
	longer := buildChainFrom(t, tc, 10)
	var r2 *remote
	waitFor(t, 5*time.Second, "listen again", func() bool {
		ln, err := net.Listen("tcp", r.addr)
		if err != nil {
			return false
		}
		_ = ln.Close()
		r2 = startRemoteAt(t, r.addr, remoteOpts{chain: longer})
		return r2 != nil
	})
	waitSynced(t, fc, longer)
}

func TestProgressRates(t *testing.T) {
	t.Parallel()
	tc := buildChain(t, 100, 0)
	fc := newFakeChain(tc.params)
	hdrs := make([]wire.BlockHeader, 0, 100)
	for _, b := range tc.blocks[1:] {
		hdrs = append(hdrs, b.Header)
	}
	if _, _, err := fc.AcceptHeaders(hdrs); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Params: tc.params, Peers: []string{"a:1"}, Logger: testLogger()}, fc)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name             string
		ago              time.Duration
		blocks, txs      uint64
		wantBPS, wantTPS float64
		wantETA          time.Duration
	}{
		{name: "no samples yet", wantETA: 0},
		{name: "ten blocks a second", ago: 5 * time.Second, blocks: 50, txs: 500, wantBPS: 10, wantTPS: 100, wantETA: 10 * time.Second},
		{name: "sample too recent", ago: 100 * time.Millisecond, blocks: 50, txs: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.mu.Lock()
			c.samples = nil
			if tt.ago > 0 {
				c.samples = []rateSample{{at: time.Now().Add(-tt.ago)}}
			}
			c.mu.Unlock()
			c.blocksAccepted.Store(tt.blocks)
			c.txsAccepted.Store(tt.txs)
			p := c.Progress()
			near := func(a, b float64) bool { return a > b*0.95-0.01 && a < b*1.05+0.01 }
			if !near(p.BlocksPerSecond, tt.wantBPS) || !near(p.TxsPerSecond, tt.wantTPS) {
				t.Errorf("rates %.2f blk/s %.2f tx/s, want %.2f %.2f", p.BlocksPerSecond, p.TxsPerSecond, tt.wantBPS, tt.wantTPS)
			}
			if d := p.ETA - tt.wantETA; d < -time.Second || d > time.Second {
				t.Errorf("ETA %s, want %s", p.ETA, tt.wantETA)
			}
			if p.Synced || p.HeaderHeight != 100 || p.BlockHeight != 0 {
				t.Errorf("progress %+v", p)
			}
			if v := p.LogValue(); len(v.Group()) == 0 {
				t.Error("empty LogValue")
			}
		})
	}
}

func TestSampleWindow(t *testing.T) {
	t.Parallel()
	c := &Client{}
	now := time.Now()
	for i := 30; i >= 0; i-- {
		c.sample(now.Add(-time.Duration(i) * time.Second))
	}
	if got := now.Sub(c.samples[0].at); got < rateWindow || got > rateWindow+time.Second {
		t.Errorf("oldest sample %s old, want about %s", got, rateWindow)
	}
}

func TestSlowChainIsNotPeerStall(t *testing.T) {
	t.Parallel()
	tc := buildChain(t, 12, 1)
	r := startRemote(t, remoteOpts{chain: tc})
	fc := newFakeChain(tc.params)
	// Each block takes longer to store than the stall timeout.
	fc.acceptDelay = 200 * time.Millisecond
	c := startClient(t, fc, []string{r.addr}, func(cfg *Config) {
		cfg.Workers = 1
		cfg.StallTimeout = 150 * time.Millisecond
		cfg.BlocksInFlightPerPeer = 16
	})
	waitSynced(t, fc, tc)
	if got := metricValue(c.m.blockRetries); got != 0 {
		t.Errorf("%v block requests released: the peer was taken for stalled while we were slow", got)
	}
	if got := r.servedBlocks(); got != 12 {
		t.Errorf("peer served %d blocks, want 12", got)
	}
}

func TestSilentHeadersPeerDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	tc := buildChain(t, 20, 1)
	// The silent peer claims a higher height, so it is asked first.
	taller := buildChainFrom(t, tc, 5)
	silent := startRemote(t, remoteOpts{chain: taller, headers: func(*remote, *wire.MsgGetHeaders) *wire.MsgHeaders { return nil }})
	fc := newFakeChain(tc.params)
	c := startClient(t, fc, []string{silent.addr}, func(cfg *Config) { cfg.HeadersTimeout = 200 * time.Millisecond })
	waitFor(t, 5*time.Second, "silent peer connected", func() bool { return c.Progress().Peers == 1 })
	good := startRemote(t, remoteOpts{chain: tc})
	c.addPeerAddr(t, good.addr)
	waitSynced(t, fc, tc)
	time.Sleep(300 * time.Millisecond) // past another headers timeout
	silent.mu.Lock()
	conns := len(silent.peers)
	silent.mu.Unlock()
	if conns != 1 {
		t.Errorf("silent peer saw %d connections, want 1 (not dropped for ignoring getheaders)", conns)
	}
}

func TestMaxPeers(t *testing.T) {
	t.Parallel()
	tc := buildChain(t, 5, 0)
	var addrs []string
	for range 3 {
		addrs = append(addrs, startRemote(t, remoteOpts{chain: tc}).addr)
	}
	fc := newFakeChain(tc.params)
	c := startClient(t, fc, addrs, func(cfg *Config) { cfg.MaxPeers = 2 })
	waitSynced(t, fc, tc)
	waitFor(t, 5*time.Second, "two peers", func() bool { return c.Progress().Peers == 2 })
	time.Sleep(200 * time.Millisecond)
	if n := c.Progress().Peers; n != 2 {
		t.Errorf("peers = %d, want MaxPeers 2", n)
	}
}

func TestReconnectBacksOff(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var attempts atomic.Int32
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			attempts.Add(1)
			_ = conn.Close() // hang up before the handshake
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	tc := buildChain(t, 1, 0)
	startClient(t, newFakeChain(tc.params), []string{ln.Addr().String()}, func(cfg *Config) {
		cfg.ReconnectMin = 20 * time.Millisecond
		cfg.ReconnectMax = 400 * time.Millisecond
	})
	time.Sleep(1500 * time.Millisecond)
	// Without backoff there would be about 75 attempts; with it, about 7.
	if n := attempts.Load(); n < 2 || n > 15 {
		t.Errorf("%d connection attempts in 1.5s, want a handful (exponential backoff)", n)
	}
}

func TestAnnouncementDuringHeaderSync(t *testing.T) {
	t.Parallel()
	tc := buildChain(t, 4500, 0)
	// The remote announces the first header of each reply right before
	// the reply, so the announcement is taken for the reply and the real,
	// full reply arrives unexpected.
	r := startRemote(t, remoteOpts{chain: tc, headers: func(r *remote, msg *wire.MsgGetHeaders) *wire.MsgHeaders {
		r.mu.Lock()
		p := r.peers[len(r.peers)-1]
		r.mu.Unlock()
		reply := r.headersAfter(msg.BlockLocatorHashes, wire.MaxBlockHeadersPerMsg)
		if len(reply.Headers) > 0 {
			ann := wire.NewMsgHeaders()
			_ = ann.AddBlockHeader(reply.Headers[0])
			p.QueueMessage(ann, nil)
		}
		return reply
	}})
	fc := newFakeChain(tc.params)
	startClient(t, fc, []string{r.addr}, nil)
	waitSynced(t, fc, tc)
}

func TestHigherPeerAskedAgain(t *testing.T) {
	t.Parallel()
	tc := buildChain(t, 30, 1)
	// The peer ignores our first getheaders, as btcd does while it is not
	// current, and answers later ones.
	var asked atomic.Int32
	r := startRemote(t, remoteOpts{chain: tc, headers: func(r *remote, msg *wire.MsgGetHeaders) *wire.MsgHeaders {
		if asked.Add(1) == 1 {
			return nil
		}
		return r.headersAfter(msg.BlockLocatorHashes, wire.MaxBlockHeadersPerMsg)
	}})
	fc := newFakeChain(tc.params)
	startClient(t, fc, []string{r.addr}, func(cfg *Config) { cfg.HeadersTimeout = 200 * time.Millisecond })
	waitSynced(t, fc, tc)
}
