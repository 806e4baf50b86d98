package p2p_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/peer"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/bench"
	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/p2p"
)

// rawBlock sends pre-serialized block bytes as a block message.
type rawBlock []byte

func (b rawBlock) BtcDecode(io.Reader, uint32, wire.MessageEncoding) error { return nil }
func (b rawBlock) BtcEncode(w io.Writer, _ uint32, _ wire.MessageEncoding) error {
	_, err := w.Write(b)
	return err
}
func (b rawBlock) Command() string                  { return wire.CmdBlock }
func (b rawBlock) MaxPayloadLength(_ uint32) uint32 { return wire.MaxBlockPayload }

// fileServer serves a bench chain file over P2P with btcd's peer package:
// headers and raw witness blocks, nothing else, so that the benchmark
// measures the client (and the index) rather than a full serving node.
type fileServer struct {
	params  *chaincfg.Params
	file    *bench.ChainFile
	heights map[chainhash.Hash]int32
	ln      net.Listener
	wg      sync.WaitGroup
	mu      sync.Mutex
	peers   []*peer.Peer
}

func startFileServer(tb testing.TB, params *chaincfg.Params, file *bench.ChainFile) *fileServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &fileServer{params: params, file: file, ln: ln, heights: map[chainhash.Hash]int32{*params.GenesisHash: 0}}
	for h := int32(1); h <= file.Blocks(); h++ {
		hash, _ := file.Hash(h)
		s.heights[hash] = h
	}
	s.wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			p := peer.NewInboundPeer(s.config())
			s.mu.Lock()
			s.peers = append(s.peers, p)
			s.mu.Unlock()
			p.AssociateConnection(conn)
		}
	})
	tb.Cleanup(func() {
		_ = ln.Close()
		s.wg.Wait()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, p := range s.peers {
			p.Disconnect()
			p.WaitForDisconnect()
		}
	})
	return s
}

func (s *fileServer) header(h int32) wire.BlockHeader {
	if h == 0 {
		return s.params.GenesisBlock.Header
	}
	raw, _ := s.file.Raw(h)
	var hdr wire.BlockHeader
	_ = hdr.Deserialize(bytes.NewReader(raw[:80]))
	return hdr
}

func (s *fileServer) config() *peer.Config {
	return &peer.Config{
		NewestBlock: func() (*chainhash.Hash, int32, error) {
			h, _ := s.file.Hash(s.file.Blocks())
			return &h, s.file.Blocks(), nil
		},
		UserAgentName: "fileserver", UserAgentVersion: "1.0.0",
		ChainParams:         s.params,
		Services:            wire.SFNodeNetwork | wire.SFNodeWitness,
		AllowSelfConns:      true,
		DisableStallHandler: true,
		Listeners: peer.MessageListeners{
			OnGetHeaders: func(p *peer.Peer, msg *wire.MsgGetHeaders) {
				start := int32(1)
				for _, l := range msg.BlockLocatorHashes {
					if h, ok := s.heights[*l]; ok {
						start = h + 1
						break
					}
				}
				out := wire.NewMsgHeaders()
				for h := start; h <= s.file.Blocks() && len(out.Headers) < wire.MaxBlockHeadersPerMsg; h++ {
					hdr := s.header(h)
					_ = out.AddBlockHeader(&hdr)
				}
				p.QueueMessage(out, nil)
			},
			OnGetData: func(p *peer.Peer, msg *wire.MsgGetData) {
				var prev chan struct{}
				for _, iv := range msg.InvList {
					h, ok := s.heights[iv.Hash]
					if !ok || h == 0 {
						continue
					}
					raw, _ := s.file.Raw(h)
					done := make(chan struct{}, 1)
					p.QueueMessage(rawBlock(raw), done)
					if prev != nil {
						select {
						case <-prev:
						case <-p.Done():
							return
						}
					}
					prev = done
				}
			},
		},
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// nullChain accepts every header that connects and every block it has a
// header for, storing nothing: it measures the client alone.
type nullChain struct {
	mu     sync.Mutex
	hashes []chainhash.Hash
	height map[chainhash.Hash]int32
	stored []bool
	tip    int32
}

func newNullChain(params *chaincfg.Params) *nullChain {
	return &nullChain{hashes: []chainhash.Hash{*params.GenesisHash},
		height: map[chainhash.Hash]int32{*params.GenesisHash: 0}, stored: []bool{true}}
}

func (c *nullChain) Locator() []chainhash.Hash {
	c.mu.Lock()
	defer c.mu.Unlock()
	return []chainhash.Hash{c.hashes[len(c.hashes)-1], c.hashes[0]}
}

func (c *nullChain) AcceptHeaders(hdrs []wire.BlockHeader) (int, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if hdrs[0].PrevBlock != c.hashes[len(c.hashes)-1] {
		return 0, false, p2p.ErrUnconnected
	}
	for i := range hdrs {
		h := hdrs[i].BlockHash()
		c.height[h] = int32(len(c.hashes))
		c.hashes = append(c.hashes, h)
		c.stored = append(c.stored, false)
	}
	return len(hdrs), true, nil
}

func (c *nullChain) BestHeader() (chainhash.Hash, int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hashes[len(c.hashes)-1], int32(len(c.hashes) - 1)
}

func (c *nullChain) NeedBlocks(max int) []chainhash.Hash {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []chainhash.Hash
	for h := c.tip + 1; int(h) < len(c.hashes) && len(out) < max; h++ {
		if !c.stored[h] {
			out = append(out, c.hashes[h])
		}
	}
	return out
}

func (c *nullChain) AcceptBlock(b *wire.MsgBlock) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.height[b.BlockHash()]
	if !ok {
		return p2p.ErrInvalid
	}
	c.stored[h] = true
	for int(c.tip)+1 < len(c.stored) && c.stored[c.tip+1] {
		c.tip++
	}
	return nil
}

func (c *nullChain) BlockTip() (chainhash.Hash, int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hashes[c.tip], c.tip
}

// BenchmarkSyncNullChain measures the client alone: download and decode
// from one loopback peer into a chain that stores nothing.
func BenchmarkSyncNullChain(b *testing.B) {
	benchSync(b, func(*testing.B, *chaincfg.Params) (p2p.Chain, func()) {
		return newNullChain(&chaincfg.RegressionNetParams), func() {}
	})
}

// BenchmarkSyncIndex syncs a generated chain (bench's realistic P2WPKH and
// P2TR spends) from one loopback peer into the real index and reports
// tx/s. Size it with P2P_BENCH_BLOCKS and P2P_BENCH_TXS (defaults 400 and
// 60,000; the target chain is 2,000 and 500,000); P2P_BENCH_WINDOW
// and P2P_BENCH_WORKERS override the client's defaults. Chains are cached
// in .cache/bench.
func BenchmarkSyncIndex(b *testing.B) {
	benchSync(b, func(b *testing.B, params *chaincfg.Params) (p2p.Chain, func()) {
		ix, err := index.Open(index.Config{Dir: b.TempDir(), Params: params, Logger: logger()})
		if err != nil {
			b.Fatal(err)
		}
		return ix, func() { _ = ix.Close() }
	})
}

func benchSync(b *testing.B, open func(*testing.B, *chaincfg.Params) (p2p.Chain, func())) {
	params := &chaincfg.RegressionNetParams
	cfg := bench.GenConfig{Params: params, Blocks: int32(envInt("P2P_BENCH_BLOCKS", 400)),
		Txs: envInt("P2P_BENCH_TXS", 60_000), Seed: "p2p-bench"}
	file, err := bench.LoadOrGenerate(context.Background(), cfg, bench.DefaultCacheDir(), io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	srv := startFileServer(b, params, file)
	want, _ := file.Hash(file.Blocks())
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		chain, closeChain := open(b, params)
		c, err := p2p.New(p2p.Config{Params: params, Peers: []string{srv.ln.Addr().String()}, Logger: logger(),
			BlocksInFlightPerPeer: envInt("P2P_BENCH_WINDOW", 0), Workers: envInt("P2P_BENCH_WORKERS", 0)}, chain)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		b.StartTimer()
		start := time.Now()
		go func() { done <- c.Run(ctx) }()
		for {
			if h, _ := chain.BlockTip(); h == want {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		el := time.Since(start)
		b.StopTimer()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		closeChain()
		b.ReportMetric(float64(file.Txs())/el.Seconds(), "tx/s")
		b.StartTimer()
	}
}
