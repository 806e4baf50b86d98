package ha

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// statusByte opens a status query on the raft port. Raft's own
// connections open with an RPC type byte (0-5 in raft v1.7), so one
// listener serves both: members learn each other's catch-up state over
// the address they already know, with no second port to configure.
const statusByte = 'H'

// statusTimeout bounds one status query (dial, request, answer): members
// are on a LAN.
const statusTimeout = 500 * time.Millisecond

// maxStatusSize bounds a status answer a member reads.
const maxStatusSize = 1 << 16

// streamLayer is raft's TCP stream layer with two additions: status
// queries (statusByte) are answered beside the raft RPCs, and the member
// can be cut off the network (isolate: every connection closed, dials and
// accepts refused, as a partition would) for drills and tests.
type streamLayer struct {
	ln        net.Listener
	advertise net.Addr
	status    func() Status
	log       *slog.Logger

	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	isolated bool
	open     map[*trackedConn]struct{}
}

var _ raft.StreamLayer = (*streamLayer)(nil)

func newStreamLayer(ln net.Listener, advertise net.Addr, status func() Status, log *slog.Logger) *streamLayer {
	s := &streamLayer{ln: ln, advertise: advertise, status: status, log: log,
		conns: make(chan net.Conn), closed: make(chan struct{}), open: make(map[*trackedConn]struct{})}
	go s.acceptLoop()
	return s
}

func (s *streamLayer) acceptLoop() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Debug("raft listener accept", "err", err)
			select {
			case <-s.closed:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		go s.sniff(c)
	}
}

// sniff reads a connection's first byte: a status query is answered
// here, anything else goes to raft with the byte put back.
func (s *streamLayer) sniff(c net.Conn) {
	if s.isIsolated() {
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	first, err := br.Peek(1)
	if err != nil {
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	if first[0] == statusByte {
		defer c.Close()
		_ = c.SetWriteDeadline(time.Now().Add(statusTimeout))
		_ = json.NewEncoder(c).Encode(s.status())
		return
	}
	tc := s.track(&bufferedConn{Conn: c, r: br})
	if tc == nil {
		return
	}
	select {
	case s.conns <- tc:
	case <-s.closed:
		tc.Close()
	}
}

// Accept implements net.Listener for raft's transport.
func (s *streamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-s.closed:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener.
func (s *streamLayer) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		err = s.ln.Close()
	})
	return err
}

// Addr implements net.Listener: the advertised address.
func (s *streamLayer) Addr() net.Addr { return s.advertise }

// Dial implements raft.StreamLayer.
func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	if s.isIsolated() {
		return nil, fmt.Errorf("ha: member isolated: not dialing %s", address)
	}
	c, err := net.DialTimeout("tcp", string(address), timeout)
	if err != nil {
		return nil, err
	}
	if tc := s.track(c); tc != nil {
		return tc, nil
	}
	return nil, fmt.Errorf("ha: member isolated: not dialing %s", address)
}

func (s *streamLayer) isIsolated() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.isolated
}

// track registers c so isolate can cut it; nil (c closed) when isolated.
func (s *streamLayer) track(c net.Conn) *trackedConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isolated {
		c.Close()
		return nil
	}
	tc := &trackedConn{Conn: c, s: s}
	s.open[tc] = struct{}{}
	return tc
}

// isolate cuts the member off (on) or lets it reconnect (off).
func (s *streamLayer) isolate(on bool) {
	s.mu.Lock()
	s.isolated = on
	var cut []*trackedConn
	if on {
		for c := range s.open {
			cut = append(cut, c)
		}
	}
	s.mu.Unlock()
	for _, c := range cut {
		c.Close()
	}
}

// trackedConn forgets itself when closed.
type trackedConn struct {
	net.Conn
	s    *streamLayer
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.open, c)
		c.s.mu.Unlock()
	})
	return c.Conn.Close()
}

// bufferedConn reads through the reader that peeked the first byte.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// QueryStatus asks the member at addr (its raft address) for its Status.
func QueryStatus(ctx context.Context, addr string) (Status, error) {
	var st Status
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return st, fmt.Errorf("ha: status of %s: %w", addr, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if _, err := c.Write([]byte{statusByte}); err != nil {
		return st, fmt.Errorf("ha: status of %s: %w", addr, err)
	}
	if err := json.NewDecoder(io.LimitReader(c, maxStatusSize)).Decode(&st); err != nil {
		return st, fmt.Errorf("ha: status of %s: %w", addr, err)
	}
	return st, nil
}
