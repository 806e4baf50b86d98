package node

import (
	"context"
	"errors"
	"net"
	"path/filepath"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/hemi-go/hemi/internal/ha"
	"github.com/hemi-go/hemi/internal/tbc"
)

// TBCSync adapts the Bitcoin layer to ha.Bitcoin: the index's block
// height against the best header height it learned from its peers (the
// headers they announce, proof of work checked), and the peer count.
type TBCSync struct{ svc *tbc.Service }

var _ ha.Bitcoin = TBCSync{}

// NewTBCSync adapts svc.
func NewTBCSync(svc *tbc.Service) TBCSync { return TBCSync{svc: svc} }

// SyncHeights implements ha.Bitcoin.
func (s TBCSync) SyncHeights() (index, announced int32, peers int) {
	_, index = s.svc.BlockTip()
	p := s.svc.Progress()
	return index, max(p.HeaderHeight, index), p.Peers
}

// newHA builds the raft member of a sequencer node (Config.HA): the
// block producer commits through it and runs only while it leads. It
// fills what the node knows: the member's id (the key's address), the
// genesis sequencer set and block time, the chain, the Bitcoin layer
// (unless given), the raft directory (Dir/raft unless given), logger
// and metrics.
func (n *Node) newHA(cfg Config) (*ha.Group, error) {
	if cfg.Key == nil {
		return nil, errors.New("node: a raft sequencer group member needs the sequencer key")
	}
	hc := *cfg.HA
	hc.ID = crypto.PubkeyToAddress(cfg.Key.PublicKey)
	hc.Sequencers = cfg.Spec.Config.Sequencers
	hc.BlockTime = cfg.Spec.Config.BlockTime
	hc.Chain = n.Chain
	if hc.Bitcoin == nil {
		hc.Bitcoin = NewTBCSync(cfg.BTC)
	}
	if hc.RPCURL == "" {
		hc.RPCURL = memberRPCURL(cfg, hc)
		if hc.RPCURL == "" && (cfg.RPC.ListenAddr != "" || cfg.RPCListener != nil) {
			n.log.Warn("the other group members cannot relay transactions to this one while it leads: its JSON-RPC listens on an "+
				"unspecified address and ha.advertise names no host; set ha.rpc_url", "rpc_listen", cfg.RPC.ListenAddr)
		}
	}
	if hc.Dir == "" && cfg.Dir != "" {
		hc.Dir = filepath.Join(cfg.Dir, "raft")
	}
	// The leader gossips its block as soon as the group committed it,
	// while it stores it (netp2p.Service.PublishCommitted).
	if hc.Publisher == nil && n.P2P != nil {
		hc.Publisher = n.P2P
	}
	// The producer is built after the group (the group is its Committer).
	hc.Producer = producerFunc(func(ctx context.Context) error { return n.Sequencer.Run(ctx) })
	if hc.Logger == nil {
		hc.Logger = n.log.With("subsystem", "ha")
	}
	if hc.Registerer == nil {
		hc.Registerer = cfg.Registerer
	}
	return ha.New(hc)
}

type producerFunc func(ctx context.Context) error

func (f producerFunc) Run(ctx context.Context) error { return f(ctx) }

// memberRPCURL is the JSON-RPC URL a member announces to the others when
// ha.rpc_url is not set (ha.Config.RPCURL): its RPC listen address as
// it is, or, when that host is unspecified (0.0.0.0, ::), the host the
// other members dial for raft (ha.advertise, else ha.listen) with the
// RPC port. "" when the node serves no JSON-RPC or no host is known.
func memberRPCURL(cfg Config, hc ha.Config) string {
	listen := cfg.RPC.ListenAddr
	if cfg.RPCListener != nil {
		listen = cfg.RPCListener.Addr().String()
	}
	if listen == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = ""
		for _, a := range []string{hc.Advertise, hc.Bind} {
			h, _, err := net.SplitHostPort(a)
			if ip := net.ParseIP(h); err == nil && h != "" && (ip == nil || !ip.IsUnspecified()) {
				host = h
				break
			}
		}
		if host == "" {
			return ""
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}
