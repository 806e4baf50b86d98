package ha_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hemi-go/hemi/internal/ha"
	"github.com/hemi-go/hemi/internal/rpc"
	"github.com/hemi-go/hemi/internal/testtools/testkit"
)

// fakeLeadership is a member whose leader the test sets.
type fakeLeadership struct {
	leads  atomic.Bool
	mu     sync.Mutex
	id     string
	url    string
	forgot atomic.Int32
}

func (f *fakeLeadership) IsLeader() bool { return f.leads.Load() }

func (f *fakeLeadership) LeaderRPC(context.Context) (string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.id, f.url, nil
}

func (f *fakeLeadership) ForgetLeaderRPC() { f.forgot.Add(1) }

func (f *fakeLeadership) set(id, url string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.id, f.url = id, url
}

// fakePool is a pool's content; Add records what it is given (when
// added is set) and keeps nothing.
type fakePool struct {
	pending map[common.Address][]*types.Transaction
	added   *addLog
}

type addLog struct {
	mu  sync.Mutex
	txs []*types.Transaction
}

func (p fakePool) Content() (map[common.Address][]*types.Transaction, map[common.Address][]*types.Transaction) {
	return p.pending, nil
}

func (p fakePool) Add(txs []*types.Transaction) []error {
	if p.added != nil {
		p.added.mu.Lock()
		p.added.txs = append(p.added.txs, txs...)
		p.added.mu.Unlock()
	}
	return make([]error, len(txs))
}

// fakeLeader is a leader's JSON-RPC: it answers every
// eth_sendRawTransaction (single or in a batch) with answer(raw) and
// records the requests' ForwardedHeader and transactions.
type fakeLeader struct {
	*httptest.Server
	mu       sync.Mutex
	txs      []string
	requests int
	headers  []string
	answer   func(raw string) string // a "result" or "error" member
	status   atomic.Int32            // an HTTP status to answer instead
}

func newFakeLeader(t *testing.T, answer func(string) string) *fakeLeader {
	f := &fakeLeader{answer: answer}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := f.status.Load(); s != 0 {
			http.Error(w, "unavailable", int(s))
			return
		}
		body, _ := io.ReadAll(r.Body)
		type call struct {
			ID     json.RawMessage `json:"id"`
			Params []string        `json:"params"`
		}
		var calls []call
		batch := bytes.HasPrefix(bytes.TrimSpace(body), []byte("["))
		if batch {
			_ = json.Unmarshal(body, &calls)
		} else {
			var c call
			_ = json.Unmarshal(body, &c)
			calls = []call{c}
		}
		var out []string
		f.mu.Lock()
		f.requests++
		f.headers = append(f.headers, r.Header.Get(rpc.ForwardedHeader))
		for _, c := range calls {
			f.txs = append(f.txs, c.Params[0])
			out = append(out, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,%s}`, c.ID, f.answer(c.Params[0])))
		}
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if batch {
			fmt.Fprint(w, "["+strings.Join(out, ",")+"]")
		} else {
			fmt.Fprint(w, out[0])
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeLeader) got() (txs []string, requests int, headers []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.txs...), f.requests, append([]string(nil), f.headers...)
}

func ok(string) string {
	return `"result":"0x0000000000000000000000000000000000000000000000000000000000000001"`
}

func refuse(msg string) func(string) string {
	return func(string) string { return fmt.Sprintf(`"error":{"code":-32000,"message":%q}`, msg) }
}

// deadURL is a URL nothing listens on.
func deadURL(t *testing.T) string {
	return "http://" + testkit.FreeAddr(t)
}

var relayID = common.HexToAddress("0x00000000000000000000000000000000000000aa")

func newRelay(t *testing.T, lead ha.Leadership, pool ha.RelayPool, reg prometheus.Registerer) *ha.Relay {
	t.Helper()
	r, err := ha.NewRelay(ha.RelayConfig{Group: lead, ID: relayID, Pool: pool, Timeout: time.Second,
		Retry: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runRelay runs r until the test ends (then Run must return nil); the
// context is Run's.
func runRelay(t *testing.T, r *ha.Relay) context.Context {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return ctx
}

// TestRelaySend: each answer of the leader, each failure to reach one,
// with the transaction kept in the member's pool or not.
func TestRelaySend(t *testing.T) {
	raws, _ := transfers(t, "relay send", 1)
	tx, raw := decoded(t, raws[0])
	for _, tc := range []struct {
		name    string
		answer  func(string) string
		url     func(t *testing.T) string // "" no leader known
		leads   bool
		kept    bool
		wantErr string // "" nil
		metric  string
		forgets bool
	}{
		{name: "accepted", answer: ok, kept: true, metric: "forwarded"},
		{name: "already known", answer: refuse("already known"), metric: "forwarded"},
		{name: "refused", answer: refuse("nonce too low: next nonce 3, tx nonce 1"), kept: true, wantErr: "nonce too low", metric: "refused"},
		{name: "no longer leads, kept", answer: refuse(rpc.ErrForwardedNotLeader.Error()), kept: true, metric: "failed"},
		{name: "no longer leads, not kept", answer: refuse(rpc.ErrForwardedNotLeader.Error()), wantErr: ha.ErrLeaderUnreachable.Error(), metric: "failed"},
		{name: "unreachable, kept", url: deadURL, kept: true, metric: "failed", forgets: true},
		{name: "unreachable, not kept", url: deadURL, wantErr: ha.ErrLeaderUnreachable.Error(), metric: "failed", forgets: true},
		{name: "no leader, kept", url: func(*testing.T) string { return "" }, kept: true, metric: "failed"},
		{name: "no leader, not kept", url: func(*testing.T) string { return "" }, wantErr: "no leader known", metric: "failed"},
		{name: "became leader, kept", leads: true, kept: true},
		{name: "became leader, not kept", leads: true, wantErr: "just become the leader"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lead := &fakeLeadership{}
			lead.leads.Store(tc.leads)
			var srv *fakeLeader
			if tc.answer != nil {
				srv = newFakeLeader(t, tc.answer)
				lead.set("leader", srv.URL)
			} else if tc.url != nil {
				if u := tc.url(t); u != "" {
					lead.set("leader", u)
				}
			}
			reg := prometheus.NewRegistry()
			r := newRelay(t, lead, fakePool{}, reg)
			err := r.Relay(context.Background(), tx, raw, tc.kept)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Relay: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Relay: %v, want %q", err, tc.wantErr)
			}
			if tc.metric != "" {
				if n := testkit.MetricValue(t, reg, "hemi_ha_forward_total", "result", tc.metric); n != 1 {
					t.Fatalf("hemi_ha_forward_total{result=%q} = %v, want 1", tc.metric, n)
				}
			}
			// Kept for the next leader: what the leader took, and what
			// could not reach it but the pool holds.
			wantKept := 0.0
			if tc.metric == "forwarded" || tc.metric == "failed" && tc.kept {
				wantKept = 1
			}
			if n := testkit.MetricValue(t, reg, "hemi_ha_relay_kept_txs"); n != wantKept {
				t.Fatalf("hemi_ha_relay_kept_txs = %v, want %v", n, wantKept)
			}
			if got := lead.forgot.Load() > 0; got != tc.forgets {
				t.Fatalf("leader URL forgotten: %v, want %v", got, tc.forgets)
			}
			if srv != nil && !tc.leads {
				txs, _, headers := srv.got()
				if len(txs) != 1 || txs[0] != hexutil.Encode(raw) || headers[0] != relayID.Hex() {
					t.Fatalf("leader got %v with header %v", txs, headers)
				}
			}
		})
	}
}

// poolOf is a pool of n transfers from each of senders keys.
func poolOf(t *testing.T, senders, n int) (fakePool, map[string]bool) {
	t.Helper()
	p := fakePool{pending: map[common.Address][]*types.Transaction{}}
	all := map[string]bool{}
	signer := types.LatestSignerForChainID(big.NewInt(1337))
	for s := range senders {
		key, err := crypto.ToECDSA(crypto.Keccak256([]byte(fmt.Sprintf("relay sender %d", s))))
		if err != nil {
			t.Fatal(err)
		}
		addr := crypto.PubkeyToAddress(key.PublicKey)
		for i := range n {
			tx, err := types.SignNewTx(key, signer, &types.DynamicFeeTx{ChainID: big.NewInt(1337), Nonce: uint64(i), To: &common.Address{1},
				Gas: params.TxGas, GasFeeCap: big.NewInt(params.GWei), GasTipCap: big.NewInt(1)})
			if err != nil {
				t.Fatal(err)
			}
			p.pending[addr] = append(p.pending[addr], tx)
			b, _ := tx.MarshalBinary()
			all[hexutil.Encode(b)] = true
		}
	}
	return p, all
}

// waitGot waits until srv received want transactions.
func waitGot(t *testing.T, srv *fakeLeader, want int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		txs, _, _ := srv.got()
		if len(txs) >= want {
			return txs
		}
		if time.Now().After(deadline) {
			t.Fatalf("leader got %d transactions, want %d", len(txs), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRelayResendsPool: the pool goes to each new leader, in batches,
// marked forwarded; not while this member leads; again after a failed
// send; and a resend that fails is retried until it succeeds.
func TestRelayResendsPool(t *testing.T) {
	pool, all := poolOf(t, 3, 50)
	lead := &fakeLeadership{}
	a := newFakeLeader(t, refuse("already known"))
	b := newFakeLeader(t, ok)
	r := newRelay(t, lead, pool, nil)
	ctx := runRelay(t, r)
	check := func(srv *fakeLeader, wantRequests int) {
		t.Helper()
		txs := waitGot(t, srv, len(all))
		time.Sleep(300 * time.Millisecond) // nothing more comes (3 retry intervals)
		txs, requests, headers := srv.got()
		if len(txs) != len(all) || requests != wantRequests {
			t.Fatalf("leader got %d transactions in %d requests, want %d in %d", len(txs), requests, len(all), wantRequests)
		}
		for _, tx := range txs {
			if !all[tx] {
				t.Fatalf("leader got a transaction not in the pool: %s", tx)
			}
		}
		for _, h := range headers {
			if h != relayID.Hex() {
				t.Fatalf("request without %s: %q", rpc.ForwardedHeader, h)
			}
		}
	}
	// A leader that answers "already known" for all: done, not resent.
	lead.set("a", a.URL)
	check(a, 2)
	// A new leader gets the pool.
	lead.set("b", b.URL)
	check(b, 2)
	// While this member leads nothing is sent; when b leads again after
	// it, b gets the pool again (it may have missed what came meanwhile).
	lead.leads.Store(true)
	time.Sleep(200 * time.Millisecond)
	if _, n, _ := b.got(); n != 2 {
		t.Fatalf("a leader was sent %d requests, want none more", n-2)
	}
	lead.leads.Store(false)
	waitGot(t, b, 2*len(all))
	// A failed send makes the relay resend the pool to the same leader.
	c := newFakeLeader(t, ok)
	c.status.Store(http.StatusBadGateway)
	lead.set("c", c.URL)
	time.Sleep(300 * time.Millisecond) // resends to c fail, retried every 100 ms
	if _, n, _ := c.got(); n != 0 {
		t.Fatalf("%d requests counted while answering 502", n)
	}
	c.status.Store(0)
	check(c, 2)
	more, _ := transfers(t, "relay resend after a failed send", 1)
	tx, raw := decoded(t, more[0])
	if err := r.Relay(ctx, tx, raw, true); err != nil {
		t.Fatal(err)
	}
	c.status.Store(http.StatusBadGateway)
	if err := r.Relay(ctx, tx, raw, true); err != nil {
		t.Fatal(err)
	}
	c.status.Store(0)
	waitGot(t, c, 2*len(all)+1)
}

// TestRelayNeedsGroupAndPool: NewRelay refuses an incomplete config.
func TestRelayNeedsGroupAndPool(t *testing.T) {
	if _, err := ha.NewRelay(ha.RelayConfig{Pool: fakePool{}}); err == nil {
		t.Fatal("no error without Group")
	}
	if _, err := ha.NewRelay(ha.RelayConfig{Group: &fakeLeadership{}}); err == nil {
		t.Fatal("no error without Pool")
	}
}

// TestLeaderRPC: every member learns the leader's JSON-RPC URL from the
// leader's Status over the raft port (the leader its own from its
// config), and a member announcing none is an error naming the fix.
func TestLeaderRPC(t *testing.T) {
	urlOf := func(raft string) string { return "http://127.0.0.1:1/?member=" + raft }
	g := newGroupWith(t, 3, false, func(hc *ha.Config) {
		if hc.Bind != "" {
			hc.RPCURL = urlOf(hc.Bind)
		}
	})
	l := g.leader(g.members)
	ctx := context.Background()
	for _, m := range g.members {
		id, u, err := m.n.HA.LeaderRPC(ctx)
		if err != nil || id != l.id.Hex() || u != urlOf(l.raft) {
			t.Fatalf("member %d: leader %q at %q (%v), want %s at %s", m.i, id, u, err, l.id.Hex(), urlOf(l.raft))
		}
		if st := m.n.HA.Status(); st.RPC != urlOf(m.raft) {
			t.Fatalf("member %d announces %q, want %q", m.i, st.RPC, urlOf(m.raft))
		}
		m.n.HA.ForgetLeaderRPC()
	}
	// Asked again after ForgetLeaderRPC: the same answer, from the leader.
	for _, m := range g.members {
		if _, u, err := m.n.HA.LeaderRPC(ctx); err != nil || u != urlOf(l.raft) {
			t.Fatalf("member %d after forgetting: %q, %v", m.i, u, err)
		}
	}
}

// TestLeaderRPCNone: a leader that announces no URL is an error that
// says what to set.
func TestLeaderRPCNone(t *testing.T) {
	g := newGroup(t, 3)
	l := g.leader(g.members)
	for _, m := range g.members {
		if m == l {
			continue
		}
		id, _, err := m.n.HA.LeaderRPC(context.Background())
		if id != l.id.Hex() || err == nil || !strings.Contains(err.Error(), "ha.rpc_url") {
			t.Fatalf("member %d: leader %q, err %v; want %s and an error naming ha.rpc_url", m.i, id, err, l.id.Hex())
		}
	}
}
