package peerserve

import (
	"fmt"
	"net"
	"time"
)

// Defaults of Limits. The per-address numbers are sized for a local
// network: `hemi devnet` runs its nodes, signers and PoP miners on one host,
// each Bitcoin client holding one connection to the regtest node, so a
// loopback address gets room for dozens of them (and a test harness's
// extra peers) while leaving half the peer slots to other hosts; a LAN or
// remote host runs at most a few nodes and signers.
const (
	DefaultMaxPending       = 32
	DefaultHandshakeTimeout = 5 * time.Second
	DefaultMaxPerIP         = 16
	DefaultMaxPerLoopbackIP = 64
	DefaultMessageBudget    = 64 << 20
	DefaultMessageTimeout   = time.Minute
	minMessageBudget        = maxMessageBytes
)

// Reasons a connection is refused or dropped, the "reason" label of
// refused_total (with budget.go's).
const (
	reasonMaxPeers         = "max_peers"
	reasonPerAddress       = "per_address"
	reasonEvicted          = "handshake_evicted"
	reasonHandshakeTimeout = "handshake_timeout"
)

// Limits bound what peers can make a Server hold. A zero field means its
// default.
//
// Connections that have not finished the version handshake are counted
// apart from established peers (Config.MaxPeers): at most MaxPending at
// once, each dropped after HandshakeTimeout. A new connection when
// MaxPending are waiting evicts the oldest of them from the address with
// the most, so idle connections delay a real peer by at most its own
// handshake (milliseconds on a LAN) instead of locking it out until a
// timeout, and a flood from one address evicts its own connections first.
//
// One IP address holds at most MaxPerIP connections, handshaking or
// established (MaxPerLoopbackIP for a loopback address); one more is
// closed at once and logged at Warn, once per address until it is below
// its limit again.
//
// The payloads of messages larger than 64 KiB share MessageBudget bytes
// across all peers: a message is reserved when its header arrives and
// counts until the peer's next message is read (so while it is handled
// too). A peer whose message does not fit waits, with nothing more read
// from it, for at most MessageTimeout, and is then dropped; once reserved,
// a message must arrive within MessageTimeout or the peer is dropped.
// Before the handshake only small messages are read. No message may be
// larger than 4,000,000 bytes (btcd's wire limit, a whole block). So the
// bytes of partly received messages stay under MessageBudget +
// (MaxPeers + MaxPending) * 64 KiB (74 MiB with the defaults).
type Limits struct {
	// MaxPending bounds connections still in the version handshake; 0
	// means DefaultMaxPending.
	MaxPending int
	// HandshakeTimeout is how long a connection may take to finish the
	// handshake; 0 means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// MaxPerIP bounds the connections from one non-loopback IP address; 0
	// means DefaultMaxPerIP.
	MaxPerIP int
	// MaxPerLoopbackIP bounds the connections from one loopback address;
	// 0 means DefaultMaxPerLoopbackIP.
	MaxPerLoopbackIP int
	// MessageBudget bounds the bytes of large messages all peers may have
	// partly sent at once; 0 means DefaultMessageBudget. It must hold at
	// least one largest message (4,000,000 bytes).
	MessageBudget int64
	// MessageTimeout bounds both how long a large message waits for budget
	// and how long the peer may take to send it; 0 means
	// DefaultMessageTimeout.
	MessageTimeout time.Duration
}

// withDefaults checks l and fills in its defaults.
func (l Limits) withDefaults() (Limits, error) {
	if l.MaxPending < 0 || l.MaxPerIP < 0 || l.MaxPerLoopbackIP < 0 || l.MessageBudget < 0 ||
		l.HandshakeTimeout < 0 || l.MessageTimeout < 0 {
		return l, fmt.Errorf("%w: negative limit in %+v", ErrConfig, l)
	}
	if l.MaxPending == 0 {
		l.MaxPending = DefaultMaxPending
	}
	if l.HandshakeTimeout == 0 {
		l.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if l.MaxPerIP == 0 {
		l.MaxPerIP = DefaultMaxPerIP
	}
	if l.MaxPerLoopbackIP == 0 {
		l.MaxPerLoopbackIP = DefaultMaxPerLoopbackIP
	}
	if l.MessageBudget == 0 {
		l.MessageBudget = DefaultMessageBudget
	}
	if l.MessageBudget < minMessageBudget {
		return l, fmt.Errorf("%w: MessageBudget %d is below one largest message (%d bytes)", ErrConfig, l.MessageBudget, minMessageBudget)
	}
	if l.MessageTimeout == 0 {
		l.MessageTimeout = DefaultMessageTimeout
	}
	return l, nil
}

// addrCount is what the server tracks of one remote IP address.
type addrCount struct {
	conns  int
	warned bool // the per-address refusal was logged since conns was last below the limit
}

// remoteIP is the IP part of a connection's remote address.
func remoteIP(conn net.Conn) (ip string, loopback bool) {
	if ta, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		return ta.IP.String(), ta.IP.IsLoopback()
	}
	host, _, err := net.SplitHostPort(conn.RemoteAddr().String())
	if err != nil {
		host = conn.RemoteAddr().String()
	}
	parsed := net.ParseIP(host)
	return host, parsed != nil && parsed.IsLoopback()
}

// limitFor is the connection limit of an address.
func (l Limits) limitFor(loopback bool) int {
	if loopback {
		return l.MaxPerLoopbackIP
	}
	return l.MaxPerIP
}
