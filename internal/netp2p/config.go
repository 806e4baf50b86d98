package netp2p

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of Config.
const (
	DefaultMaxPeers         = 32
	DefaultBanDuration      = time.Hour
	DefaultHandshakeTimeout = 10 * time.Second
	// DefaultListen is the listen address `hemi node` uses unless
	// configured: loopback, so a node accepts peers from other machines
	// only when its operator says so (a follower needs no listener: it
	// dials its static peers).
	DefaultListen = "/ip4/127.0.0.1/tcp/7350"
	// ViewGrace is how many blocks the Bitcoin index's best header must be
	// above a gossiped block's claimed view height before a view the index
	// still does not know counts against the sender (issue 10 item 7).
	ViewGrace = 6
	// redialMin and redialMax bound the backoff between dials of a static
	// peer that is not connected.
	redialMin = time.Second
	redialMax = time.Minute
)

// Config configures a Service. It is not modified after New.
type Config struct {
	// ListenAddrs are multiaddrs to listen on (TCP only), e.g.
	// /ip4/0.0.0.0/tcp/7350. Empty: no listener (dial only).
	ListenAddrs []string
	// Peers are static peers, multiaddrs ending in /p2p/<peer id>
	// (e.g. /ip4/10.0.0.2/tcp/7350/p2p/12D3KooW...). They are dialed at
	// start and redialed with backoff whenever the connection drops.
	Peers []string
	// MaxPeers caps connected peers: inbound connections beyond it are
	// refused (static peers always connect). Default DefaultMaxPeers.
	MaxPeers int
	// Identity is the node's libp2p key (LoadIdentity). nil: a new key
	// every start (tests).
	Identity crypto.PrivKey

	// GenesisHash identifies the network: the handshake refuses peers
	// with another, and the gossip topic is named by it.
	GenesisHash common.Hash
	// ChainID is the L2 chain id, checked in the handshake too.
	ChainID uint64
	// Sequencers are the addresses whose seal a gossiped block may carry.
	Sequencers []common.Address

	// Chain is the L2 chain blocks are read from and inserted into.
	Chain Chain
	// Finality gives the finalized block number (nil: 0, nothing is
	// final).
	Finality Finalizer
	// Bitcoin gives the index's best header, for ErrViewNotReady retries
	// (nil: such blocks are retried until they expire, never penalised).
	Bitcoin BitcoinHeaders
	// Syncer catches up when gossip cannot connect a block (nil: such
	// blocks wait in memory until their parent arrives, and a warning
	// says no catch-up sync is configured).
	Syncer Syncer
	// Publisher, when set, makes the node publish every new canonical
	// head sealed by this address (a sequencer's own key) that it did
	// not receive by gossip. Only the member that sealed a block, the
	// raft group's leader of its time, publishes it: the other members
	// apply the same block from the raft log and leave it to the leader
	// (their copies were as many messages again on every link). Zero: a
	// follower, which only relays.
	Publisher common.Address
	// TxFeed configures the pending-transaction feed (doc.go): what this
	// node announces, and the cache it recovers announced senders into.
	// The zero value relays batches only.
	TxFeed TxFeedConfig

	// BanDuration is how long a banned peer is refused. Default
	// DefaultBanDuration.
	BanDuration time.Duration
	// HandshakeTimeout bounds the handshake; an inbound peer that has not
	// finished it by then is disconnected. Default
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration

	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// withDefaults fills the defaults and checks the config; it returns the
// parsed static peers and listen addresses.
func (c Config) withDefaults() (Config, []peer.AddrInfo, []ma.Multiaddr, error) {
	if c.Chain == nil {
		return c, nil, nil, errors.New("netp2p: Config needs Chain")
	}
	if c.GenesisHash == (common.Hash{}) {
		return c, nil, nil, errors.New("netp2p: Config needs GenesisHash")
	}
	if len(c.Sequencers) == 0 {
		return c, nil, nil, errors.New("netp2p: Config needs the Sequencers whose seal blocks may carry")
	}
	if c.MaxPeers == 0 {
		c.MaxPeers = DefaultMaxPeers
	}
	if c.MaxPeers < 0 {
		return c, nil, nil, fmt.Errorf("netp2p: max peers %d must be positive", c.MaxPeers)
	}
	if c.BanDuration <= 0 {
		c.BanDuration = DefaultBanDuration
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.TxFeed.Delay <= 0 {
		c.TxFeed.Delay = DefaultTxBatchDelay
	}
	if c.TxFeed.Senders != nil && c.TxFeed.Signer == nil {
		return c, nil, nil, errors.New("netp2p: TxFeed.Senders needs TxFeed.Signer (types.LatestSigner of the chain config)")
	}
	listen, err := ParseListen(c.ListenAddrs)
	if err != nil {
		return c, nil, nil, err
	}
	peers, err := ParsePeers(c.Peers)
	if err != nil {
		return c, nil, nil, err
	}
	return c, peers, listen, nil
}

// ParseListen parses listen multiaddrs; each must be TCP over IPv4 or
// IPv6 (the only transport the node runs).
func ParseListen(addrs []string) ([]ma.Multiaddr, error) {
	out := make([]ma.Multiaddr, 0, len(addrs))
	for _, s := range addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("netp2p: listen address %q: %w (want e.g. /ip4/0.0.0.0/tcp/7350)", s, err)
		}
		if err := tcpOnly(a); err != nil {
			return nil, fmt.Errorf("netp2p: listen address %q: %w", s, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// ParsePeers parses static peers: multiaddrs with a TCP address and a
// /p2p/<peer id> part.
func ParsePeers(addrs []string) ([]peer.AddrInfo, error) {
	out := make([]peer.AddrInfo, 0, len(addrs))
	seen := map[peer.ID]int{}
	for _, s := range addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("netp2p: peer %q: %w (want e.g. /ip4/10.0.0.2/tcp/7350/p2p/12D3KooW...)", s, err)
		}
		ai, err := peer.AddrInfoFromP2pAddr(a)
		if err != nil {
			return nil, fmt.Errorf("netp2p: peer %q: %w: the address must end in /p2p/<peer id> (the peer's node logs its id at start)", s, err)
		}
		for _, addr := range ai.Addrs {
			if err := tcpOnly(addr); err != nil {
				return nil, fmt.Errorf("netp2p: peer %q: %w", s, err)
			}
		}
		if i, ok := seen[ai.ID]; ok {
			out[i].Addrs = append(out[i].Addrs, ai.Addrs...)
			continue
		}
		seen[ai.ID] = len(out)
		out = append(out, *ai)
	}
	return out, nil
}

// tcpOnly refuses addresses of transports the node does not run.
func tcpOnly(a ma.Multiaddr) error {
	if _, err := a.ValueForProtocol(ma.P_TCP); err != nil {
		return errors.New("not a TCP address: the node speaks TCP only")
	}
	for _, p := range []int{ma.P_QUIC_V1, ma.P_WS, ma.P_WSS, ma.P_CIRCUIT, ma.P_WEBTRANSPORT} {
		if _, err := a.ValueForProtocol(p); err == nil {
			return fmt.Errorf("transport %s is not supported: the node speaks plain TCP only", ma.ProtocolWithCode(p).Name)
		}
	}
	return nil
}
