package tbc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrAPI wraps an error reply of the query API; its text is the server's.
var ErrAPI = errors.New("bitcoin query api")

// ErrNotFound matches (errors.Is) a 404 reply: the transaction, block or
// output asked for is not in the chain as of the block asked about.
var ErrNotFound = errors.New("not found")

// replyError is a non-2xx reply; it matches ErrAPI, and ErrNotFound for
// a 404.
type replyError struct {
	status int
	msg    string
}

func (e *replyError) Error() string { return ErrAPI.Error() + ": " + e.msg }

func (e *replyError) Is(target error) bool {
	return target == ErrAPI || (target == ErrNotFound && e.status == http.StatusNotFound)
}

// Client talks to a running node's query API (`hemi btc ...`).
type Client struct {
	base string
	http *http.Client
}

// NewClient returns a client for the API at addr (host:port or a URL).
func NewClient(addr string) *Client {
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	return &Client{base: strings.TrimRight(base, "/"), http: &http.Client{Timeout: 60 * time.Second}}
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, body io.Reader, out any) error {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w (is `hemi tbc` or `hemi devnet` running with its API on %s? set --api)", ErrAPI, err, c.base)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode/100 != 2 {
		var e apiError
		if err := dec.Decode(&e); err != nil || e.Error == "" {
			return &replyError{status: resp.StatusCode, msg: resp.Status}
		}
		return &replyError{status: resp.StatusCode, msg: e.Error}
	}
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%w: decode reply: %w", ErrAPI, err)
	}
	return nil
}

func asOfQuery(asOf string) url.Values {
	q := url.Values{}
	if asOf != "" {
		q.Set("asof", asOf)
	}
	return q
}

// Status returns the node's sync status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	return s, c.do(ctx, http.MethodGet, "/v1/status", nil, nil, &s)
}

// Tx looks a confirmed transaction up, as of asOf ("" for the tip).
func (c *Client) Tx(ctx context.Context, txid, asOf string) (Tx, error) {
	var t Tx
	return t, c.do(ctx, http.MethodGet, "/v1/tx/"+url.PathEscape(txid), asOfQuery(asOf), nil, &t)
}

// Balance returns the unspent total of an address (or "script:<hex>").
func (c *Client) Balance(ctx context.Context, addr, asOf string) (Balance, error) {
	var b Balance
	return b, c.do(ctx, http.MethodGet, "/v1/address/"+url.PathEscape(addr)+"/balance", asOfQuery(asOf), nil, &b)
}

// UTXOs returns one page of an address's unspent outputs.
func (c *Client) UTXOs(ctx context.Context, addr, asOf string, page, size int) (UTXOs, error) {
	q := asOfQuery(asOf)
	q.Set("page", strconv.Itoa(page))
	q.Set("size", strconv.Itoa(size))
	var u UTXOs
	return u, c.do(ctx, http.MethodGet, "/v1/address/"+url.PathEscape(addr)+"/utxos", q, nil, &u)
}

// Header returns a header by height or hash.
func (c *Client) Header(ctx context.Context, id, asOf string) (Header, error) {
	var h Header
	return h, c.do(ctx, http.MethodGet, "/v1/header/"+url.PathEscape(id), asOfQuery(asOf), nil, &h)
}

// Spend returns the input spending txid:vout.
func (c *Client) Spend(ctx context.Context, txid string, vout uint32, asOf string) (Spend, error) {
	var s Spend
	path := fmt.Sprintf("/v1/spend/%s/%d", url.PathEscape(txid), vout)
	return s, c.do(ctx, http.MethodGet, path, asOfQuery(asOf), nil, &s)
}

// Publications returns the Bitcoin outputs publishing a keystone.
func (c *Client) Publications(ctx context.Context, keystoneID, asOf string) ([]Publication, error) {
	var ps []Publication
	return ps, c.do(ctx, http.MethodGet, "/v1/publications/"+url.PathEscape(keystoneID), asOfQuery(asOf), nil, &ps)
}

// Broadcast sends a raw transaction (hex) to the node's peers.
func (c *Client) Broadcast(ctx context.Context, rawHex string) (BroadcastReply, error) {
	var r BroadcastReply
	return r, c.do(ctx, http.MethodPost, "/v1/tx", nil, strings.NewReader(rawHex), &r)
}

// FeeRate returns the fee rate estimate for confirmation within target
// blocks.
func (c *Client) FeeRate(ctx context.Context, target int) (FeeRate, error) {
	q := url.Values{}
	q.Set("target", strconv.Itoa(target))
	var f FeeRate
	return f, c.do(ctx, http.MethodGet, "/v1/feerate", q, nil, &f)
}
