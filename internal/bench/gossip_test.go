package bench

import (
	"crypto/ecdsa"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/clock"
	"github.com/hemi-go/hemi/internal/netp2p"
	"github.com/hemi-go/hemi/internal/node"
)

// gossipBench is a source chain of blocks of 100 transfers (the load of
// `hemi bench net`) and their gossip messages, for the gossip path
// benchmarks.
type gossipBench struct {
	w    *l2Workload
	btc  *l2Bitcoin
	src  *chain.Chain
	seq  *ecdsa.PrivateKey
	txs  [][]*types.Transaction
	seqs []common.Address
	msgs [][]byte
}

const gossipBenchBlocks, gossipBenchTxs = 24, 100

func newGossipBench(b *testing.B) *gossipBench {
	b.Helper()
	dir := b.TempDir()
	btc, err := openL2Bitcoin(filepath.Join(dir, "bitcoin"), genesis.DefaultViewLag)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { btc.Close() })
	w, seq, keys, err := netSyncWorkload(NetSyncConfig{Blocks: gossipBenchBlocks, PerBlock: gossipBenchTxs}, btc)
	if err != nil {
		b.Fatal(err)
	}
	txs, err := w.sign(b.Context(), keys)
	if err != nil {
		b.Fatal(err)
	}
	src, err := ourChain(w, btc, filepath.Join(dir, "source"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { src.Close() })
	if err := w.buildOn(b.Context(), src, txs, seq, btc, false); err != nil {
		b.Fatal(err)
	}
	g := &gossipBench{w: w, btc: btc, src: src, seq: seq, txs: txs, seqs: []common.Address{crypto.PubkeyToAddress(seq.PublicKey)}}
	for n := uint64(1); n <= gossipBenchBlocks; n++ {
		blk, err := src.BlockByNumber(n)
		if err != nil {
			b.Fatal(err)
		}
		data, err := netp2p.EncodeBlock(blk)
		if err != nil {
			b.Fatal(err)
		}
		g.msgs = append(g.msgs, data)
	}
	return g
}

// follower opens a fresh chain as a node opens its own (fsync after
// every block unless noSync). With cached, its sender cache already
// holds the senders of every transaction of the source chain, recovered
// from copies of them, as netp2p's pending-transaction feed leaves it
// before their blocks arrive.
func (g *gossipBench) follower(b *testing.B, noSync, cached bool) *chain.Chain {
	b.Helper()
	var sc *chain.SenderCache
	if cached {
		sc = chain.NewSenderCache(0)
		signer := types.LatestSigner(g.w.spec.Config.ChainConfig())
		for _, txs := range g.txs {
			for _, tx := range txs {
				enc, err := tx.MarshalBinary()
				if err != nil {
					b.Fatal(err)
				}
				cp := new(types.Transaction)
				if err := cp.UnmarshalBinary(enc); err != nil {
					b.Fatal(err)
				}
				if _, err := sc.Add(signer, cp); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	c, err := node.OpenChain(g.w.spec, g.btc.btc, node.ChainOptions{Dir: b.TempDir(), NoSync: noSync, CacheMB: 64, TrieCacheMB: 64,
		Clock: clock.Fixed{T: time.Unix(l2GenesisTime+1_000_000, 0)}, Logger: slog.New(slog.DiscardHandler), SenderCache: sc})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// gossipFollowerModes are the ways BenchmarkGossipFollower takes each
// block, the old path first: insert (InsertBlock alone: the senders are
// recovered, and the accounts read, inside the insertion) or prepare
// (the validator calls chain.Prepare on the accepted block, as netp2p's
// does, then InsertBlock), with the fsync after each block (a sequencer's
// chain) or without (a follower's, node.Config.NoSync), and with the
// senders in the chain's sender cache (netp2p's pending-transaction feed
// recovered them before the block: cached) or not.
var gossipFollowerModes = []struct {
	name                    string
	prepare, noSync, cached bool
}{
	{"insert-fsync", false, false, false},
	{"prepare-fsync", true, false, false},
	{"prepare-nosync", true, true, false},
	{"prepare-nosync-cached", true, true, true},
}

// BenchmarkGossipFollower times a follower's whole work for one gossiped
// block of 100 transfers: the validator (decode, seal, transactions
// root, window) and the import (senders, execution, state commit, the
// block's batch and its fsync). Each block goes, in turn, through one
// follower per mode of gossipFollowerModes, in the same run, the order
// rotating, so the machine's load moves every mode alike. It reports
// each mode's wall and CPU time (user + system, every thread of the
// process) per block, and logs each against the first.
func BenchmarkGossipFollower(b *testing.B) {
	g := newGossipBench(b)
	modes := gossipFollowerModes
	fol := make([]*chain.Chain, len(modes))
	gate := make([]*netp2p.Gate, len(modes))
	wall := make([]time.Duration, len(modes))
	cpu := make([]time.Duration, len(modes))
	closeAll := func() {
		for _, c := range fol {
			if c != nil {
				c.Close()
			}
		}
	}
	i, n := len(g.msgs), 0
	for b.Loop() {
		if i == len(g.msgs) {
			b.StopTimer()
			closeAll()
			for k, m := range modes {
				fol[k], gate[k] = g.follower(b, m.noSync, m.cached), netp2p.NewGate(g.seqs)
			}
			i = 0
			b.StartTimer()
		}
		for j := range modes {
			k := (j + n) % len(modes)
			c := fol[k]
			start, cpu0 := time.Now(), processCPU(b)
			d := gate[k].Check(g.msgs[i], netp2p.Facts{Head: c.Head().Number.Uint64()})
			if d.Verdict != netp2p.Accept {
				b.Fatal(d.Err)
			}
			if modes[k].prepare {
				c.Prepare(d.Block)
			}
			if err := c.InsertBlock(d.Block); err != nil {
				b.Fatal(err)
			}
			wall[k] += time.Since(start)
			cpu[k] += processCPU(b) - cpu0
		}
		i, n = i+1, n+1
	}
	closeAll()
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }
	var line []string
	for k, m := range modes {
		b.ReportMetric(per(wall[k]), m.name+"-ms/block")
		b.ReportMetric(per(cpu[k]), m.name+"-cpu-ms/block")
		line = append(line, fmt.Sprintf("%s %.2f ms (%.2f ms CPU, %s/this %.2f)", m.name, per(wall[k]), per(cpu[k]),
			modes[0].name, float64(wall[0])/float64(max(wall[k], 1))))
	}
	b.Logf("block of %d transfers, %d blocks each, load average %s: %s", gossipBenchTxs, n, loadAvg(), strings.Join(line, "; "))
}

// processCPU is the CPU time this process used so far (user + system,
// every thread), so a benchmark can report CPU per operation next to
// wall time: on a loaded machine the wall time mostly measures the
// wait for a core.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGossipLeader times the leader's part of propagation for a
// block of 100 transfers: from the group's commit to the gossip message
// ready to publish, two ways in the same run. before: the block is
// stored first (CommitBuilt: state commit, batch, fsync), then its head
// is read back from the database and encoded (the publisher's old path).
// after: the committed block is encoded at once
// (netp2p.Service.PublishCommitted) and stored while it travels
// (stored here untimed). Building and sealing are untimed in both. It
// logs both times and their ratio.
func BenchmarkGossipLeader(b *testing.B) {
	g := newGossipBench(b)
	var before, after time.Duration
	for _, mode := range []string{"before", "after"} {
		b.Run(mode, func(b *testing.B) {
			var c *chain.Chain
			i := len(g.txs)
			coinbase := crypto.PubkeyToAddress(g.seq.PublicKey)
			var took time.Duration
			for b.Loop() {
				b.StopTimer()
				if i == len(g.txs) {
					if c != nil {
						c.Close()
					}
					c, i = g.follower(b, false, false), 0
				}
				head := c.Head()
				built, err := c.BuildBlock(chain.BuildParams{Parent: head, Time: head.Time + 2, View: g.btc.view, Coinbase: coinbase, Txs: g.txs[i]})
				if err != nil {
					b.Fatal(err)
				}
				if err := block.Seal(built.Block.Header, g.seq); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				if mode == "before" {
					if err := c.CommitBuilt(built); err != nil {
						b.Fatal(err)
					}
					blk, err := c.BlockByHash(built.Block.Hash())
					if err != nil {
						b.Fatal(err)
					}
					if _, err := netp2p.EncodeBlock(blk); err != nil {
						b.Fatal(err)
					}
					took += time.Since(start)
				} else {
					if _, err := netp2p.EncodeBlock(built.Block); err != nil {
						b.Fatal(err)
					}
					took += time.Since(start)
					b.StopTimer()
					if err := c.CommitBuilt(built); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				i++
			}
			if c != nil {
				c.Close()
			}
			per := took / time.Duration(b.N)
			b.ReportMetric(float64(per.Microseconds())/1000, "ms/block")
			if mode == "before" {
				before = per
			} else {
				after = per
			}
		})
	}
	if before > 0 && after > 0 {
		b.Logf("leader, commit to message ready (block of %d transfers): before %v, after %v, before/after %.1f",
			gossipBenchTxs, before.Round(time.Microsecond), after.Round(time.Microsecond), float64(before)/float64(after))
	}
}
