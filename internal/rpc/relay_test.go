package rpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// fakeRelay is a group member's relay: it leads or not, records what it
// was asked to relay and answers err.
type fakeRelay struct {
	leads atomic.Bool
	mu    sync.Mutex
	calls []relayCall
	given []relayGiven
	err   error
}

type relayCall struct {
	hash common.Hash
	kept bool
}

// relayGiven is what one Relay call was given besides its relayCall.
type relayGiven struct {
	tx  *types.Transaction
	raw []byte
}

func (f *fakeRelay) Leads() bool { return f.leads.Load() }

func (f *fakeRelay) Relay(_ context.Context, tx *types.Transaction, raw []byte, kept bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, relayCall{tx.Hash(), kept})
	f.given = append(f.given, relayGiven{tx, raw})
	return f.err
}

func (f *fakeRelay) took() []relayCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]relayCall(nil), f.calls...)
}

// forwardedClient is an ethclient whose requests carry ForwardedHeader,
// as a group member's relay sends them.
func forwardedClient(t *testing.T, url string) (*ethclient.Client, *gethrpc.Client) {
	t.Helper()
	rc, err := gethrpc.DialOptions(context.Background(), url, gethrpc.WithHeader(ForwardedHeader, "0x0000000000000000000000000000000000000001"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rc.Close)
	return ethclient.NewClient(rc), rc
}

// TestRelayWhileNotLeading: a member that does not lead keeps each
// transaction in its pool and hands it to the relay (kept), answers its
// own refusals without the relay, and answers the relay's error.
func TestRelayWhileNotLeading(t *testing.T) {
	relay := &fakeRelay{}
	e := newEnv(t, Config{Relay: relay})
	ctx := context.Background()
	tx := e.transfer(0, 0, e.addr(1), 1)
	if err := e.ec.SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if e.pool.Get(tx.Hash()) == nil {
		t.Fatal("relayed transaction not kept in the local pool")
	}
	// Sent again: the local pool knows it; the leader still gets it.
	if err := e.ec.SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	// A refusal about the transaction is answered here.
	low := e.sign(1, &types.LegacyTx{Nonce: 0, GasPrice: tx.GasFeeCap(), Gas: 20_000, To: &common.Address{1}})
	if err := e.ec.SendTransaction(ctx, low); err == nil || !strings.Contains(err.Error(), "intrinsic gas too low") {
		t.Fatalf("low-gas transaction: %v, want intrinsic gas too low", err)
	}
	got := relay.took()
	want := []relayCall{{tx.Hash(), true}, {tx.Hash(), true}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("relayed %v, want %v", got, want)
	}
	// The relay is given the transaction the pool holds (decoded once,
	// its sender recovered once, by the pool) and the client's bytes.
	sent, _ := tx.MarshalBinary()
	relay.mu.Lock()
	first := relay.given[0]
	relay.mu.Unlock()
	if first.tx != e.pool.Get(tx.Hash()) {
		t.Error("the relay was given another copy of the transaction than the pool's")
	}
	if !bytes.Equal(first.raw, sent) {
		t.Errorf("the relay was given %x, want the client's bytes %x", first.raw, sent)
	}
	// The relay's answer is the caller's: the leader's error with its code.
	relay.err = &rpcError{code: -32000, msg: "nonce too low: next nonce 5, tx nonce 1"}
	code, msg, _ := rpcErr(t, e.ec.SendTransaction(ctx, e.transfer(2, 0, e.addr(1), 1)))
	if code != -32000 || !strings.Contains(msg, "nonce too low") {
		t.Fatalf("leader's refusal answered as %d %q", code, msg)
	}
	// The batch fast path is off: each call goes through the relay.
	before := e.srv.fastBatches.Load()
	relay.err = nil
	b1, b2 := e.transfer(3, 0, e.addr(1), 1), e.transfer(3, 1, e.addr(1), 1)
	if err := e.rc.BatchCall(batchOf(t, b1, b2)); err != nil {
		t.Fatal(err)
	}
	if e.srv.fastBatches.Load() != before {
		t.Fatal("a member that does not lead served a batch itself")
	}
	if n := len(relay.took()); n != 5 {
		t.Fatalf("%d transactions relayed, want 5", n)
	}
}

// TestRelayWhileLeading: while the member leads it is a sequencer: the
// pool decides, the relay is not asked, batches take the fast path.
func TestRelayWhileLeading(t *testing.T) {
	relay := &fakeRelay{}
	relay.leads.Store(true)
	e := newEnv(t, Config{Relay: relay})
	ctx := context.Background()
	tx := e.transfer(0, 0, e.addr(1), 1)
	if err := e.ec.SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	// A sequencer answers "already known" to a resend.
	if err := e.ec.SendTransaction(ctx, tx); err == nil || !strings.Contains(err.Error(), "already known") {
		t.Fatalf("resend to the leader: %v, want already known", err)
	}
	before := e.srv.fastBatches.Load()
	if err := e.rc.BatchCall(batchOf(t, e.transfer(1, 0, e.addr(1), 1), e.transfer(1, 1, e.addr(1), 1))); err != nil {
		t.Fatal(err)
	}
	if e.srv.fastBatches.Load() != before+1 {
		t.Fatal("the leader did not admit the batch on the fast path")
	}
	if n := len(relay.took()); n != 0 {
		t.Fatalf("the leader relayed %d transactions", n)
	}
}

// TestForwardedNotForwardedAgain: a request marked ForwardedHeader is
// never forwarded again: a member that does not lead, and a follower,
// refuse it with ErrForwardedNotLeader (single calls and batches alike)
// and keep nothing; the leader admits it (also on the batch fast path).
func TestForwardedNotForwardedAgain(t *testing.T) {
	ctx := context.Background()
	follower := &countingForwarder{}
	for _, tc := range []struct {
		name  string
		cfg   Config
		lead  bool
		admit bool
	}{
		{"member not leading", Config{Relay: &fakeRelay{}}, false, false},
		{"leader", Config{Relay: &fakeRelay{}}, true, true},
		{"follower", Config{Forward: follower}, false, false},
		{"lone sequencer", Config{}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cfg.Relay != nil {
				tc.cfg.Relay.(*fakeRelay).leads.Store(tc.lead)
			}
			e := newEnv(t, tc.cfg)
			ec, rc := forwardedClient(t, e.url)
			tx := e.transfer(0, 0, e.addr(1), 1)
			err := ec.SendTransaction(ctx, tx)
			b1, b2 := e.transfer(1, 0, e.addr(1), 1), e.transfer(1, 1, e.addr(1), 1)
			batch := batchOf(t, b1, b2)
			if berr := rc.BatchCall(batch); berr != nil {
				t.Fatal(berr)
			}
			for i, tx := range []*types.Transaction{tx, b1, b2} {
				inPool := e.pool.Get(tx.Hash()) != nil
				if inPool != tc.admit {
					t.Fatalf("tx %d in the pool: %v, want %v", i, inPool, tc.admit)
				}
			}
			if tc.admit {
				if err != nil || batch[0].Error != nil || batch[1].Error != nil {
					t.Fatalf("refused: %v, %v, %v", err, batch[0].Error, batch[1].Error)
				}
				return
			}
			for _, err := range []error{err, batch[0].Error, batch[1].Error} {
				code, msg, _ := rpcErr(t, err)
				if code != codeServer || msg != ErrForwardedNotLeader.Error() {
					t.Fatalf("forwarded transaction answered %d %q, want %q", code, msg, ErrForwardedNotLeader)
				}
			}
			if r, ok := tc.cfg.Relay.(*fakeRelay); ok && len(r.took()) != 0 {
				t.Fatal("a forwarded transaction was relayed again")
			}
			if follower.n.Load() != 0 {
				t.Fatal("a forwarded transaction was forwarded again")
			}
		})
	}
}

// TestRelayAndForwardExclusive: a node is a follower or a group member.
func TestRelayAndForwardExclusive(t *testing.T) {
	if _, err := (Config{Relay: &fakeRelay{}, Forward: &countingForwarder{}}).withDefaults(); !errors.Is(err, ErrConfig) {
		t.Fatalf("Relay and Forward together: %v, want ErrConfig", err)
	}
}

// markForwarded only adds the header's value to the context.
func TestMarkForwarded(t *testing.T) {
	var got string
	var ok bool
	h := markForwarded(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got, ok = forwardedBy(r.Context()) }))
	r, _ := http.NewRequest(http.MethodPost, "http://x/", nil)
	h.ServeHTTP(nil, r)
	if ok {
		t.Fatal("a request without the header is marked forwarded")
	}
	r.Header.Set(ForwardedHeader, "0xabc")
	h.ServeHTTP(nil, r)
	if !ok || got != "0xabc" {
		t.Fatalf("forwardedBy = %q, %v", got, ok)
	}
}

type countingForwarder struct{ n atomic.Int64 }

func (f *countingForwarder) Forward(context.Context, []byte, common.Hash) error {
	f.n.Add(1)
	return nil
}

// batchOf is a JSON-RPC batch of eth_sendRawTransaction calls.
func batchOf(t *testing.T, txs ...*types.Transaction) []gethrpc.BatchElem {
	t.Helper()
	out := make([]gethrpc.BatchElem, len(txs))
	for i, tx := range txs {
		b, err := tx.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = gethrpc.BatchElem{Method: "eth_sendRawTransaction", Args: []any{hexutil.Bytes(b)}, Result: new(common.Hash)}
	}
	return out
}
