package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/txpool"
	"github.com/ethereum/go-ethereum/core/txpool/legacypool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hemi-go/hemi/internal/testtools/testkit"
)

// fakeSequencer answers every JSON-RPC request with answer (the body
// after "id"), counting the requests.
type fakeSequencer struct {
	*httptest.Server
	hits atomic.Int64
}

func newFakeSequencer(t *testing.T, h func(w http.ResponseWriter, id string)) *fakeSequencer {
	t.Helper()
	f := &fakeSequencer{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		id := "1"
		if i := strings.Index(string(body), `"id":`); i >= 0 {
			id = strings.SplitN(string(body[i+5:]), ",", 2)[0]
		}
		h(w, id)
	}))
	t.Cleanup(f.Close)
	return f
}

func answer(result string) func(http.ResponseWriter, string) {
	return func(w http.ResponseWriter, id string) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,%s}`, id, result)
	}
}

func closedURL(t *testing.T) string {
	t.Helper()
	return "http://" + testkit.FreeAddr(t)
}

func TestForwarder(t *testing.T) {
	hash := common.HexToHash("0x1234")
	ok := fmt.Sprintf(`"result":"%s"`, hash.Hex())
	for _, tc := range []struct {
		name string
		// urls are built from the servers: "ok", "refuse", "dead", "502", "hang".
		urls     []string
		wantErr  string
		wantCode int
		wantData any
		wantHits map[string]int64
	}{
		{name: "first answers", urls: []string{"ok", "dead"}, wantHits: map[string]int64{"ok": 1}},
		{name: "dead then ok", urls: []string{"dead", "ok"}, wantHits: map[string]int64{"ok": 1}},
		{name: "http 502 then ok", urls: []string{"502", "ok"}, wantHits: map[string]int64{"502": 1, "ok": 1}},
		{name: "hang then ok", urls: []string{"hang", "ok"}, wantHits: map[string]int64{"hang": 1, "ok": 1}},
		{name: "sequencer's error passed through, no next URL", urls: []string{"refuse", "ok"},
			wantErr: "nonce too low: next nonce 5, tx nonce 1", wantCode: -32000, wantData: "0xdead",
			wantHits: map[string]int64{"refuse": 1, "ok": 0}},
		{name: "none answers", urls: []string{"dead", "502", "hang"},
			wantErr: "sequencer unreachable: tried 3 URL(s)", wantCode: codeServer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stop := make(chan struct{})
			defer close(stop)
			servers := map[string]*fakeSequencer{
				"ok":     newFakeSequencer(t, answer(ok)),
				"refuse": newFakeSequencer(t, answer(`"error":{"code":-32000,"message":"nonce too low: next nonce 5, tx nonce 1","data":"0xdead"}`)),
				"502": newFakeSequencer(t, func(w http.ResponseWriter, _ string) {
					http.Error(w, "bad gateway", http.StatusBadGateway)
				}),
				"hang": newFakeSequencer(t, func(http.ResponseWriter, string) { <-stop }),
			}
			var urls []string
			for _, u := range tc.urls {
				if u == "dead" {
					urls = append(urls, closedURL(t))
					continue
				}
				urls = append(urls, servers[u].URL)
			}
			reg := prometheus.NewRegistry()
			f, err := NewForwarder(ForwarderConfig{URLs: urls, Timeout: 300 * time.Millisecond, Registerer: reg, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			err = f.Forward(context.Background(), []byte{1, 2, 3}, hash)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Forward: %v", err)
				}
			} else {
				var re *rpcError
				if err == nil || !errors.As(err, &re) || !strings.Contains(err.Error(), tc.wantErr) || re.ErrorCode() != tc.wantCode {
					t.Fatalf("Forward: got %v, want code %d with %q", err, tc.wantCode, tc.wantErr)
				}
				if tc.wantData != nil && re.ErrorData() != tc.wantData {
					t.Errorf("data %v, want %v", re.ErrorData(), tc.wantData)
				}
				if strings.Contains(tc.wantErr, "unreachable") && !errors.Is(err, ErrSequencerUnreachable) {
					t.Errorf("%v does not wrap ErrSequencerUnreachable", err)
				}
			}
			for name, want := range tc.wantHits {
				if got := servers[name].hits.Load(); got != want {
					t.Errorf("%s reached %d times, want %d", name, got, want)
				}
			}
			if tc.wantErr == "" {
				if got := testutil.ToFloat64(f.total.WithLabelValues("accepted")); got != 1 {
					t.Errorf("forward_total{accepted} %v, want 1", got)
				}
			}
		})
	}
}

// TestForwarderRemembersLast: after a URL answered, the next transaction
// starts there (a raft group's leader changes; the dead member is not
// waited on again).
func TestForwarderRemembersLast(t *testing.T) {
	hash := common.HexToHash("0x1234")
	ok := newFakeSequencer(t, answer(fmt.Sprintf(`"result":"%s"`, hash.Hex())))
	var deadHits atomic.Int64
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		deadHits.Add(1)
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	}))
	defer dead.Close()
	f, err := NewForwarder(ForwarderConfig{URLs: []string{dead.URL, ok.URL}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for range 3 {
		if err := f.Forward(context.Background(), []byte{1}, hash); err != nil {
			t.Fatal(err)
		}
	}
	if deadHits.Load() != 1 || ok.hits.Load() != 3 {
		t.Fatalf("dead URL tried %d times, good one %d; want 1 and 3", deadHits.Load(), ok.hits.Load())
	}
}

func TestNewForwarderRefusesBadURLs(t *testing.T) {
	for _, urls := range [][]string{nil, {""}, {"ws://127.0.0.1:8546"}, {"127.0.0.1:8545"}, {"http://"}, {"http://ok:1", "ftp://x"}} {
		if _, err := NewForwarder(ForwarderConfig{URLs: urls}); !errors.Is(err, ErrConfig) {
			t.Errorf("%q: got %v, want ErrConfig", urls, err)
		}
	}
}

// TestForwardable: the pool's refusals about its own state go on to the
// sequencer; those about the transaction are answered at once.
func TestForwardable(t *testing.T) {
	for _, err := range []error{txpool.ErrAlreadyKnown, txpool.ErrReplaceUnderpriced, legacypool.ErrTxPoolOverflow,
		fmt.Errorf("wrapped: %w", txpool.ErrUnderpriced)} {
		if !forwardable(err) {
			t.Errorf("%v: not forwarded", err)
		}
	}
	for _, err := range []error{txpool.ErrInvalidSender, txpool.ErrOversizedData, txpool.ErrGasLimit,
		errors.New("nonce too low"), ErrWrongChainID} {
		if forwardable(err) {
			t.Errorf("%v: forwarded", err)
		}
	}
}

var quiet = slog.New(slog.DiscardHandler)
