package bench

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/txpool/legacypool"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/hemi-go/hemi/internal/chain/genesis"
)

// Defaults of RPCConfig.
const (
	DefaultRPCTxs     = 20_000
	DefaultRPCSenders = 320
	DefaultRPCClients = 8
	DefaultRPCBatch   = 100
	// DefaultRPCBlockTime is the L2 block time of the benchmark's devnet.
	DefaultRPCBlockTime = time.Second
	// DefaultRPCGasLimit is the block gas limit of both targets: room for
	// 23,809 transfers a block, so at 1 s blocks gas never caps us below
	// what the RPC edge can take in (the devnet's 30M would cap us at
	// 1,428 transfers/s).
	DefaultRPCGasLimit = 500_000_000
	DefaultRPCTimeout  = 10 * time.Minute
)

// RPCConfig configures RunRPC. Zero fields take the defaults.
type RPCConfig struct {
	Txs     int // timed transfers (default 20,000)
	Senders int // funded sender accounts the transfers come from (default 320)
	Clients int // concurrent JSON-RPC clients (default 8)
	Batch   int // transactions per JSON-RPC batch (default 100)
	Runs    int // measured runs against each target; medians are reported (default 1)

	// BlockTime is the block time of our L2 and of anvil (interval
	// mining; default 1 s).
	BlockTime time.Duration
	// GasLimit is the block gas limit of our chain and of anvil
	// (--gas-limit; default 500M).
	GasLimit uint64
	// PoolLimits are our mempool's legacypool limits. Zero fields are
	// sized so the pool holds the whole workload: AccountSlots and
	// AccountQueue Txs/Senders+16, GlobalSlots and GlobalQueue Txs+1024.
	// go-ethereum's defaults (16, 64, 5,120, 1,024) drop transfers under
	// this load: legacypool queues each new transaction and promotes it
	// later in its reorg loop, so a burst overflows GlobalQueue and the
	// dropped nonces leave every later one of that sender stuck.
	PoolLimits legacypool.Config
	// BTCInitialBlocks and BTCBlockInterval configure the embedded
	// regtest Bitcoin as the devnet's defaults do (101 and 5 s).
	BTCInitialBlocks int
	BTCBlockInterval time.Duration

	// AnvilBinary is the anvil executable (default FindAnvil).
	AnvilBinary string
	// AnvilMining is anvil's mining mode: "interval" (default; a block
	// every BlockTime, as our sequencer) or "auto" (anvil's default
	// automine, which stalls under this load: see anvilInterval).
	AnvilMining string
	// WorkDir is the parent of the temporary data dirs (default the
	// system temp dir).
	WorkDir string
	// ProfileDir, when set, receives a CPU profile of this process (our
	// node and the load generator) during each timed run against ours
	// (ours-<run>-cpu.pprof).
	ProfileDir string
	// Timeout bounds each phase of a run (default 10 minutes).
	Timeout time.Duration
	// Logger receives our stack's logs (nil: discard); SequencerLogger
	// the sequencer's ("block built" lines with build times; nil:
	// Logger).
	Logger          *slog.Logger
	SequencerLogger *slog.Logger
}

// ErrRPCConfig is returned for an RPCConfig RunRPC cannot run.
var ErrRPCConfig = errors.New("bench: rpc config")

// RPCTargetResult holds one target's median figures.
type RPCTargetResult struct {
	TxS     float64       // transfers over first send to last inclusion seen
	P50     time.Duration // median send -> inclusion seen
	P90     time.Duration
	Blocks  int           // blocks holding the transfers (median run)
	SendTxS float64       // transfers over first send to last batch answered
	Wall    time.Duration // first send to last inclusion seen
}

// RPCResult holds the figures of RunRPC.
type RPCResult struct {
	Txs   int
	Ours  RPCTargetResult
	Anvil RPCTargetResult
	Ratio float64
}

// ResultLine formats the line RunRPC prints last.
func (r RPCResult) ResultLine() string {
	return fmt.Sprintf("rpc ours_tx_s=%.0f anvil_tx_s=%.0f ratio=%.2f p50_inclusion_ms=%d",
		r.Ours.TxS, r.Anvil.TxS, r.Ratio, r.Ours.P50.Milliseconds())
}

func (c *RPCConfig) setDefaults() error {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Txs, DefaultRPCTxs)
	def(&c.Senders, DefaultRPCSenders)
	def(&c.Clients, DefaultRPCClients)
	def(&c.Batch, DefaultRPCBatch)
	def(&c.Runs, 1)
	def(&c.BTCInitialBlocks, 101)
	if c.Senders > c.Txs {
		c.Senders = c.Txs
	}
	if c.BlockTime <= 0 {
		c.BlockTime = DefaultRPCBlockTime
	}
	if c.GasLimit == 0 {
		c.GasLimit = DefaultRPCGasLimit
	}
	if c.BTCBlockInterval == 0 {
		c.BTCBlockInterval = 5 * time.Second
	}
	if c.PoolLimits.AccountSlots == 0 {
		c.PoolLimits.AccountSlots = uint64(c.Txs/c.Senders + 16)
	}
	if c.PoolLimits.GlobalSlots == 0 {
		c.PoolLimits.GlobalSlots = uint64(c.Txs + 1024)
	}
	if c.PoolLimits.AccountQueue == 0 {
		c.PoolLimits.AccountQueue = c.PoolLimits.AccountSlots
	}
	if c.PoolLimits.GlobalQueue == 0 {
		c.PoolLimits.GlobalQueue = c.PoolLimits.GlobalSlots
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultRPCTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.SequencerLogger == nil {
		c.SequencerLogger = c.Logger
	}
	switch c.AnvilMining {
	case "":
		c.AnvilMining = anvilInterval
	case anvilInterval, anvilAutomine:
	default:
		return fmt.Errorf("%w: anvil mining mode %q, want %q or %q", ErrRPCConfig, c.AnvilMining, anvilInterval, anvilAutomine)
	}
	return peerBinary(&c.AnvilBinary, FindAnvil, ErrNoAnvil)
}

// RunRPC runs the rpc benchmark: the same pre-signed transfers (signed
// once per target, for its chain id) sent over JSON-RPC in batches from
// concurrent clients to our devnet stack (in this process) and to anvil
// (interval mining at our block time, same gas limit), each fresh per
// run, until all are in blocks. Funding the
// senders from the dev accounts is a setup phase, not timed. It prints
// progress to out, then, as its last line, the ResultLine.
func RunRPC(ctx context.Context, cfg RPCConfig, out io.Writer) (RPCResult, error) {
	res := RPCResult{}
	if err := cfg.setDefaults(); err != nil {
		return res, err
	}
	res.Txs = cfg.Txs
	keys, err := senderKeys(cfg.Senders)
	if err != nil {
		return res, err
	}
	dev, err := genesis.DevAccounts(genesis.DevMnemonic, genesis.DevAccountCount)
	if err != nil {
		return res, fmt.Errorf("bench: dev accounts: %w", err)
	}
	work, err := os.MkdirTemp(cfg.WorkDir, "hemi-bench-rpc-")
	if err != nil {
		return res, fmt.Errorf("bench: work dir: %w", err)
	}
	defer os.RemoveAll(work)
	fmt.Fprintf(out, "machine: %d CPUs, load average %s\n", runtime.NumCPU(), loadAvg())
	mining := "interval mining every " + cfg.BlockTime.String()
	if cfg.AnvilMining == anvilAutomine {
		mining = "automine"
	}
	fmt.Fprintf(out, "workload: %d transfers from %d senders, %d clients, batches of %d; gas limit %d; our block time %s; anvil %s (%s)\n",
		cfg.Txs, cfg.Senders, cfg.Clients, cfg.Batch, cfg.GasLimit, cfg.BlockTime, cfg.AnvilBinary, mining)
	fmt.Fprintf(out, "our pool: account slots %d, global slots %d, account queue %d, global queue %d\n",
		cfg.PoolLimits.AccountSlots, cfg.PoolLimits.GlobalSlots, cfg.PoolLimits.AccountQueue, cfg.PoolLimits.GlobalQueue)

	var ours, anvil []*loadResult
	for run := 1; run <= cfg.Runs; run++ {
		dir := filepath.Join(work, fmt.Sprintf("ours-%d", run))
		st, err := startOurs(ctx, cfg, dir)
		if err != nil {
			return res, err
		}
		prof := ""
		if cfg.ProfileDir != "" {
			prof = filepath.Join(cfg.ProfileDir, fmt.Sprintf("ours-%d-cpu.pprof", run))
		}
		r, err := runTarget(ctx, cfg, "ours", st.url, keys, dev, prof, out)
		if serr := st.stop(); err == nil {
			err = serr
		}
		if err != nil {
			return res, err
		}
		_ = os.RemoveAll(dir)
		ours = append(ours, r)
		printRun(out, "ours", run, r)

		home := filepath.Join(work, fmt.Sprintf("anvil-%d", run))
		if err := os.MkdirAll(home, 0o700); err != nil {
			return res, fmt.Errorf("bench: anvil home: %w", err)
		}
		a, err := startAnvil(ctx, cfg.AnvilBinary, home, cfg.GasLimit, cfg.AnvilMining, cfg.BlockTime)
		if err != nil {
			return res, err
		}
		r, err = runTarget(ctx, cfg, "anvil", a.url, keys, dev, "", out)
		_ = a.stop()
		if err != nil {
			if cfg.AnvilMining == anvilAutomine {
				err = fmt.Errorf("%w (anvil's automine loses its wake-up under load, foundry-rs/foundry#10122: use interval mining)", err)
			}
			if log := a.log.String(); log != "" {
				err = fmt.Errorf("%w\n--- anvil output:\n%s", err, log)
			}
			return res, err
		}
		_ = os.RemoveAll(home)
		anvil = append(anvil, r)
		printRun(out, "anvil", run, r)
	}
	res.Ours, res.Anvil = medianTarget(ours), medianTarget(anvil)
	res.Ratio = res.Ours.TxS / res.Anvil.TxS
	fmt.Fprintf(out, "machine: load average %s at the end\n", loadAvg())
	if cfg.Runs > 1 {
		fmt.Fprintf(out, "median of %d runs: ours %.0f tx/s (p50 inclusion %s), anvil %.0f tx/s (p50 inclusion %s)\n",
			cfg.Runs, res.Ours.TxS, res.Ours.P50.Round(time.Millisecond), res.Anvil.TxS, res.Anvil.P50.Round(time.Millisecond))
	}
	fmt.Fprintln(out, res.ResultLine())
	return res, nil
}

// runTarget funds the senders on the target at url (not timed), signs the
// timed transfers for its chain id, sends them and waits until all are in
// blocks, then checks every receipt (not timed).
func runTarget(ctx context.Context, cfg RPCConfig, name, url string, keys []*ecdsa.PrivateKey, dev []genesis.DevAccount, profile string, out io.Writer) (*loadResult, error) {
	c, err := newClient(ctx, url)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var id hexutil.Uint64
	if err := c.CallContext(ctx, &id, "eth_chainId"); err != nil {
		return nil, fmt.Errorf("bench: %s: eth_chainId: %w", name, err)
	}
	chainID := uint64(id)

	devKeys := make([]*ecdsa.PrivateKey, len(dev))
	devAddrs := make([]common.Address, len(dev))
	for i, a := range dev {
		devKeys[i], devAddrs[i] = a.Key, a.Address
	}
	devNonces, err := nonces(ctx, c, devAddrs, "pending")
	if err != nil {
		return nil, fmt.Errorf("bench: %s: %w", name, err)
	}
	senders := make([]common.Address, len(keys))
	fund := make([]transfer, len(keys))
	for s, k := range keys {
		senders[s] = crypto.PubkeyToAddress(k.PublicKey)
		from := s % len(dev)
		fund[s] = transfer{from: from, nonce: devNonces[from] + uint64(s/len(dev)), to: senders[s], value: rpcFunding}
	}
	ftxs, err := signAll(ctx, chainID, devKeys, fund)
	if err != nil {
		return nil, err
	}
	fr, err := sendAndWait(ctx, url, ftxs, encodePlan(ftxs, streams(fund, cfg.Clients, cfg.Batch)), cfg.Timeout)
	if err != nil {
		return nil, fmt.Errorf("bench: %s: fund the senders: %w", name, err)
	}
	if err := checkReceipts(ctx, url, ftxs, fr.blocks); err != nil {
		return nil, fmt.Errorf("bench: %s: fund the senders: %w", name, err)
	}
	fmt.Fprintf(out, "%s: chain id %d; funded %d senders from %d dev accounts in %s (%d blocks; not timed)\n",
		name, chainID, len(keys), len(dev), fr.end.Sub(fr.start).Round(time.Millisecond), len(fr.blocks))

	sn, err := nonces(ctx, c, senders, "pending")
	if err != nil {
		return nil, fmt.Errorf("bench: %s: %w", name, err)
	}
	ts := make([]transfer, cfg.Txs)
	for k := range ts {
		from := k % len(keys)
		ts[k] = transfer{from: from, nonce: sn[from] + uint64(k/len(keys)), to: recipient(k), value: rpcTransfer}
	}
	t0 := time.Now()
	txs, err := signAll(ctx, chainID, keys, ts)
	if err != nil {
		return nil, err
	}
	// The JSON-RPC batches are encoded before the timed sends too, and
	// before the wait for a block below, so both targets start at the
	// same phase.
	plan := encodePlan(txs, streams(ts, cfg.Clients, cfg.Batch))
	fmt.Fprintf(out, "%s: signed %d transfers for chain id %d and encoded their batches in %s (not timed)\n", name, len(txs), chainID, time.Since(t0).Round(time.Millisecond))

	// Start right after a block, so both targets start at the same phase
	// of their block time: where in the block time the sends begin
	// decides whether 20,000 transfers need two blocks or three, and
	// would otherwise swing a run's figure by a third.
	if err := waitNextBlock(ctx, c, 3*cfg.BlockTime+time.Second); err != nil {
		return nil, fmt.Errorf("bench: %s: %w", name, err)
	}
	stopProf, err := profileTo(profile)
	if err != nil {
		return nil, err
	}
	r, err := sendAndWait(ctx, url, txs, plan, cfg.Timeout)
	if perr := stopProf(); err == nil && perr != nil {
		err = fmt.Errorf("bench: profile: %w", perr)
	}
	if err != nil {
		return nil, fmt.Errorf("bench: %s: %w", name, err)
	}
	t0 = time.Now()
	if err := checkTransfers(ctx, url, senders, sn, ts); err != nil {
		return nil, fmt.Errorf("bench: %s: %w", name, err)
	}
	fmt.Fprintf(out, "%s: all %d transfers applied: every sender's nonce and recipient's balance as expected, checked in %s (not timed)\n",
		name, len(txs), time.Since(t0).Round(time.Millisecond))
	return r, nil
}

func printRun(out io.Writer, name string, run int, r *loadResult) {
	fmt.Fprintf(out, "%s run %d: %d transfers in %s: %.0f tx/s; sends answered after %s (%.0f tx/s); inclusion p50 %s p90 %s max %s; %d blocks\n",
		name, run, len(r.latency), r.end.Sub(r.start).Round(time.Millisecond), r.txPerSec(),
		r.sent.Sub(r.start).Round(time.Millisecond), float64(len(r.latency))/r.sent.Sub(r.start).Seconds(),
		percentile(r.latency, 50).Round(time.Millisecond), percentile(r.latency, 90).Round(time.Millisecond),
		percentile(r.latency, 100).Round(time.Millisecond), len(r.blocks))
	var b strings.Builder
	for i, bl := range r.blocks {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "#%d %d txs at +%s", bl.number, bl.txs, bl.seen.Sub(r.start).Round(time.Millisecond))
	}
	fmt.Fprintf(out, "%s run %d blocks: %s\n", name, run, b.String())
}

// medianTarget picks the run with the median throughput and reports it.
func medianTarget(rs []*loadResult) RPCTargetResult {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b *loadResult) int { return cmp.Compare(a.end.Sub(a.start), b.end.Sub(b.start)) })
	r := s[len(s)/2]
	return RPCTargetResult{
		TxS:     r.txPerSec(),
		P50:     percentile(r.latency, 50),
		P90:     percentile(r.latency, 90),
		Blocks:  len(r.blocks),
		SendTxS: float64(len(r.latency)) / r.sent.Sub(r.start).Seconds(),
		Wall:    r.end.Sub(r.start),
	}
}
