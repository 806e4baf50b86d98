package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/devnet/devnettest"
	"github.com/hemi-go/hemi/internal/finality"
	"github.com/hemi-go/hemi/internal/popm"
)

// `hemi bench pop` (RunPoP) runs the devnet's PoP flow in one process
// (devnettest.Stack: embedded regtest Bitcoin, our indexer, the L2 with its
// finality service, the PoP miner) and measures every keystone from the
// first one the miner publishes:
//
//   - vsize_vb and fee_sat: the PoP transaction's measured virtual size
//     and fee (the miner's publication event);
//   - broadcast_ms: the miner's SentAt (the moment it hands the
//     transaction to the network) minus the keystone block's seal time.
//     The sequencer has no seal hook, so the seal time is the earlier of
//     the moment the stack's own head subscription received the block
//     (right after the commit that follows the seal) and the moment the
//     miner received the keystone;
//   - superfinal_btc_blocks: Bitcoin blocks mined after the keystone's
//     seal time up to the block after which the finality service reports
//     it superfinal (each block is fully indexed and processed by the
//     finality service before the next one is mined, so nothing is
//     counted late).
//
// Bitcoin mining policy (the figures depend on it): the benchmark mines
// one block right after each PoP transaction the miner reports sent, once
// that transaction is in the regtest mempool, and no other block. Bitcoin
// blocks therefore come at the keystone cadence, every publication should
// be mined in the next block, and superfinal_btc_blocks should equal the
// superfinality depth: more means a publication missed the next block or
// finality lagged. The last line is, exactly:
//
//	pop vsize_vb=<median> fee_sat=<median> broadcast_ms=<p50> superfinal_btc_blocks=<median>

// Defaults of PoPConfig.
const (
	DefaultPoPKeystones  = 50
	DefaultPoPInterval   = 2
	DefaultPoPBlockTime  = time.Second
	DefaultPoPDepth      = genesis.DevnetSuperfinalDepth
	DefaultPoPEventWait  = time.Minute
	referencePoPVSize    = 284 // Hemi's reference PoP miner's transaction (issue 4)
	popVSizeTarget       = 202 // issue 4's targets
	popBroadcastTargetMS = 1000
)

// PoPConfig configures RunPoP. Zero fields take the defaults.
type PoPConfig struct {
	// Keystones is how many keystones are measured (default 50).
	Keystones int
	// KeystoneInterval is the L2 keystone spacing (default 2 blocks).
	KeystoneInterval uint64
	// BlockTime is the L2 block time (default 1 s).
	BlockTime time.Duration
	// SuperfinalDepth is the Bitcoin confirmations of superfinality
	// (default the devnet's, 6).
	SuperfinalDepth uint32
	// EventWait bounds the wait for the miner's next event (default 1
	// minute): a keystone that is never published fails the run.
	EventWait time.Duration
	// WorkDir is the parent of the stack's temporary data directory,
	// removed at the end (default the system temp dir).
	WorkDir string
	// Logger receives the stack's logs (default: discarded).
	Logger *slog.Logger
}

func (c *PoPConfig) setDefaults() error {
	if c.Keystones == 0 {
		c.Keystones = DefaultPoPKeystones
	}
	if c.KeystoneInterval == 0 {
		c.KeystoneInterval = DefaultPoPInterval
	}
	if c.BlockTime == 0 {
		c.BlockTime = DefaultPoPBlockTime
	}
	if c.SuperfinalDepth == 0 {
		c.SuperfinalDepth = DefaultPoPDepth
	}
	if c.EventWait == 0 {
		c.EventWait = DefaultPoPEventWait
	}
	switch {
	case c.Keystones < 1:
		return fmt.Errorf("bench: pop: %d keystones: want at least 1", c.Keystones)
	case c.BlockTime < 0 || c.EventWait < 0:
		return errors.New("bench: pop: negative block time or event wait")
	}
	return nil
}

// PoPKeystone is one measured keystone.
type PoPKeystone struct {
	Number      uint64
	VSize, Fee  int64
	Broadcast   time.Duration // SentAt - seal time
	InMempool   time.Duration // seal time until the regtest mempool had it (polled)
	Superfinal  int           // Bitcoin blocks from the seal to superfinal
	PublishedAt int32         // Bitcoin height of its publication
}

// PoPResult is what RunPoP measured.
type PoPResult struct {
	Keystones []PoPKeystone
	// Medians (the p50 for the broadcast latency).
	VSize, Fee, SuperfinalBlocks float64
	BroadcastMS                  float64
}

// popRun is the state of one run.
type popRun struct {
	cfg   PoPConfig
	s     *devnettest.Stack
	out   io.Writer
	first uint64 // the first measured keystone (0: not yet known)
	// minedAt are the start times of the MineBTC calls, in order.
	minedAt []time.Time
	ks      map[uint64]*popKeystone
	done    int
}

type popKeystone struct {
	PoPKeystone
	event popm.Event
	seal  time.Time
	final bool
}

// RunPoP runs the benchmark and prints progress and the last line to out.
func RunPoP(ctx context.Context, cfg PoPConfig, out io.Writer) (PoPResult, error) {
	if err := cfg.setDefaults(); err != nil {
		return PoPResult{}, err
	}
	fmt.Fprintf(out, "machine: %d CPUs, load average %s\n", runtime.NumCPU(), loadAvg())
	fmt.Fprintf(out, "workload: %d keystones, one every %d L2 blocks of %s; superfinal at %d Bitcoin confirmations; "+
		"one Bitcoin block mined after each PoP transaction sent\n", cfg.Keystones, cfg.KeystoneInterval, cfg.BlockTime, cfg.SuperfinalDepth)
	dir, err := os.MkdirTemp(cfg.WorkDir, "hemi-bench-pop-")
	if err != nil {
		return PoPResult{}, fmt.Errorf("bench: pop: work dir: %w", err)
	}
	defer os.RemoveAll(dir)
	t0 := time.Now()
	s, err := devnettest.StartStack(ctx, devnettest.StackConfig{DataDir: dir, L2BlockTime: cfg.BlockTime,
		KeystoneInterval: cfg.KeystoneInterval, SuperfinalDepth: cfg.SuperfinalDepth, Logger: cfg.Logger})
	if err != nil {
		return PoPResult{}, fmt.Errorf("bench: pop: %w", err)
	}
	fmt.Fprintf(out, "stack started in %s (regtest, indexer, L2, PoP miner %s; not timed)\n",
		time.Since(t0).Round(time.Millisecond), s.Wallet.Address().EncodeAddress())
	r := &popRun{cfg: cfg, s: s, out: out, ks: map[uint64]*popKeystone{}}
	res, runErr := r.run(ctx)
	if err := s.Close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("bench: pop: stack: %w", err)
	}
	if runErr != nil {
		return res, runErr
	}
	fmt.Fprintf(out, "broadcast latency: p50 %.1f ms, p90 %.1f ms, max %.1f ms over %d keystones\n",
		res.BroadcastMS, res.percentileMS(0.9), res.percentileMS(1), len(res.Keystones))
	fmt.Fprintf(out, "targets: vsize <= %d vB (Hemi's reference miner: %d vB, ours/reference = %.2f), broadcast <= %d ms\n",
		popVSizeTarget, referencePoPVSize, res.VSize/referencePoPVSize, popBroadcastTargetMS)
	fmt.Fprintf(out, "pop vsize_vb=%s fee_sat=%s broadcast_ms=%.1f superfinal_btc_blocks=%s\n",
		num(res.VSize), num(res.Fee), res.BroadcastMS, num(res.SuperfinalBlocks))
	return res, nil
}

func (r *popRun) run(ctx context.Context) (PoPResult, error) {
	next := 0
	for r.done < r.cfg.Keystones {
		wctx, cancel := context.WithTimeout(ctx, r.cfg.EventWait)
		evs, err := r.s.WaitEvents(wctx, next)
		cancel()
		if err != nil {
			return PoPResult{}, fmt.Errorf("bench: pop: %w", err)
		}
		sent := false
		for _, ev := range evs {
			next = ev.Seq + 1
			switch ev.Kind {
			case popm.NotePublished:
				r.published(ev.Event)
				sent = true
			case popm.NoteBumped, popm.NoteRepublished:
				fmt.Fprintf(r.out, "keystone %d: %s %s (not expected with this mining policy)\n", ev.KeystoneNumber, ev.Kind, ev.Txid)
				sent = true
			case popm.NoteWaitingFee, popm.NoteNoFunds, popm.NoteRefused:
				return PoPResult{}, fmt.Errorf("bench: pop: keystone %d: the miner reports %s: %v", ev.KeystoneNumber, ev.Kind, ev.Err)
			}
		}
		if !sent {
			continue
		}
		if err := r.mine(ctx); err != nil {
			return PoPResult{}, err
		}
	}
	return r.result(), nil
}

// published records a measured keystone's publication.
func (r *popRun) published(e popm.Event) {
	if r.first == 0 {
		r.first = e.KeystoneNumber
	}
	k := e.KeystoneNumber
	if k < r.first || k >= r.first+uint64(r.cfg.Keystones)*r.cfg.KeystoneInterval || r.ks[k] != nil {
		return
	}
	seal := e.SeenAt
	if at, _, ok := r.s.SealedAt(k); ok && (seal.IsZero() || at.Before(seal)) {
		seal = at
	}
	r.ks[k] = &popKeystone{PoPKeystone: PoPKeystone{Number: k, VSize: e.VSize, Fee: e.Fee, Broadcast: e.SentAt.Sub(seal)},
		event: e, seal: seal}
}

// mine mines one block once the sent transactions are in the mempool,
// waits until the finality service has processed it, and records the
// keystones it made superfinal.
func (r *popRun) mine(ctx context.Context) error {
	for _, k := range r.ks {
		if k.InMempool == 0 && k.PublishedAt == 0 {
			if err := r.s.WaitMempool(ctx, k.event.Txid); err != nil {
				return fmt.Errorf("bench: pop: %w", err)
			}
			k.InMempool = time.Since(k.seal)
		}
	}
	r.minedAt = append(r.minedAt, time.Now())
	hs, err := r.s.MineBTC(ctx, 1)
	if err != nil {
		return fmt.Errorf("bench: pop: %w", err)
	}
	height, ok := r.s.BTC.HeightOf(hs[0])
	if !ok {
		return fmt.Errorf("bench: pop: mined block %s left the best chain", hs[0])
	}
	// The finality service has processed the block once the newest
	// published keystone counts its confirmations from it.
	newest := r.s.L2.Finality.Heads().Safe
	for _, k := range r.ks {
		if k.PublishedAt == 0 {
			newest = max(newest, k.Number)
		}
	}
	if _, err := r.s.WaitFinality(ctx, newest, fmt.Sprintf("processed Bitcoin block %d", height), func(f *finality.BlockFinality) bool {
		return f.Published && int32(f.Confirmations) == height-f.Publication.Height+1
	}); err != nil {
		return fmt.Errorf("bench: pop: %w", err)
	}
	for _, k := range slices.Sorted(maps.Keys(r.ks)) {
		pk := r.ks[k]
		if pk.final {
			continue
		}
		f, err := r.s.Finality(k)
		if err != nil {
			return fmt.Errorf("bench: pop: finality of keystone %d: %w", k, err)
		}
		if f.Published && pk.PublishedAt == 0 {
			pk.PublishedAt = f.Publication.Height
		}
		if !f.Superfinal {
			continue
		}
		pk.final = true
		for _, at := range r.minedAt {
			if !at.Before(pk.seal) {
				pk.Superfinal++
			}
		}
		r.done++
		fmt.Fprintf(r.out, "keystone %d (%d/%d): tx %s %d vB fee %d sat (%d sat/vB); broadcast %.1f ms, in mempool %.1f ms after the seal; "+
			"mined at height %d; superfinal after %d Bitcoin blocks\n", k, r.done, r.cfg.Keystones, pk.event.Txid, pk.VSize, pk.Fee,
			pk.event.FeeRate, ms(pk.Broadcast), ms(pk.InMempool), pk.PublishedAt, pk.Superfinal)
	}
	return nil
}

func (r *popRun) result() PoPResult {
	var res PoPResult
	var vs, fees, bc, sf []float64
	for _, k := range slices.Sorted(maps.Keys(r.ks)) {
		pk := r.ks[k]
		if !pk.final {
			continue
		}
		res.Keystones = append(res.Keystones, pk.PoPKeystone)
		vs = append(vs, float64(pk.VSize))
		fees = append(fees, float64(pk.Fee))
		bc = append(bc, ms(pk.Broadcast))
		sf = append(sf, float64(pk.Superfinal))
	}
	res.VSize, res.Fee, res.BroadcastMS, res.SuperfinalBlocks = medianOf(vs), medianOf(fees), medianOf(bc), medianOf(sf)
	return res
}

// percentileMS is the p-quantile (nearest rank) of the broadcast
// latencies in milliseconds.
func (r PoPResult) percentileMS(p float64) float64 {
	if len(r.Keystones) == 0 {
		return 0
	}
	xs := make([]float64, 0, len(r.Keystones))
	for _, k := range r.Keystones {
		xs = append(xs, ms(k.Broadcast))
	}
	slices.Sort(xs)
	i := int(math.Ceil(p*float64(len(xs)))) - 1
	return xs[min(max(i, 0), len(xs)-1)]
}

// medianOf is the median (the mean of the two middle values for an even
// count); 0 for none.
func medianOf(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func num(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
