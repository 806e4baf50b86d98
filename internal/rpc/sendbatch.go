package rpc

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"runtime"
	"sync"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
)

// sendBatch serves an HTTP JSON-RPC batch made only of well-formed
// eth_sendRawTransaction calls without go-ethereum's per-call dispatch:
// it decodes every transaction with the checks of SendRawTransaction,
// recovers the senders in parallel (with the pool's signer, so the pool
// finds them cached), adds the batch to the pool in one Add (one lock,
// one promotion request, one journal write instead of one per
// transaction) and answers each call in order as go-ethereum would:
// the same results, error codes and messages. Everything else — another
// method in the batch, a notification, an odd id, version or parameter,
// a batch over the item or response limit, a body over the size limit —
// goes to next (go-ethereum's server) untouched, body and all, so its
// answers and errors stay go-ethereum's own.
func (s *Server) sendBatch(next http.Handler) http.Handler {
	if s.pool == nil || s.cfg.Forward != nil {
		// A forwarding node sends each call on (SendRawTransaction).
		return next
	}
	signer := types.LatestSigner(s.config) // legacypool's signer: types.Sender caches per Equal signer
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.forwardsNow() {
			// A group member that does not lead relays each call
			// (SendRawTransaction); while it leads it admits batches here.
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodPost || !jsonContent(r.Header.Get("Content-Type")) ||
			r.ContentLength > int64(s.cfg.MaxRequestSize) {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, int64(s.cfg.MaxRequestSize)+1))
		if err != nil || len(body) > s.cfg.MaxRequestSize {
			// Give go-ethereum the stream as it came (what was read,
			// then the rest) so its limit and error answers apply.
			r.Body = readCloser{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
			next.ServeHTTP(w, r)
			return
		}
		calls, ok := s.parseSendBatch(body)
		if !ok {
			r.Body = readCloser{bytes.NewReader(body), r.Body}
			next.ServeHTTP(w, r)
			return
		}
		s.fastBatches.Add(1)
		out := s.admitBatch(calls, signer)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	})
}

// readCloser reads from r and closes c.
type readCloser struct {
	io.Reader
	c io.Closer
}

func (rc readCloser) Close() error { return rc.c.Close() }

// jsonContent reports whether a Content-Type is one go-ethereum's HTTP
// server accepts.
func jsonContent(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	switch mt {
	case "application/json", "application/json-rpc", "application/jsonrequest":
		return true
	}
	return false
}

// batchCall is one call of a batch as the fast path reads it.
type batchCall struct {
	Version string            `json:"jsonrpc"`
	ID      json.RawMessage   `json:"id"`
	Method  string            `json:"method"`
	Params  []json.RawMessage `json:"params"`
	input   hexutil.Bytes
	id      []byte // ID as go-ethereum echoes it (compacted, HTML-escaped)
}

// maxAnswer bounds one call's answer without its id, for the response
// size limit: the envelope, a hash or an error code and message (the
// longest go-ethereum pool message is well under 300 bytes).
const maxAnswer = 1024

// parseSendBatch decodes body as a batch the fast path serves: a
// non-empty JSON array within the batch limits of only
// {"jsonrpc":"2.0","id":<number or string>,"method":
// "eth_sendRawTransaction","params":["0x..."]} calls whose input
// decodes as hex. ok is false for anything else.
func (s *Server) parseSendBatch(body []byte) (calls []batchCall, ok bool) {
	body = bytes.TrimLeft(body, " \t\r\n")
	if len(body) == 0 || body[0] != '[' || !bytes.Contains(body, []byte("eth_sendRawTransaction")) {
		return nil, false
	}
	if err := json.Unmarshal(body, &calls); err != nil {
		return nil, false
	}
	if len(calls) == 0 || len(calls) > s.cfg.BatchItemLimit {
		return nil, false
	}
	size := 2
	for i := range calls {
		c := &calls[i]
		if c.Version != "2.0" || c.Method != "eth_sendRawTransaction" || len(c.Params) != 1 ||
			len(c.ID) == 0 || c.ID[0] == '{' || c.ID[0] == '[' || bytes.Equal(c.ID, []byte("null")) {
			return nil, false
		}
		// The body is valid JSON (Unmarshal above), so this is what
		// json.Unmarshal would do without scanning the input again.
		if err := c.input.UnmarshalJSON(c.Params[0]); err != nil {
			return nil, false
		}
		id, err := json.Marshal(c.ID)
		if err != nil {
			return nil, false
		}
		c.id = id
		size += len(id) + maxAnswer
	}
	if size > s.cfg.BatchResponseMaxSize {
		return nil, false
	}
	return calls, true
}

// admitBatch decodes and checks every call's transaction, adds the good
// ones to the pool in one call and returns the batch's JSON answer.
func (s *Server) admitBatch(calls []batchCall, signer types.Signer) []byte {
	errs := make([]error, len(calls))
	txs := make([]*types.Transaction, len(calls))
	var good []*types.Transaction
	var at []int
	for i, c := range calls {
		tx, err := s.decodeRawTx(c.input)
		if err != nil {
			errs[i] = err
			continue
		}
		txs[i] = tx
		good = append(good, tx)
		at = append(at, i)
	}
	recoverSenders(signer, good)
	for j, err := range s.addTxs(good) {
		errs[at[j]] = err
	}
	out := make([]byte, 0, len(calls)*120)
	out = append(out, '[')
	for i, c := range calls {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"jsonrpc":"2.0","id":`...)
		out = append(out, c.id...)
		if errs[i] == nil {
			out = append(out, `,"result":"`...)
			out = append(out, txs[i].Hash().Hex()...)
			out = append(out, `"}`...)
			continue
		}
		out = appendError(out, errs[i])
		out = append(out, '}')
	}
	return append(out, "]\n"...)
}

// appendError appends `,"error":{...}` for err as go-ethereum's server
// encodes a method's error (rpc.errorMessage): code (-32000 unless err
// has one), message, and data when err carries any.
func appendError(out []byte, err error) []byte {
	je := struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    any    `json:"data,omitempty"`
	}{Code: codeServer, Message: err.Error()}
	if ec, ok := err.(interface{ ErrorCode() int }); ok {
		je.Code = ec.ErrorCode()
	}
	if de, ok := err.(interface{ ErrorData() any }); ok {
		je.Data = de.ErrorData()
	}
	enc, merr := json.Marshal(je)
	if merr != nil {
		enc = []byte(`{"code":-32603,"message":"could not encode the error"}`)
	}
	out = append(out, `,"error":`...)
	return append(out, enc...)
}

// recoverSenders recovers (and caches in each transaction) the senders
// of txs on all CPUs. Invalid signatures are left for the pool to
// report.
func recoverSenders(signer types.Signer, txs []*types.Transaction) {
	workers := min(runtime.GOMAXPROCS(0), len(txs)/16)
	if workers < 2 {
		return // the pool recovers them as it validates
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(txs); i += workers {
				_, _ = types.Sender(signer, txs[i])
			}
		}()
	}
	wg.Wait()
}
