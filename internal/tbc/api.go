package tbc

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/httpserve"
)

// maxTxBody bounds POST /v1/tx: a standard transaction is at most 400,000
// weight units, so 100 kB of bytes, 200 kB of hex.
const maxTxBody = 250_000

// errBadRequest marks input errors; the API answers them with 400.
var errBadRequest = errors.New("bad request")

// maxEcho bounds how much of a caller's input an error reply repeats, and
// maxErrorText the whole message: a 1 MB path must not come back in the
// reply (nor fill the caller's terminal).
const (
	maxEcho      = 64
	maxErrorText = 512
)

// echo quotes input for an error message, cut to maxEcho bytes (at a
// character boundary) with an ellipsis.
func echo(s string) string {
	if len(s) <= maxEcho {
		return strconv.Quote(s)
	}
	cut := maxEcho
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}

type apiServer struct {
	s   *Service
	mux *http.ServeMux
}

func newAPIServer(s *Service) *apiServer {
	a := &apiServer{s: s, mux: http.NewServeMux()}
	a.mux.HandleFunc("/", a.noRoute)
	a.mux.HandleFunc("GET /v1/status", a.handle(a.status))
	a.mux.HandleFunc("GET /v1/tx/{txid}", a.handle(a.tx))
	a.mux.HandleFunc("POST /v1/tx", a.handle(a.broadcast))
	a.mux.HandleFunc("GET /v1/address/{addr}/balance", a.handle(a.balance))
	a.mux.HandleFunc("GET /v1/address/{addr}/utxos", a.handle(a.utxos))
	a.mux.HandleFunc("GET /v1/header/{id}", a.handle(a.header))
	a.mux.HandleFunc("GET /v1/spend/{txid}/{vout}", a.handle(a.spend))
	a.mux.HandleFunc("GET /v1/publications/{id}", a.handle(a.publications))
	a.mux.HandleFunc("GET /v1/feerate", a.handle(a.feeRate))
	return a
}

func (a *apiServer) run(ctx context.Context, addr string) error {
	return httpserve.Run(ctx, addr, a.mux, "bitcoin query api", a.s.log)
}

// handle turns a handler's (value, error) into a JSON reply with a status
// code chosen from the error's kind.
func (a *apiServer) handle(h func(r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := h(r)
		if err != nil {
			code := http.StatusInternalServerError
			switch {
			case errors.Is(err, errBadRequest), errors.Is(err, index.ErrInvalidAddress):
				code = http.StatusBadRequest
			case errors.Is(err, index.ErrNotFound), errors.Is(err, index.ErrUnknownBlock), errors.Is(err, index.ErrNotIndexed):
				code = http.StatusNotFound
			}
			writeError(w, code, err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
}

// writeError sends the error reply every non-2xx answer uses (apiError,
// which Client parses), its text cut to maxErrorText bytes.
func writeError(w http.ResponseWriter, code int, msg string) {
	if len(msg) > maxErrorText {
		cut := maxErrorText
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(apiError{Error: msg})
}

// noRoute answers what no route matches: 405 with the allowed methods when
// the path has a route for another method, else 404 (ServeMux's own
// answers are plain text).
func (a *apiServer) noRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := a.mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s (allowed: %s)",
			echo(r.Method), echo(r.URL.Path), strings.Join(allow, ", ")))
		return
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s", echo(r.Method), echo(r.URL.Path)))
}

func parseHash(what, s string) (chainhash.Hash, error) {
	h, err := chainhash.NewHashFromStr(s)
	if err != nil || len(s) != 2*chainhash.HashSize {
		return chainhash.Hash{}, fmt.Errorf("%w: %s %s is not a 64-digit hex hash", errBadRequest, what, echo(s))
	}
	return *h, nil
}

// asOf reads the optional asof query parameter; zero means the block tip.
func asOf(r *http.Request) (chainhash.Hash, error) {
	s := r.URL.Query().Get("asof")
	if s == "" {
		return chainhash.Hash{}, nil
	}
	return parseHash("asof", s)
}

// effectiveAsOf names the block a reply is as of.
func (a *apiServer) effectiveAsOf(h chainhash.Hash) string {
	if h == (chainhash.Hash{}) {
		h, _ = a.s.ix.BlockTip()
	}
	return h.String()
}

func (a *apiServer) status(*http.Request) (any, error) {
	p := a.s.client.Progress()
	bh, bht := a.s.ix.BlockTip()
	hh, hht := a.s.ix.BestHeader()
	return Status{
		Network: a.s.cfg.Params.Name, BlockHash: bh.String(), BlockHeight: bht,
		HeaderHash: hh.String(), HeaderHeight: hht, Peers: p.Peers, Synced: p.Synced,
		BlocksPerSec: p.BlocksPerSecond, TxsPerSec: p.TxsPerSecond, ETASeconds: p.ETA.Seconds(),
	}, nil
}

func (a *apiServer) tx(r *http.Request) (any, error) {
	txid, err := parseHash("txid", r.PathValue("txid"))
	if err != nil {
		return nil, err
	}
	at, err := asOf(r)
	if err != nil {
		return nil, err
	}
	ti, err := a.s.ix.TxByID(txid, at)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := ti.Tx.Serialize(&buf); err != nil {
		return nil, fmt.Errorf("serialize tx: %w", err)
	}
	return Tx{Txid: ti.Txid.String(), BlockHash: ti.BlockHash.String(), Height: ti.Height,
		Position: ti.Index, Confirmations: ti.Confirmations, Hex: hex.EncodeToString(buf.Bytes())}, nil
}

// script resolves the {addr} path value: an address of the network, or
// "script:<hex>" for any output script.
func (a *apiServer) script(r *http.Request) (addr string, script []byte, err error) {
	v := r.PathValue("addr")
	if hx, ok := strings.CutPrefix(v, "script:"); ok {
		s, err := hex.DecodeString(hx)
		if err != nil || len(s) == 0 {
			return "", nil, fmt.Errorf("%w: %s is not a hex output script", errBadRequest, echo(hx))
		}
		return "", s, nil
	}
	if len(v) > maxEcho {
		// No standard address is longer than 64 characters (a regtest
		// P2TR address); the index's error would repeat it whole.
		return "", nil, fmt.Errorf("%w %s: longer than any %s address", index.ErrInvalidAddress, echo(v), a.s.cfg.Params.Name)
	}
	s, err := a.s.ix.AddressScript(v)
	return v, s, err
}

func (a *apiServer) balance(r *http.Request) (any, error) {
	addr, script, err := a.script(r)
	if err != nil {
		return nil, err
	}
	at, err := asOf(r)
	if err != nil {
		return nil, err
	}
	sat, err := a.s.ix.Balance(script, at)
	if err != nil {
		return nil, err
	}
	return Balance{Address: addr, Script: hex.EncodeToString(script), Satoshis: sat, AsOf: a.effectiveAsOf(at)}, nil
}

func queryInt(r *http.Request, name string, def, lo, hi int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%w: %s=%s: want a whole number from %d to %d", errBadRequest, name, echo(s), lo, hi)
	}
	return n, nil
}

func (a *apiServer) utxos(r *http.Request) (any, error) {
	addr, script, err := a.script(r)
	if err != nil {
		return nil, err
	}
	at, err := asOf(r)
	if err != nil {
		return nil, err
	}
	page, err := queryInt(r, "page", 0, 0, 1<<24-1)
	if err != nil {
		return nil, err
	}
	size, err := queryInt(r, "size", 100, 1, 1000)
	if err != nil {
		return nil, err
	}
	us, err := a.s.ix.UTXOs(script, page, size, at)
	if err != nil {
		return nil, err
	}
	out := UTXOs{Address: addr, Script: hex.EncodeToString(script), AsOf: a.effectiveAsOf(at), Page: page, UTXOs: make([]UTXO, len(us))}
	for i, u := range us {
		out.UTXOs[i] = UTXO{Txid: u.Outpoint.Hash.String(), Vout: u.Outpoint.Index, Satoshis: u.Value,
			Height: u.Height, BlockHash: u.BlockHash.String(), Position: u.Index}
	}
	return out, nil
}

func (a *apiServer) header(r *http.Request) (any, error) {
	at, err := asOf(r)
	if err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	var hi index.HeaderInfo
	if len(id) == 2*chainhash.HashSize {
		h, err := parseHash("block hash", id)
		if err != nil {
			return nil, err
		}
		hi, err = a.s.ix.HeaderByHash(h, at)
		if err != nil {
			return nil, err
		}
	} else {
		n, err := strconv.ParseInt(id, 10, 32)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: %s is neither a height nor a 64-digit block hash", errBadRequest, echo(id))
		}
		if hi, err = a.s.ix.HeaderByHeight(int32(n), at); err != nil {
			return nil, err
		}
	}
	return headerJSON(hi), nil
}

func headerJSON(hi index.HeaderInfo) Header {
	h := hi.Header
	work := ""
	if hi.Work != nil {
		work = fmt.Sprintf("%064x", hi.Work)
	}
	return Header{Hash: hi.Hash.String(), Height: hi.Height, Version: h.Version, PrevBlock: h.PrevBlock.String(),
		MerkleRoot: h.MerkleRoot.String(), Time: h.Timestamp.Unix(), Bits: fmt.Sprintf("%08x", h.Bits),
		Nonce: h.Nonce, ChainWork: work, MainChain: hi.MainChain, HaveData: hi.HaveData}
}

func (a *apiServer) spend(r *http.Request) (any, error) {
	txid, err := parseHash("txid", r.PathValue("txid"))
	if err != nil {
		return nil, err
	}
	vout, err := strconv.ParseUint(r.PathValue("vout"), 10, 32)
	if err != nil {
		return nil, fmt.Errorf("%w: vout %s is not a whole number", errBadRequest, echo(r.PathValue("vout")))
	}
	at, err := asOf(r)
	if err != nil {
		return nil, err
	}
	sp, err := a.s.ix.SpendOf(wire.OutPoint{Hash: txid, Index: uint32(vout)}, at)
	if err != nil {
		return nil, err
	}
	return Spend{Txid: sp.Txid.String(), Input: sp.Input, BlockHash: sp.BlockHash.String(), Height: sp.Height,
		Position: sp.Index, Confirmations: sp.Confirmations}, nil
}

func (a *apiServer) publications(r *http.Request) (any, error) {
	// The id as hemi_getKeystone and the PoP miner print it, with or
	// without 0x.
	raw, err := hex.DecodeString(strings.TrimPrefix(r.PathValue("id"), "0x"))
	if err != nil || len(raw) != 32 {
		return nil, fmt.Errorf("%w: keystone id %s is not 64 hex digits", errBadRequest, echo(r.PathValue("id")))
	}
	var id [32]byte
	copy(id[:], raw)
	at, err := asOf(r)
	if err != nil {
		return nil, err
	}
	ps, err := a.s.ix.Publications(id, at)
	if err != nil && !errors.Is(err, index.ErrNotFound) {
		return nil, err
	}
	out := make([]Publication, len(ps))
	for i, p := range ps {
		out[i] = Publication{Txid: p.Txid.String(), Vout: p.Vout, BlockHash: p.BlockHash.String(), Height: p.Height,
			Position: p.TxIndex, Confirmations: p.Confirmations}
	}
	return out, nil
}

func (a *apiServer) broadcast(r *http.Request) (any, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxTxBody+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read body: %w", errBadRequest, err)
	}
	if len(body) > maxTxBody {
		return nil, fmt.Errorf("%w: transaction larger than %d hex characters", errBadRequest, maxTxBody)
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(body)))
	if err != nil {
		return nil, fmt.Errorf("%w: body is not a hex transaction: %w", errBadRequest, err)
	}
	var tx wire.MsgTx
	if err := tx.Deserialize(bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("%w: body is not a valid transaction: %w", errBadRequest, err)
	}
	res, err := a.s.client.Broadcast(r.Context(), &tx)
	if err != nil {
		return nil, err
	}
	rep := BroadcastReply{Txid: res.TxID.String(), OK: res.OK(), Accepted: res.Accepted, Unanswered: res.Unanswered, Summary: res.String()}
	for _, rej := range res.Rejected {
		rep.Rejected = append(rep.Rejected, fmt.Sprintf("%s: %s (code %d)", rej.Peer, rej.Reason, rej.Code))
	}
	if res.MinedIn != nil {
		rep.MinedIn = res.MinedIn.String()
	}
	return rep, nil
}
