package node

import (
	"context"
	"log/slog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hemi-go/hemi/internal/netp2p"
	"github.com/hemi-go/hemi/internal/netp2p/rangesync"
)

// catchUp is the node's catch-up sync (DESIGN 9): range sync over the
// L2 host, serving this node's chain to peers and fetching from them
// when gossip shows a block whose parent this node lacks.
type catchUp struct {
	p2p    *netp2p.Service
	server *rangesync.Server
	client *rangesync.Syncer
	log    *slog.Logger
}

// newCatchUp builds range sync on the node's L2 host, under the protocol
// of its genesis, reporting bad answers to the gossip scorer.
func newCatchUp(n *Node, genesisHash common.Hash) (*catchUp, error) {
	proto := rangesync.ProtocolID(genesisHash)
	log := n.log.With("subsystem", "rangesync")
	srv, err := rangesync.NewServer(rangesync.ServerConfig{Host: n.P2P.Host(), Chain: n.Chain, Protocol: proto})
	if err != nil {
		return nil, err
	}
	cl, err := rangesync.New(rangesync.Config{Host: n.P2P.Host(), Chain: n.Chain, Protocol: proto,
		Penalizer: n.P2P, Logger: log})
	if err != nil {
		return nil, err
	}
	return &catchUp{p2p: n.P2P, server: srv, client: cl, log: log}, nil
}

// SyncTo fetches the blocks up to (number, hash) from the peer that
// announced it and every other ready peer in parallel (netp2p.Syncer).
func (c *catchUp) SyncTo(ctx context.Context, from peer.ID, number uint64, hash common.Hash) error {
	peers := []peer.ID{from}
	for _, p := range c.p2p.Peers() {
		if p.Ready && p.Connected && p.ID != from && p.BannedUntil.IsZero() {
			peers = append(peers, p.ID)
		}
	}
	return c.client.Sync(ctx, rangesync.Target{Number: number, Hash: hash}, peers)
}

// SyncProgress answers eth_syncing (rpc.Sync).
func (c *catchUp) SyncProgress() (starting, current, highest uint64, syncing bool) {
	return c.client.SyncProgress()
}
