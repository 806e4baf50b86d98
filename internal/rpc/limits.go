package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"

	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// limitRequests is the path of every JSON-RPC request, HTTP POSTs and
// the WebSocket messages that are not subscriptions alike (ws.go), in
// front of go-ethereum's server:
//
//   - an empty body is answered with a parse error (go-ethereum answers
//     nothing, with status 200);
//   - the request gets Config.RequestTimeout as its context's deadline,
//     which go-ethereum's handler turns into "request timed out"
//     (-32002) for every call not answered by then, cancelling the
//     running call's context and starting no further call of a batch;
//   - the answer, a single call's as a batch's, is bounded by
//     Config.ResponseMaxSize (go-ethereum bounds only batches, and
//     after their calls ran).
//
// The size check sits here, on the encoded answer, rather than in each
// method: it covers every method alike, and the one place where a
// method's answer can grow with its input before it is encoded (a
// tracer's output) has its own bound (TraceMaxBytes) that stops the work
// early. Other answers are bounded by their own limits (logs, blocks,
// gas) before they are built.
func (s *Server) limitRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !jsonContent(r.Header.Get("Content-Type")) ||
			r.ContentLength > int64(s.cfg.MaxRequestSize) {
			next.ServeHTTP(w, r) // go-ethereum's own answers (health check, 413, 415)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, int64(s.cfg.MaxRequestSize)+1))
		if err != nil || len(body) > s.cfg.MaxRequestSize {
			r.Body = readCloser{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
			next.ServeHTTP(w, r)
			return
		}
		if len(bytes.TrimSpace(body)) == 0 {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(errorAnswer(json.RawMessage("null"), codeParseError, "parse error: empty request body"))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
		defer cancel()
		r = r.WithContext(ctx)
		r.Body = readCloser{bytes.NewReader(body), r.Body}
		cw := &cappedWriter{ResponseWriter: w, max: s.cfg.ResponseMaxSize}
		next.ServeHTTP(cw, r)
		if cw.over {
			s.metrics.responsesTooLarge.Inc()
			s.log.Debug("answer too large", "bytes", cw.size, "max", s.cfg.ResponseMaxSize)
			h := w.Header()
			h.Del("Content-Length")
			h.Del("Transfer-Encoding")
			h.Set("Content-Type", "application/json")
			_, _ = w.Write(tooLargeAnswer(body, cw.size, s.cfg.ResponseMaxSize))
		}
	})
}

// cappedWriter passes an answer through if it fits in max bytes and
// swallows it otherwise (over), so that limitRequests answers with an
// error instead. go-ethereum writes an answer in one Write after setting
// its Content-Length, so nothing of an oversized answer is sent.
type cappedWriter struct {
	http.ResponseWriter
	max     int
	written int
	size    int // the answer's size when over
	over    bool
}

func (c *cappedWriter) Write(p []byte) (int, error) {
	if c.over {
		c.size += len(p)
		return len(p), nil
	}
	if c.written == 0 {
		if cl, err := strconv.Atoi(c.Header().Get("Content-Length")); err == nil && cl > c.max {
			c.over, c.size = true, len(p)
			return len(p), nil
		}
	}
	if c.written+len(p) > c.max {
		if c.written == 0 {
			c.over, c.size = true, len(p)
			return len(p), nil
		}
		return 0, fmt.Errorf("response too large: more than %d bytes", c.max) // part is sent: cut
	}
	c.written += len(p)
	return c.ResponseWriter.Write(p)
}

// Flush passes go-ethereum's flush of an error answer (a timeout's) on.
func (c *cappedWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok && !c.over {
		f.Flush()
	}
}

// JSON-RPC codes of the limits, go-ethereum's own (rpc/errors.go).
const (
	codeParseError       = -32700
	codeResponseTooLarge = -32003
)

// errorAnswer is one JSON-RPC error answer with the given id.
func errorAnswer(id json.RawMessage, code int, msg string) []byte {
	out, err := json.Marshal(struct {
		Version string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}{Version: "2.0", ID: id, Error: struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, msg}})
	if err != nil { // an id go-ethereum accepted is valid JSON; never here
		return []byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"could not encode the error"}}`)
	}
	return append(out, '\n')
}

// tooLargeAnswer answers every call of body with "response too large"
// (-32003, go-ethereum's code and message for a batch over its limit),
// in a batch if body is one; notifications get no answer.
func tooLargeAnswer(body []byte, size, max int) []byte {
	msg := fmt.Sprintf("response too large: %d bytes, more than rpc.response_max_size (%d)", size, max)
	type call struct {
		ID json.RawMessage `json:"id"`
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var calls []call
		_ = json.Unmarshal(trimmed, &calls)
		out := []byte{'['}
		for _, c := range calls {
			if len(c.ID) == 0 {
				continue
			}
			if len(out) > 1 {
				out = append(out, ',')
			}
			out = append(out, bytes.TrimSuffix(errorAnswer(c.ID, codeResponseTooLarge, msg), []byte{'\n'})...)
		}
		return append(out, "]\n"...)
	}
	var c call
	if json.Unmarshal(trimmed, &c) != nil || len(c.ID) == 0 {
		c.ID = json.RawMessage("null")
	}
	return errorAnswer(c.ID, codeResponseTooLarge, msg)
}

// connKey is the context key of a WebSocket connection's identity, set
// on the requests ws.go serves through limitRequests.
type connKey struct{}

// clientOf names the client a request comes from, for the per-client
// limits: its WebSocket connection (a subscription's or a request's),
// else its HTTP remote IP address (a filter outlives the HTTP
// connection that installed it).
func clientOf(ctx context.Context) string {
	if id, ok := ctx.Value(connKey{}).(string); ok {
		return id
	}
	if c, ok := gethrpc.ClientFromContext(ctx); ok {
		return fmt.Sprintf("ws:%p", c)
	}
	addr := gethrpc.PeerInfoFromContext(ctx).RemoteAddr
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	return "ip:" + addr
}

// slots counts what each client holds of a per-client limit.
type slots struct {
	mu   sync.Mutex
	max  int
	held map[string]int
}

func newSlots(max int) *slots { return &slots{max: max, held: map[string]int{}} }

// take takes one of client's slots; false when it holds max already.
func (sl *slots) take(client string) bool {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.held[client] >= sl.max {
		return false
	}
	sl.held[client]++
	return true
}

// give returns one of client's slots.
func (sl *slots) give(client string) {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.held[client]--; sl.held[client] <= 0 {
		delete(sl.held, client)
	}
}
