package p2p

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultMaxPeers              = 8
	DefaultUserAgentName         = "hemi"
	DefaultUserAgentVersion      = "0.1.0"
	DefaultBanDuration           = time.Hour
	DefaultConnectTimeout        = 15 * time.Second
	DefaultStallTimeout          = 30 * time.Second
	DefaultHeadersTimeout        = 20 * time.Second
	DefaultBroadcastTimeout      = 15 * time.Second
	DefaultBroadcastSilence      = 2 * time.Second
	DefaultReconnectMin          = time.Second
	DefaultReconnectMax          = 2 * time.Minute
	DefaultBlocksInFlightPerPeer = 32
	DefaultMaxBlocksInFlight     = 256
	DefaultMaxUnrequestedBlocks  = 8
)

// Config configures a Client. It is read once by New and never changed
// afterwards; zero fields take the documented defaults.
type Config struct {
	// Params are the consensus parameters of the network; required. Only
	// peers that speak this network's magic are accepted.
	Params *chaincfg.Params

	// Peers are the "host:port" addresses to connect to and keep connected;
	// at least one is required. Duplicates are ignored.
	Peers []string

	// MaxPeers caps how many of Peers are connected at once (default 8).
	MaxPeers int

	// UserAgentName and UserAgentVersion are advertised in the version
	// message (BIP 14; no '/', ':', '(' or ')'). Defaults "hemi", "0.1.0".
	UserAgentName    string
	UserAgentVersion string

	// BanDuration is how long a host that sent invalid data is refused
	// (default 1h).
	BanDuration time.Duration

	// ConnectTimeout bounds dialing plus the version handshake (default
	// 15s).
	ConnectTimeout time.Duration

	// StallTimeout is how long a peer with requested blocks may go without
	// delivering one before it is disconnected and its requests are given
	// to other peers (default 30s).
	StallTimeout time.Duration

	// HeadersTimeout bounds the wait for a headers reply; after it other
	// peers are asked (default 20s).
	HeadersTimeout time.Duration

	// BroadcastTimeout bounds how long Broadcast waits for the peers'
	// verdicts when the caller's context has no earlier deadline (default
	// 15s).
	BroadcastTimeout time.Duration

	// BroadcastSilence is how long after announcing a transaction a peer
	// that read the announcement may take to fetch it; a peer that has not
	// by then already knows it (BroadcastResult.Known), and Broadcast does
	// not wait for it until BroadcastTimeout (default 2s).
	BroadcastSilence time.Duration

	// ReconnectMin and ReconnectMax bound the exponential backoff between
	// connection attempts to one peer (defaults 1s and 2m).
	ReconnectMin time.Duration
	ReconnectMax time.Duration

	// BlocksInFlightPerPeer is the request window per peer (default 32);
	// MaxBlocksInFlight caps requested-but-not-received blocks over all
	// peers (default 256).
	BlocksInFlightPerPeer int
	MaxBlocksInFlight     int

	// Workers is the number of goroutines that hand received blocks to
	// Chain.AcceptBlock (default GOMAXPROCS, at least 4: a chain that
	// connects blocks inside AcceptBlock keeps one worker busy for long
	// stretches, and the others must go on storing arriving blocks).
	Workers int

	// MaxUnrequestedBlocks is how many blocks a peer may send without our
	// request before it is banned (default 8).
	MaxUnrequestedBlocks int

	// Logger receives the client's logs (default slog.Default()).
	Logger *slog.Logger

	// Registerer registers the client's Prometheus metrics; nil means they
	// are kept but not registered.
	Registerer prometheus.Registerer
}

// ErrConfig is wrapped by every configuration error from New.
var ErrConfig = errors.New("invalid p2p config")

// withDefaults returns a copy of c with defaults filled in and the peer list
// de-duplicated, or an error naming the bad field.
func (c Config) withDefaults() (Config, error) {
	if c.Params == nil {
		return c, fmt.Errorf("%w: Params is required (e.g. network.Params(\"regtest\"))", ErrConfig)
	}
	seen := make(map[string]bool)
	var peers []string
	for _, p := range c.Peers {
		p = strings.TrimSpace(p)
		if p == "" || seen[p] {
			continue
		}
		if _, port, err := net.SplitHostPort(p); err != nil || port == "" {
			return c, fmt.Errorf("%w: peer %q is not host:port", ErrConfig, p)
		}
		seen[p] = true
		peers = append(peers, p)
	}
	if len(peers) == 0 {
		return c, fmt.Errorf("%w: at least one peer (host:port) is required", ErrConfig)
	}
	c.Peers = peers
	for _, s := range []string{c.UserAgentName, c.UserAgentVersion} {
		if strings.ContainsAny(s, "/:()") {
			return c, fmt.Errorf("%w: user agent %q must not contain '/', ':', '(' or ')'", ErrConfig, s)
		}
	}
	type nonNeg struct {
		name string
		v    int64
	}
	for _, f := range []nonNeg{
		{"MaxPeers", int64(c.MaxPeers)}, {"BanDuration", int64(c.BanDuration)},
		{"ConnectTimeout", int64(c.ConnectTimeout)}, {"StallTimeout", int64(c.StallTimeout)},
		{"HeadersTimeout", int64(c.HeadersTimeout)}, {"BroadcastTimeout", int64(c.BroadcastTimeout)},
		{"BroadcastSilence", int64(c.BroadcastSilence)},
		{"ReconnectMin", int64(c.ReconnectMin)}, {"ReconnectMax", int64(c.ReconnectMax)},
		{"BlocksInFlightPerPeer", int64(c.BlocksInFlightPerPeer)},
		{"MaxBlocksInFlight", int64(c.MaxBlocksInFlight)}, {"Workers", int64(c.Workers)},
		{"MaxUnrequestedBlocks", int64(c.MaxUnrequestedBlocks)},
	} {
		if f.v < 0 {
			return c, fmt.Errorf("%w: %s must not be negative", ErrConfig, f.name)
		}
	}
	setInt := func(p *int, d int) {
		if *p == 0 {
			*p = d
		}
	}
	setDur := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	setInt(&c.MaxPeers, DefaultMaxPeers)
	setInt(&c.BlocksInFlightPerPeer, DefaultBlocksInFlightPerPeer)
	setInt(&c.MaxBlocksInFlight, DefaultMaxBlocksInFlight)
	setInt(&c.Workers, max(4, runtime.GOMAXPROCS(0)))
	setInt(&c.MaxUnrequestedBlocks, DefaultMaxUnrequestedBlocks)
	setDur(&c.BanDuration, DefaultBanDuration)
	setDur(&c.ConnectTimeout, DefaultConnectTimeout)
	setDur(&c.StallTimeout, DefaultStallTimeout)
	setDur(&c.HeadersTimeout, DefaultHeadersTimeout)
	setDur(&c.BroadcastTimeout, DefaultBroadcastTimeout)
	setDur(&c.BroadcastSilence, DefaultBroadcastSilence)
	setDur(&c.ReconnectMin, DefaultReconnectMin)
	setDur(&c.ReconnectMax, DefaultReconnectMax)
	if c.ReconnectMax < c.ReconnectMin {
		c.ReconnectMax = c.ReconnectMin
	}
	if c.UserAgentName == "" {
		c.UserAgentName = DefaultUserAgentName
	}
	if c.UserAgentVersion == "" {
		c.UserAgentVersion = DefaultUserAgentVersion
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}
