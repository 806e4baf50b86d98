package rpc

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"github.com/gorilla/websocket"
)

// WebSocket keep-alive, as go-ethereum's: a ping every wsPingInterval;
// a connection that sends nothing (not even a pong) for wsReadIdle is
// closed.
const (
	wsPingInterval = 30 * time.Second
	wsReadIdle     = wsPingInterval + 30*time.Second
	wsWriteTimeout = 10 * time.Second
)

// websocketHandler serves JSON-RPC over WebSocket. go-ethereum's own
// WebSocket transport gives its requests no deadline (its request
// timeout comes from an HTTP server), so this transport splits the
// messages of a connection in two:
//
//   - a message made only of *_subscribe and *_unsubscribe calls goes
//     to go-ethereum's server on a codec for this connection (ServeCodec
//     over wsConn), which owns the subscriptions and their
//     notifications, as before;
//   - every other message (calls, batches, invalid JSON) is served
//     through limitRequests (requests), exactly as an HTTP POST with the
//     same body: request deadline, response size limit and
//     go-ethereum's answers and errors. Its answer is written back on
//     the connection. Such a message cannot subscribe (a batch mixing
//     calls and subscriptions gets "notifications not supported" for the
//     latter).
//
// Messages are served concurrently, as go-ethereum does.
func (s *Server) websocketHandler(origins, vhosts []string, requests http.Handler) http.Handler {
	upgrader := websocket.Upgrader{
		ReadBufferSize:  1024,
		WriteBufferSize: 1024,
		CheckOrigin:     originChecker(origins, vhosts),
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			s.log.Debug("websocket upgrade failed", "err", err)
			return
		}
		var id [8]byte
		_, _ = rand.Read(id[:])
		ctx, cancel := context.WithCancel(context.Background())
		wc := &wsConn{
			s: s, conn: conn, requests: requests, ctx: ctx, cancel: cancel,
			id: "ws:" + hex.EncodeToString(id[:]), remote: conn.RemoteAddr().String(), host: r.Host,
			header: r.Header.Clone(), done: make(chan struct{}),
		}
		conn.SetReadLimit(int64(s.cfg.MaxRequestSize))
		_ = conn.SetReadDeadline(time.Now().Add(wsReadIdle))
		conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(wsReadIdle)) })
		go wc.pingLoop()
		s.rpc.ServeCodec(gethrpc.NewCodec(wc), 0) // until the connection closes
		cancel()
		wc.mu.Lock()
		wc.stopped = true // no message starts after this
		wc.mu.Unlock()
		wc.inflight.Wait()
		wc.close()
	})
}

// wsConn is one WebSocket connection as the byte stream go-ethereum's
// codec reads (only the subscription messages) and writes (their
// answers and notifications, one frame per write).
type wsConn struct {
	s        *Server
	conn     *websocket.Conn
	requests http.Handler
	ctx      context.Context // done when the connection is
	cancel   context.CancelFunc
	id       string
	remote   string
	host     string
	header   http.Header
	mu       sync.Mutex
	stopped  bool           // set when the connection ends (mu)
	inflight sync.WaitGroup // messages being served

	wmu  sync.Mutex
	rbuf []byte // the rest of the frame the codec is reading

	closeOnce sync.Once
	done      chan struct{}
}

// Read gives the codec the next subscription message, serving every
// other message on the way.
func (c *wsConn) Read(p []byte) (int, error) {
	for len(c.rbuf) == 0 {
		typ, frame, err := c.conn.ReadMessage()
		if err != nil {
			return 0, io.EOF // the codec ends the connection
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(wsReadIdle))
		if typ != websocket.TextMessage && typ != websocket.BinaryMessage {
			continue
		}
		if onlySubscriptions(frame) {
			c.rbuf = append(frame, '\n')
			break
		}
		c.mu.Lock()
		if c.stopped {
			c.mu.Unlock()
			return 0, io.EOF
		}
		c.inflight.Add(1)
		c.mu.Unlock()
		go c.serve(frame)
	}
	n := copy(p, c.rbuf)
	c.rbuf = c.rbuf[n:]
	return n, nil
}

// serve answers one message through the HTTP request path.
func (c *wsConn) serve(frame []byte) {
	defer c.inflight.Done()
	req, err := http.NewRequestWithContext(context.WithValue(c.ctx, connKey{}, c.id), http.MethodPost, "/", bytes.NewReader(frame))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.header.Get("User-Agent"))
	req.Header.Set("Origin", c.header.Get("Origin"))
	req.RemoteAddr, req.Host = c.remote, c.host
	rec := &answerRecorder{header: http.Header{}, code: http.StatusOK}
	c.requests.ServeHTTP(rec, req)
	answer := bytes.TrimRight(rec.body.Bytes(), "\n")
	if len(answer) == 0 {
		return // notifications only
	}
	if rec.code != http.StatusOK || !json.Valid(answer) {
		// go-ethereum's plain-text refusals (size, content type) as
		// JSON-RPC: parse error, as its WebSocket transport answers.
		answer = bytes.TrimRight(errorAnswer(json.RawMessage("null"), codeParseError, strings.TrimSpace(string(answer))), "\n")
	}
	_, _ = c.Write(answer)
}

// answerRecorder keeps the answer the HTTP path writes for a WebSocket
// message.
type answerRecorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (a *answerRecorder) Header() http.Header         { return a.header }
func (a *answerRecorder) WriteHeader(code int)        { a.code = code }
func (a *answerRecorder) Write(p []byte) (int, error) { return a.body.Write(p) }

// Write sends p (one message, as go-ethereum's codec writes it) as one
// text frame.
func (c *wsConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
	if err := c.conn.WriteMessage(websocket.TextMessage, bytes.TrimRight(p, "\n")); err != nil {
		return 0, err
	}
	return len(p), nil
}

// SetWriteDeadline is the codec's deadline for its next write; Write
// sets its own.
func (c *wsConn) SetWriteDeadline(time.Time) error { return nil }

// RemoteAddr names the peer in go-ethereum's logs.
func (c *wsConn) RemoteAddr() string { return c.remote }

// Close ends the connection (the codec calls it when it stops).
func (c *wsConn) Close() error {
	c.cancel()
	c.close()
	return nil
}

func (c *wsConn) close() {
	c.closeOnce.Do(func() {
		close(c.done)
		_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
			time.Now().Add(time.Second))
		_ = c.conn.Close()
	})
}

// pingLoop pings the peer until the connection closes.
func (c *wsConn) pingLoop() {
	t := time.NewTicker(wsPingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(wsWriteTimeout)); err != nil {
				return
			}
		}
	}
}

// onlySubscriptions reports whether frame is a JSON-RPC call or a
// non-empty batch of calls whose methods all subscribe or unsubscribe.
func onlySubscriptions(frame []byte) bool {
	type call struct {
		Method string `json:"method"`
	}
	isSub := func(m string) bool {
		return strings.HasSuffix(m, "_subscribe") || strings.HasSuffix(m, "_unsubscribe")
	}
	frame = bytes.TrimLeft(frame, " \t\r\n")
	if len(frame) > 0 && frame[0] == '[' {
		var calls []call
		if json.Unmarshal(frame, &calls) != nil || len(calls) == 0 {
			return false
		}
		for _, c := range calls {
			if !isSub(c.Method) {
				return false
			}
		}
		return true
	}
	var c call
	return json.Unmarshal(frame, &c) == nil && isSub(c.Method)
}

// originChecker allows a WebSocket from a request without an Origin
// header (not a browser), from an allowed origin ("*" for any; none
// listed: http://localhost and this host's name), with go-ethereum's
// matching rule: an allowed origin's missing scheme, host or port
// matches any, or from the node's own pages (the explorer's live
// updates): an Origin whose host and port are the request's Host, when
// that Host is an IP address or an allowed virtual host (so a
// rebinding name pointing at the node is still refused).
func originChecker(origins, vhosts []string) func(*http.Request) bool {
	vhostOK := vhostHandler(vhosts, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	ownHost := func(r *http.Request) bool {
		u, err := url.Parse(r.Header.Get("Origin"))
		if err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host) {
			return false
		}
		rec := &statusRecorder{}
		vhostOK.ServeHTTP(rec, r)
		return rec.status == 0
	}
	var allowed []string
	for _, o := range origins {
		if o != "" {
			allowed = append(allowed, o)
		}
	}
	if len(allowed) == 0 {
		allowed = append(allowed, "http://localhost")
		if h, err := os.Hostname(); err == nil {
			allowed = append(allowed, "http://"+h)
		}
	}
	return func(r *http.Request) bool {
		if _, ok := r.Header["Origin"]; !ok {
			return true
		}
		if ownHost(r) {
			return true
		}
		origin := strings.ToLower(r.Header.Get("Origin"))
		for _, a := range allowed {
			if a == "*" || ruleAllowsOrigin(a, origin) {
				return true
			}
		}
		return false
	}
}

// ruleAllowsOrigin is go-ethereum's rule (rpc/websocket.go).
func ruleAllowsOrigin(allowed, origin string) bool {
	as, ah, ap, err := parseOriginURL(allowed)
	if err != nil {
		return false
	}
	bs, bh, bp, err := parseOriginURL(origin)
	if err != nil {
		return false
	}
	return (as == "" || as == bs) && (ah == "" || ah == bh) && (ap == "" || ap == bp)
}

// parseOriginURL is go-ethereum's: scheme, host name and port of an
// origin, which may leave out its scheme ("localhost:3000").
func parseOriginURL(origin string) (scheme, host, port string, err error) {
	u, err := url.Parse(strings.ToLower(origin))
	if err != nil {
		return "", "", "", err
	}
	if strings.Contains(origin, "://") {
		return u.Scheme, u.Hostname(), u.Port(), nil
	}
	host, port = u.Scheme, u.Opaque
	if host == "" {
		host = origin
	}
	return "", host, port, nil
}

// statusRecorder records whether a handler wrote an error status.
type statusRecorder struct{ status int }

func (r *statusRecorder) Header() http.Header         { return http.Header{} }
func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *statusRecorder) WriteHeader(code int)        { r.status = code }
