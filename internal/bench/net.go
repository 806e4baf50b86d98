package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/devnet/cluster"
)

// Defaults of NetConfig: issue 10's benchmark.
const (
	DefaultNetSequencers  = 3
	DefaultNetFollowers   = 5
	DefaultNetTxsPerBlock = 100
	DefaultNetSteady      = 60 * time.Second
	DefaultNetKills       = 20
	DefaultNetSends       = 1
)

// NetConfig configures RunNet. Zero fields take the defaults.
type NetConfig struct {
	// Bin is the hemi binary the node processes run (required).
	Bin string
	// Sequencers and Followers size the network (default 3 and 5).
	Sequencers, Followers int
	// TxsPerBlock is the load: this many transfers sent to the leader
	// every block time (default 100).
	TxsPerBlock int
	// Sends is how many batches the TxsPerBlock transfers of a block time
	// are sent in, evenly spaced over it (default DefaultNetSends, 1: all
	// at once, as issue 10's figures were measured). More sends model
	// transactions reaching the network spread over time; each send
	// becomes one more batch of the pending-transaction feed.
	Sends int
	// Steady is how long propagation is measured under load before the
	// kills (default 60 s).
	Steady time.Duration
	// Kills is how many times the leader is killed (default 20; < 0 none).
	Kills int
	// Sync configures the catch-up sync part (RunNetSync); SkipSync
	// leaves it out (its figures print as 0).
	Sync     NetSyncConfig
	SkipSync bool
	// RestartSizes are RunRestart's (default DefaultRestartSizes);
	// SkipRestart leaves it out.
	RestartSizes []RestartSize
	SkipRestart  bool
	// CacheDir keeps the built chains (sync source, restart nodes)
	// between runs (default DefaultCacheDir()).
	CacheDir string
	// WorkDir is the parent of the temporary directories (default the
	// system temp dir).
	WorkDir string
	// KeepLogs keeps the network's directory (node logs) and prints it.
	KeepLogs bool
	// Prepare only builds what the sync and restart parts cache under
	// CacheDir (those not skipped) and measures nothing: the long builds
	// run once, ahead of the timed runs.
	Prepare bool
	// Heartbeat, Election and LeaderLease, when set, replace the raft
	// timings of the nodes' config (ha.heartbeat, ha.election,
	// ha.leader_lease), to compare others with the defaults.
	Heartbeat, Election, LeaderLease time.Duration
}

// NetResult holds RunNet's figures (the last line's).
type NetResult struct {
	PropagationP50, PropagationP99 time.Duration
	PropagationPairs, Missing      int
	SyncBlocksS, SyncRatio         float64
	FailoverP50, FailoverMax       time.Duration
	Failovers                      []time.Duration
	Reorged, Equivocations         int
	RSSMB                          float64
	RestartRatio                   float64
}

// ResultLine is the last line RunNet prints (issue 10's format).
func (r NetResult) ResultLine() string {
	return fmt.Sprintf("net propagation_p50_ms=%.1f propagation_p99_ms=%.1f sync_blocks_s=%.1f sync_ratio=%.2f failover_p50_ms=%.0f failover_max_ms=%.0f reorged=%d equivocations=%d rss_mb=%.0f restart_ratio=%.2f",
		ms(r.PropagationP50), ms(r.PropagationP99), r.SyncBlocksS, r.SyncRatio, ms(r.FailoverP50), ms(r.FailoverMax),
		r.Reorged, r.Equivocations, r.RSSMB, r.RestartRatio)
}

func (c *NetConfig) setDefaults() error {
	if c.Bin == "" {
		return errors.New("bench: net needs the hemi binary")
	}
	if c.Sequencers <= 0 {
		c.Sequencers = DefaultNetSequencers
	}
	if c.Followers <= 0 {
		c.Followers = DefaultNetFollowers
	}
	if c.TxsPerBlock <= 0 {
		c.TxsPerBlock = DefaultNetTxsPerBlock
	}
	if c.Sends <= 0 {
		c.Sends = DefaultNetSends
	}
	if c.Steady <= 0 {
		c.Steady = DefaultNetSteady
	}
	if c.Kills == 0 {
		c.Kills = DefaultNetKills
	}
	if c.CacheDir == "" {
		c.CacheDir = DefaultCacheDir()
	}
	return nil
}

// RunNet is `hemi bench net`: on loopback, a raft group of Sequencers
// and Followers node processes (internal/devnet/cluster) with 1 s blocks
// and TxsPerBlock transfers sent to the leader every second:
//
//   - propagation: for every block committed during Steady and every
//     follower, from the leader's raft commit (its "block committed"
//     line's committed_at) to the follower's "new head" line for it;
//   - failover: Kills times, the leader is killed (SIGKILL) at a random
//     moment of the block interval, under load, then restarted and
//     rejoined; from the kill to the first block any other member
//     committed;
//   - reorged: the blocks a follower logged as head that are not in the
//     final chain; equivocations: heights at which the nodes' logs
//     (heads, commits, side blocks, gossip evidence) name two blocks;
//   - sync and rss: RunNetSync (a fresh follower process syncing from two
//     peers against `hemi import` of the same blocks; its peak RSS);
//   - restart_ratio: RunRestart's rpc_ratio.
//
// Every figure comes from the nodes' own records: their JSON logs, read
// after they stopped.
func RunNet(ctx context.Context, cfg NetConfig, out io.Writer) (NetResult, error) {
	var res NetResult
	if err := cfg.setDefaults(); err != nil {
		return res, err
	}
	fmt.Fprintf(out, "machine: %d CPUs, GOMAXPROCS %d, load average %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), loadAvg())
	if cfg.Prepare {
		return res, prepareNet(ctx, cfg, out)
	}
	if err := runNetCluster(ctx, cfg, &res, out); err != nil {
		return res, err
	}
	if !cfg.SkipSync {
		sc := cfg.Sync
		sc.WorkDir, sc.CacheDir, sc.FollowerBin = cfg.WorkDir, cfg.CacheDir, cfg.Bin
		sr, err := RunNetSync(ctx, sc, out)
		if err != nil {
			return res, err
		}
		res.SyncBlocksS, res.SyncRatio, res.RSSMB = sr.SyncBlocksS, sr.Ratio, sr.RSSMB
	}
	if !cfg.SkipRestart {
		ts, err := RunRestart(ctx, cfg.CacheDir, cfg.RestartSizes, out)
		if err != nil {
			return res, err
		}
		first, last := ts[0], ts[len(ts)-1]
		res.RestartRatio = float64(last.ToRPC) / float64(first.ToRPC)
	}
	fmt.Fprintf(out, "machine: load average %s at the end\n", loadAvg())
	fmt.Fprintln(out, res.ResultLine())
	return res, nil
}

// prepareNet builds the sync source and the restart nodes into
// cfg.CacheDir, each unless cached already or skipped.
func prepareNet(ctx context.Context, cfg NetConfig, out io.Writer) error {
	start := time.Now()
	if !cfg.SkipSync {
		sc := cfg.Sync
		sc.WorkDir, sc.CacheDir = cfg.WorkDir, cfg.CacheDir
		if err := PrepareNetSync(ctx, sc, out); err != nil {
			return err
		}
	}
	if !cfg.SkipRestart {
		if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
			return err
		}
		sizes := cfg.RestartSizes
		if len(sizes) == 0 {
			sizes = DefaultRestartSizes
		}
		for _, sz := range sizes {
			if _, took, err := BuildRestartNode(ctx, cfg.CacheDir, sz, out); err != nil {
				return err
			} else if took > 0 {
				fmt.Fprintf(out, "restart: built %d L2 / %d Bitcoin blocks in %s\n", sz.L2, sz.BTC, took.Round(time.Second))
			}
		}
	}
	fmt.Fprintf(out, "prepared %s in %s; load average %s\n", cfg.CacheDir, time.Since(start).Round(time.Second), loadAvg())
	return nil
}

// haConfig is the [ha] section with the timings set in cfg ("" none).
func (c *NetConfig) haConfig() string {
	if c.Heartbeat == 0 && c.Election == 0 && c.LeaderLease == 0 {
		return ""
	}
	s := "\n[ha]\n"
	for _, kv := range []struct {
		k string
		v time.Duration
	}{{"heartbeat", c.Heartbeat}, {"election", c.Election}, {"leader_lease", c.LeaderLease}} {
		if kv.v > 0 {
			s += fmt.Sprintf("%s = %q\n", kv.k, kv.v.String())
		}
	}
	return s
}

// netKill is one kill of the leader.
type netKill struct {
	node   int
	at     time.Time
	polled time.Duration // kill to a higher head on the new leader, polled
}

// runNetCluster runs the network part: propagation, failover, reorged,
// equivocations.
func runNetCluster(ctx context.Context, cfg NetConfig, res *NetResult, out io.Writer) error {
	dir, err := os.MkdirTemp(cfg.WorkDir, "hemi-bench-net-")
	if err != nil {
		return err
	}
	if cfg.KeepLogs {
		fmt.Fprintf(out, "network directory (kept): %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	c, err := cluster.Start(ctx, cluster.Config{Bin: cfg.Bin, Dir: dir, Sequencers: cfg.Sequencers, Followers: cfg.Followers,
		BlockTime: time.Second, MineInterval: 5 * time.Second, LogFormat: "json", NodeConfig: cfg.haConfig(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			c.Stop()
		}
	}()
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	leader, err := c.WaitLeader(wctx)
	if err != nil {
		return err
	}
	for i := range c.Nodes {
		if err := c.WaitHead(wctx, i, 3); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "network: %d sequencers (raft) and %d followers, 1 s blocks, %s leads; load %d transfers a block\n",
		cfg.Sequencers, cfg.Followers, c.Nodes[leader].Name, cfg.TxsPerBlock)
	if hc := cfg.haConfig(); hc != "" {
		fmt.Fprintf(out, "raft timings set: %q\n", hc)
	}
	lctx, stopLoad := context.WithCancel(ctx)
	ld := &netLoad{c: c, perBlock: cfg.TxsPerBlock, sends: cfg.Sends}
	var lwg sync.WaitGroup
	lwg.Add(1)
	go func() { defer lwg.Done(); ld.run(lctx) }()
	defer func() { stopLoad(); lwg.Wait() }()

	steadyFrom := time.Now().Add(2 * time.Second) // the load's first blocks fill up
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(2 * time.Second):
	}
	cpuFrom, steadyLeader := nodesCPU(c), leader
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(cfg.Steady):
	}
	steadyTo := time.Now()
	cpuTo := nodesCPU(c)
	fmt.Fprintf(out, "steady: %s under load (%d transfers accepted by the leader so far)\n", steadyTo.Sub(steadyFrom).Round(time.Second), ld.accepted())

	var kills []netKill
	for k := range max(cfg.Kills, 0) {
		kctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		kl, err := killLeader(kctx, c)
		cancel()
		if err != nil {
			return fmt.Errorf("bench: kill %d: %w", k+1, err)
		}
		kills = append(kills, kl)
		fmt.Fprintf(out, "kill %d: %s killed; a higher head on the new leader after %d ms (polled); rejoined\n",
			k+1, c.Nodes[kl.node].Name, kl.polled.Milliseconds())
	}
	stopLoad()
	lwg.Wait()

	// Every node ends on the same head.
	ectx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if leader, err = c.WaitLeader(ectx); err != nil {
		return err
	}
	st, err := c.Status(ectx, leader)
	if err != nil {
		return err
	}
	end := st.Head.Number
	for i := range c.Nodes {
		if err := c.WaitHead(ectx, i, end); err != nil {
			return err
		}
	}
	canon, err := canonicalHashes(ectx, c.Nodes[len(c.Nodes)-1].RPCURL(), end)
	if err != nil {
		return err
	}
	for i := range c.Nodes {
		h, err := canonicalHashes(ectx, c.Nodes[i].RPCURL(), end)
		if err != nil {
			return err
		}
		if h[end] != canon[end] {
			return fmt.Errorf("bench: %s has block %d %s, %s has %s", c.Nodes[i].Name, end, h[end], c.Nodes[len(c.Nodes)-1].Name, canon[end])
		}
	}
	c.Stop() // the logs are complete once the nodes exited
	stopped = true

	logs := make([]*nodeLog, len(c.Nodes))
	for i, n := range c.Nodes {
		f, err := os.Open(n.Log)
		if err != nil {
			return err
		}
		logs[i], err = parseNodeLog(f)
		f.Close()
		if err != nil {
			return err
		}
	}
	seqLogs, folLogs := logs[:cfg.Sequencers], logs[cfg.Sequencers:]
	commits := map[common.Hash]commitEvent{}
	for _, l := range seqLogs {
		for _, cm := range l.Commits {
			commits[cm.Hash] = cm
		}
	}
	delays, missing := propagation(commits, folLogs, steadyFrom, steadyTo)
	res.PropagationPairs, res.Missing = len(delays), missing
	res.PropagationP50, res.PropagationP99 = percentile(delays, 50), percentile(delays, 99)
	fmt.Fprintf(out, "propagation: %d (block, follower) pairs, %d blocks x %d followers; p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms; %d pairs not logged as a head\n",
		len(delays), (len(delays)+missing)/max(cfg.Followers, 1), cfg.Followers, ms(res.PropagationP50), ms(percentile(delays, 90)),
		ms(res.PropagationP99), ms(percentile(delays, 100)), missing)
	printNodesCPU(out, c, steadyLeader, cpuFrom, cpuTo, commits, steadyFrom, steadyTo)
	stages := stagesOf(commits, seqLogs, folLogs, steadyFrom, steadyTo)
	fmt.Fprintf(out, "propagation stages over %d pairs, p50 / p90 ms: commit to publish %.1f / %.1f, publish to the follower's validator %.1f / %.1f, "+
		"validate %.1f / %.1f, wait for the import loop %.1f / %.1f, insert (execute, commit, write) %.1f / %.1f, insert to head line %.1f / %.1f\n",
		len(stages.Publish), ms(percentile(stages.Publish, 50)), ms(percentile(stages.Publish, 90)), ms(percentile(stages.Deliver, 50)), ms(percentile(stages.Deliver, 90)),
		ms(percentile(stages.Validate, 50)), ms(percentile(stages.Validate, 90)), ms(percentile(stages.Wait, 50)), ms(percentile(stages.Wait, 90)),
		ms(percentile(stages.Insert, 50)), ms(percentile(stages.Insert, 90)), ms(percentile(stages.Head, 50)), ms(percentile(stages.Head, 90)))

	for i, k := range kills {
		var others []*nodeLog
		for j, l := range seqLogs {
			if j != k.node {
				others = append(others, l)
			}
		}
		cm, ok := firstCommitAfter(others, k.at)
		if !ok {
			return fmt.Errorf("bench: kill %d: no other member committed a block after it", i+1)
		}
		res.Failovers = append(res.Failovers, cm.At.Sub(k.at))
	}
	if len(res.Failovers) > 0 {
		res.FailoverP50, res.FailoverMax = median(res.Failovers), slices.Max(res.Failovers)
		fmt.Fprintf(out, "failover: %d kills, kill to the first block another member committed: p50 %d ms, max %d ms; each %v\n",
			len(res.Failovers), res.FailoverP50.Milliseconds(), res.FailoverMax.Milliseconds(), roundAll(res.Failovers))
	}
	for i, l := range logs {
		lost := lostHeads(l, canon)
		if i >= cfg.Sequencers {
			res.Reorged += lost
		}
		if lost > 0 || l.Skipped > 0 {
			fmt.Fprintf(out, "%s: %d blocks had as head and lost, %d log lines not read\n", c.Nodes[i].Name, lost, l.Skipped)
		}
	}
	res.Equivocations = equivocations(logs)
	fmt.Fprintf(out, "records: %d blocks committed, final head %d on every node; reorged %d, equivocations %d\n",
		len(commits), end, res.Reorged, res.Equivocations)
	return nil
}

// killLeader kills the leader at a random moment of the block interval,
// waits for another member to lead and build on the old head, restarts
// the killed member and waits until it rejoined.
func killLeader(ctx context.Context, c *cluster.Cluster) (netKill, error) {
	// A few blocks under the current leader, then a random phase.
	select {
	case <-ctx.Done():
		return netKill{}, ctx.Err()
	case <-time.After(2*time.Second + time.Duration(rand.Int64N(int64(time.Second)))):
	}
	l, err := c.WaitLeader(ctx)
	if err != nil {
		return netKill{}, err
	}
	st, err := c.Status(ctx, l)
	if err != nil {
		return netKill{}, err
	}
	k := netKill{node: l, at: time.Now()}
	if err := c.Kill(l); err != nil {
		return k, err
	}
	for {
		nl, err := c.WaitLeader(ctx)
		if err != nil {
			return k, err
		}
		if nl == l {
			continue // cannot be: l is not running (WaitLeader skips it)
		}
		if err := c.WaitHead(ctx, nl, st.Head.Number+1); err != nil {
			return k, err
		}
		k.polled = time.Since(k.at)
		break
	}
	if err := c.Restart(l); err != nil {
		return k, err
	}
	return k, c.WaitRejoined(ctx, l)
}

// canonicalHashes reads blocks 0..end's hashes from a node.
func canonicalHashes(ctx context.Context, url string, end uint64) (map[uint64]common.Hash, error) {
	cl, err := gethrpc.DialContext(ctx, url)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	out := make(map[uint64]common.Hash, end+1)
	for from := uint64(0); from <= end; from += 100 {
		to := min(from+99, end)
		blocks := make([]*struct {
			Hash common.Hash `json:"hash"`
		}, to-from+1)
		batch := make([]gethrpc.BatchElem, len(blocks))
		for i := range batch {
			batch[i] = gethrpc.BatchElem{Method: "eth_getBlockByNumber", Args: []any{hexutil.EncodeUint64(from + uint64(i)), false}, Result: &blocks[i]}
		}
		if err := cl.BatchCallContext(ctx, batch); err != nil {
			return nil, err
		}
		for i, b := range batch {
			if b.Error != nil || blocks[i] == nil {
				return nil, fmt.Errorf("bench: block %d from %s: %v", from+uint64(i), url, b.Error)
			}
			out[from+uint64(i)] = blocks[i].Hash
		}
	}
	return out, nil
}

// netLoad sends perBlock transfers to the current leader every second,
// in sends batches evenly spaced over the second, spread over the funded
// dev accounts, each in nonce order. The leader is looked up once a
// second; when it changes (a kill loses the transfers in its pool) or a
// send fails, it is looked up again and the nonces are read again from
// the leader's pending state.
type netLoad struct {
	c        *cluster.Cluster
	perBlock int
	sends    int

	mu sync.Mutex
	ok int
}

func (l *netLoad) accepted() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ok
}

// quota is how many transfers the k-th send of a second carries: the
// perBlock transfers split as evenly as whole numbers allow.
func (l *netLoad) quota(k int) int {
	k %= l.sends
	return l.perBlock*(k+1)/l.sends - l.perBlock*k/l.sends
}

func (l *netLoad) run(ctx context.Context) {
	accs := l.c.Accounts
	chainID := new(big.Int).SetUint64(l.c.Genesis.Config.ChainID)
	signer := types.LatestSignerForChainID(chainID)
	to := common.HexToAddress("0x000000000000000000000000000000000000dEaD")
	nonces := make([]uint64, len(accs))
	leader, stale := -1, true
	var cl *gethrpc.Client
	defer func() {
		if cl != nil {
			cl.Close()
		}
	}()
	tick := time.NewTicker(time.Second / time.Duration(l.sends))
	defer tick.Stop()
	next := 0 // the index of the next account to send from
	for k := 0; ; k++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if stale || k%l.sends == 0 {
			nl, err := l.c.Leader(ctx)
			if err != nil {
				stale = true
				continue
			}
			if nl != leader || cl == nil {
				if cl != nil {
					cl.Close()
				}
				if cl, err = gethrpc.DialContext(ctx, l.c.Nodes[nl].RPCURL()); err != nil {
					cl = nil
					continue
				}
				leader, stale = nl, true
			}
		}
		if stale {
			batch := make([]gethrpc.BatchElem, len(accs))
			got := make([]hexutil.Uint64, len(accs))
			for i, a := range accs {
				batch[i] = gethrpc.BatchElem{Method: "eth_getTransactionCount", Args: []any{a.Address, "pending"}, Result: &got[i]}
			}
			if err := cl.BatchCallContext(ctx, batch); err != nil {
				continue
			}
			failed := false
			for i := range batch {
				failed = failed || batch[i].Error != nil
				nonces[i] = uint64(got[i])
			}
			if failed {
				continue
			}
			stale = false
		}
		n := l.quota(k)
		if n == 0 {
			continue
		}
		batch := make([]gethrpc.BatchElem, 0, n)
		for range n {
			a := next
			next = (next + 1) % len(accs)
			tx, err := types.SignNewTx(accs[a].Key, signer, &types.DynamicFeeTx{ChainID: chainID, Nonce: nonces[a], To: &to,
				Value: big.NewInt(1), Gas: params.TxGas, GasFeeCap: big.NewInt(100 * params.GWei), GasTipCap: big.NewInt(params.GWei)})
			if err != nil {
				return
			}
			nonces[a]++
			raw, err := tx.MarshalBinary()
			if err != nil {
				return
			}
			batch = append(batch, gethrpc.BatchElem{Method: "eth_sendRawTransaction", Args: []any{hexutil.Bytes(raw)}, Result: new(common.Hash)})
		}
		if err := cl.BatchCallContext(ctx, batch); err != nil {
			stale = true
			continue
		}
		sent := 0
		for _, b := range batch {
			if b.Error != nil {
				stale = true
			} else {
				sent++
			}
		}
		l.mu.Lock()
		l.ok += sent
		l.mu.Unlock()
	}
}
