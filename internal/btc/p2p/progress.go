package p2p

import (
	"log/slog"
	"sort"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
)

// rateWindow is the span over which Progress computes rates.
const rateWindow = 10 * time.Second

type rateSample struct {
	at     time.Time
	blocks uint64
	txs    uint64
}

// Progress is a snapshot of the sync state, for progress lines and status
// endpoints.
type Progress struct {
	HeaderHeight   int32
	HeaderHash     chainhash.Hash
	BlockHeight    int32
	BlockHash      chainhash.Hash
	Peers          int
	BlocksInFlight int
	// BlocksPerSecond and TxsPerSecond are accepted-block rates over the
	// last ten seconds.
	BlocksPerSecond float64
	TxsPerSecond    float64
	// ETA estimates the time until the block tip reaches the header tip at
	// the current rate; zero when synced or when nothing is moving.
	ETA time.Duration
	// Synced means a peer is connected, no headers are being fetched and
	// every header has its block.
	Synced         bool
	BlocksAccepted uint64
	TxsAccepted    uint64
	BytesReceived  uint64
}

// LogValue renders the snapshot as slog attributes, so a service can log
// it with a static message: log.Info("bitcoin sync", "progress", p).
func (p Progress) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("header_height", int(p.HeaderHeight)),
		slog.Int("block_height", int(p.BlockHeight)),
		slog.Int("peers", p.Peers),
		slog.Float64("blocks_per_s", round1(p.BlocksPerSecond)),
		slog.Float64("txs_per_s", round1(p.TxsPerSecond)),
		slog.Duration("eta", p.ETA.Round(time.Second)),
		slog.Bool("synced", p.Synced),
	)
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }

// Progress returns the current sync state. It is safe to call at any time.
func (c *Client) Progress() Progress {
	hh, hHeight := c.chain.BestHeader()
	bh, bHeight := c.chain.BlockTip()
	now := time.Now()
	p := Progress{
		HeaderHeight:   hHeight,
		HeaderHash:     hh,
		BlockHeight:    bHeight,
		BlockHash:      bh,
		BlocksAccepted: c.blocksAccepted.Load(),
		TxsAccepted:    c.txsAccepted.Load(),
		BytesReceived:  c.bytesReceived.Load(),
	}
	c.mu.Lock()
	p.Peers = len(c.peers)
	p.BlocksInFlight = len(c.inflight)
	headersBusy := c.hdrPeer != nil
	if len(c.samples) > 0 {
		s := c.samples[0]
		if dt := now.Sub(s.at).Seconds(); dt >= 0.5 {
			p.BlocksPerSecond = float64(p.BlocksAccepted-s.blocks) / dt
			p.TxsPerSecond = float64(p.TxsAccepted-s.txs) / dt
		}
	}
	c.mu.Unlock()
	p.Synced = p.Peers > 0 && !headersBusy && bHeight >= hHeight
	if !p.Synced && p.BlocksPerSecond > 0 && hHeight > bHeight {
		p.ETA = time.Duration(float64(hHeight-bHeight) / p.BlocksPerSecond * float64(time.Second))
	}
	return p
}

// sample records the counters for the rate window.
func (c *Client) sample(now time.Time) {
	s := rateSample{at: now, blocks: c.blocksAccepted.Load(), txs: c.txsAccepted.Load()}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.samples = append(c.samples, s)
	// Keep the oldest sample that is still inside the window.
	i := 0
	for i < len(c.samples)-1 && now.Sub(c.samples[i+1].at) >= rateWindow {
		i++
	}
	c.samples = c.samples[i:]
}

// PeerInfo describes one connected peer.
type PeerInfo struct {
	Addr           string // as configured
	UserAgent      string
	Height         int32 // best height it announced or we learned from it
	Witness        bool  // serves witness data (required to download blocks)
	BlocksInFlight int
	BytesReceived  uint64
	BytesSent      uint64
	Connected      time.Time
}

// Peers lists the peers that completed the handshake, sorted by address.
func (c *Client) Peers() []PeerInfo {
	type entry struct {
		info PeerInfo
		p    *peerState
	}
	c.mu.Lock()
	entries := make([]entry, 0, len(c.peers))
	for ps := range c.peers {
		entries = append(entries, entry{PeerInfo{Addr: ps.addr, Height: ps.height, BlocksInFlight: len(ps.inflight)}, ps})
	}
	c.mu.Unlock()
	out := make([]PeerInfo, len(entries))
	for i, e := range entries {
		// The btcd peer's own accessors take its locks, not ours.
		p := e.p.p
		e.info.UserAgent = p.UserAgent()
		e.info.Witness = p.IsWitnessEnabled()
		e.info.BytesReceived = p.BytesReceived()
		e.info.BytesSent = p.BytesSent()
		e.info.Connected = p.TimeConnected()
		out[i] = e.info
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out
}
