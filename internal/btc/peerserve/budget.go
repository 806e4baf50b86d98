package peerserve

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"golang.org/x/sync/semaphore"
)

// freeMessageBytes is the largest message payload that needs no share of
// the message budget. Control messages (version, ping, getheaders, getdata,
// inv of a block, a transaction) are far smaller, so a budget held by
// other peers never starves them; each connection has at most one message
// in progress, so all free messages together stay under
// (MaxPeers + MaxPending) * freeMessageBytes.
const freeMessageBytes = 64 << 10

// maxMessageBytes is the largest payload a peer may announce: btcd's wire
// refuses anything larger (a block is at most this), so a longer header
// only announces an attack.
const maxMessageBytes = wire.MaxProtocolMessageLength

// Reasons a budgeted connection is dropped, also the "reason" label of
// refused_total.
const (
	reasonTooLarge      = "message_too_large"
	reasonEarlyLarge    = "large_before_handshake"
	reasonBudgetTimeout = "budget_timeout"
	reasonSlowMessage   = "slow_message"
)

// Errors a budgetConn's Read returns when it drops its peer.
var (
	errMessageTooLarge = errors.New("peer announced a message larger than any valid one")
	errLargeEarly      = errors.New("peer sent a large message before the handshake")
	errBudgetTimeout   = errors.New("no message budget freed in time")
)

// msgBudget is the server-wide bound on the bytes of partly received
// messages: a connection reserves a message's payload length when its
// header arrives and gives it back when it reads the next header (so a
// message still being handled, a block being validated, counts too). It
// is a FIFO weighted semaphore, so a large message waiting is not passed
// by later ones forever.
type msgBudget struct {
	size int64
	sem  *semaphore.Weighted
	m    *metrics

	mu      sync.Mutex
	held    int64
	peak    int64
	waiting int
}

func newMsgBudget(size int64, m *metrics) *msgBudget {
	return &msgBudget{size: size, sem: semaphore.NewWeighted(size), m: m}
}

// acquire reserves n bytes, waiting until ctx is done for others to give
// theirs back.
func (b *msgBudget) acquire(ctx context.Context, n int64) error {
	b.mu.Lock()
	b.waiting++
	b.m.budgetWaiting.Set(float64(b.waiting))
	b.mu.Unlock()
	err := b.sem.Acquire(ctx, n)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.waiting--
	b.m.budgetWaiting.Set(float64(b.waiting))
	if err != nil {
		return err
	}
	b.held += n
	b.peak = max(b.peak, b.held)
	b.m.budgetHeld.Set(float64(b.held))
	b.m.budgetPeak.Set(float64(b.peak))
	return nil
}

// release gives back n bytes acquire reserved.
func (b *msgBudget) release(n int64) {
	b.mu.Lock()
	b.held -= n
	b.m.budgetHeld.Set(float64(b.held))
	b.mu.Unlock()
	b.sem.Release(n)
}

// budgetConn is an inbound connection whose reads follow Bitcoin's v1
// message framing (24-byte header with the payload length at bytes 16-20,
// then the payload), so that a payload btcd's wire would allocate is
// reserved from the server's msgBudget before wire sees its header. It
// never changes the bytes: wire reads exactly the stream the peer sent,
// only later when the budget is short (the peer's bytes wait in the
// kernel's socket buffer meanwhile, not in our heap).
//
// Read is called by one goroutine at a time (btcd reads a peer's messages
// in order); Close may be called concurrently with it.
type budgetConn struct {
	net.Conn
	b       *msgBudget
	timeout time.Duration
	// established reports whether the peer finished its handshake; before
	// that only free-sized messages are read.
	established func() bool
	// drop is told why the connection is dropped, once, before Close.
	drop func(reason string, err error)

	hdr    [wire.MessageHeaderSize]byte
	hdrIn  int    // header bytes read from the peer
	hdrOut int    // header bytes handed to the reader
	left   uint32 // payload bytes of the current message still to hand

	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	held   int64       // budget reserved for the current message
	timer  *time.Timer // drops a peer slow to send a budgeted message
	closed bool
}

func newBudgetConn(ctx context.Context, conn net.Conn, b *msgBudget, timeout time.Duration,
	established func() bool, drop func(string, error)) *budgetConn {
	c := &budgetConn{Conn: conn, b: b, timeout: timeout, established: established, drop: drop}
	c.ctx, c.cancel = context.WithCancel(ctx)
	return c
}

// Read hands the peer's stream on, reserving each large message's payload
// before handing its header.
func (c *budgetConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return 0, net.ErrClosed
	}
	if c.hdrOut == len(c.hdr) && c.left == 0 {
		// The previous message is read and handled: its reader asks
		// for the next one.
		c.releaseHeld()
		c.hdrIn, c.hdrOut = 0, 0
	}
	if c.hdrOut < len(c.hdr) {
		if c.hdrIn < len(c.hdr) {
			n, err := io.ReadFull(c.Conn, c.hdr[c.hdrIn:])
			c.hdrIn += n
			if err != nil {
				return 0, err
			}
			length := binary.LittleEndian.Uint32(c.hdr[16:20])
			if err := c.reserve(length); err != nil {
				return 0, err
			}
			c.left = length
		}
		n := copy(p, c.hdr[c.hdrOut:])
		c.hdrOut += n
		return n, nil
	}
	if uint32(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.Conn.Read(p)
	c.left -= uint32(n)
	return n, err
}

// reserve takes a message's payload from the budget, waiting at most the
// message timeout, and starts the timer that bounds how long the peer may
// take to send it.
func (c *budgetConn) reserve(length uint32) error {
	switch {
	case length <= freeMessageBytes:
		return nil
	case length > maxMessageBytes:
		return c.fail(reasonTooLarge, fmt.Errorf("%w: %d bytes, max %d", errMessageTooLarge, length, maxMessageBytes))
	case !c.established():
		return c.fail(reasonEarlyLarge, fmt.Errorf("%w: %d bytes", errLargeEarly, length))
	}
	n := int64(length)
	ctx, cancel := context.WithTimeout(c.ctx, c.timeout)
	err := c.b.acquire(ctx, n)
	cancel()
	if err != nil {
		if c.ctx.Err() != nil {
			return net.ErrClosed
		}
		return c.fail(reasonBudgetTimeout, fmt.Errorf("%w: %d bytes waited %s", errBudgetTimeout, length, c.timeout))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		c.b.release(n)
		return net.ErrClosed
	}
	c.held = n
	var t *time.Timer
	t = time.AfterFunc(c.timeout, func() {
		// The message may have arrived as the timer fired.
		c.mu.Lock()
		stale := c.closed || c.timer != t
		c.mu.Unlock()
		if stale {
			return
		}
		c.drop(reasonSlowMessage, fmt.Errorf("peer did not send a %d-byte message within %s", length, c.timeout))
		_ = c.Close()
	})
	c.timer = t
	return nil
}

// fail reports why the peer is dropped and closes the connection.
func (c *budgetConn) fail(reason string, err error) error {
	c.drop(reason, err)
	_ = c.Close()
	return err
}

// releaseHeld gives the current message's reservation back.
func (c *budgetConn) releaseHeld() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.releaseLocked()
}

func (c *budgetConn) releaseLocked() {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if c.held > 0 {
		c.b.release(c.held)
		c.held = 0
	}
}

// Close gives back any reservation, ends a wait for one, and closes the
// connection. It is safe to call more than once.
func (c *budgetConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.releaseLocked()
	c.mu.Unlock()
	c.cancel()
	return c.Conn.Close()
}
