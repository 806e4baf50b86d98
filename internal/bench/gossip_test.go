package bench

import (
	"crypto/ecdsa"
	"log/slog"
	"path/filepath"
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
	txs, err := w.sign(keys)
	if err != nil {
		b.Fatal(err)
	}
	src, err := ourChain(w, btc, filepath.Join(dir, "source"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { src.Close() })
	if err := w.buildOn(src, txs, seq, btc, false); err != nil {
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
// every block unless noSync).
func (g *gossipBench) follower(b *testing.B, noSync bool) *chain.Chain {
	b.Helper()
	c, err := node.OpenChain(g.w.spec, g.btc.btc, node.ChainOptions{Dir: b.TempDir(), NoSync: noSync, CacheMB: 64, TrieCacheMB: 64,
		Clock: clock.Fixed{T: time.Unix(l2GenesisTime+1_000_000, 0)}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkGossipFollower times a follower's whole work for one gossiped
// block of 100 transfers: the validator (decode, seal, transactions
// root, window) and the import (senders, execution, state commit, the
// block's batch and its fsync).
func BenchmarkGossipFollower(b *testing.B) {
	g := newGossipBench(b)
	for _, noSync := range []bool{false, true} {
		name := "fsync"
		if noSync {
			name = "nosync"
		}
		b.Run(name, func(b *testing.B) {
			var c *chain.Chain
			var gate *netp2p.Gate
			i := len(g.msgs)
			for b.Loop() {
				if i == len(g.msgs) {
					b.StopTimer()
					if c != nil {
						c.Close()
					}
					c, gate, i = g.follower(b, noSync), netp2p.NewGate(g.seqs), 0
					b.StartTimer()
				}
				d := gate.Check(g.msgs[i], netp2p.Facts{Head: c.Head().Number.Uint64()})
				if d.Verdict != netp2p.Accept {
					b.Fatal(d.Err)
				}
				if err := c.InsertBlock(d.Block); err != nil {
					b.Fatal(err)
				}
				i++
			}
			if c != nil {
				c.Close()
			}
		})
	}
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
					c, i = g.follower(b, false), 0
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
