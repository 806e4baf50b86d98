package p2p

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

func testTx(seed byte) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	var ph chainhash.Hash
	ph[0] = seed
	tx.AddTxIn(wire.NewTxIn(wire.NewOutPoint(&ph, 0), nil, [][]byte{{seed}}))
	tx.AddTxOut(wire.NewTxOut(1000, []byte{0x51}))
	return tx
}

func TestBroadcast(t *testing.T) {
	t.Parallel()
	tc := buildChain(t, 3, 0)
	tests := []struct {
		name     string
		remote   remoteOpts
		wantErr  error
		accepted bool
		rejected *Rejection // Peer is filled in
		dropped  bool
		known    bool
	}{
		{name: "accepted", remote: remoteOpts{}, accepted: true},
		{
			name: "rejected with reason",
			remote: remoteOpts{txPolicy: func(*wire.MsgTx) (bool, wire.RejectCode, string, bool) {
				return true, wire.RejectNonstandard, "output 0: nulldata script too large", false
			}},
			rejected: &Rejection{Code: wire.RejectNonstandard, Reason: "output 0: nulldata script too large"},
		},
		{
			name: "fetched but not kept",
			remote: remoteOpts{txPolicy: func(*wire.MsgTx) (bool, wire.RejectCode, string, bool) {
				return false, 0, "", false
			}},
			dropped: true,
		},
		{name: "peer reads the announcement and never fetches: already known", remote: remoteOpts{ignoreInv: true}, known: true},
		{name: "peer never answers", remote: remoteOpts{ignoreInv: true, ignoreTxGetData: true}, wantErr: ErrBroadcastTimeout},
		{name: "peer answers the probe after the silence, never fetches: already known", remote: remoteOpts{ignoreInv: true,
			txGetDataDelay: 300 * time.Millisecond}, known: true},
		{name: "peer already has it", remote: remoteOpts{ignoreInv: true, mempool: []*wire.MsgTx{testTx(1)}}, accepted: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.remote.chain = tc
			r := startRemote(t, tt.remote)
			c := startClient(t, newFakeChain(tc.params), []string{r.addr}, func(cfg *Config) {
				cfg.BroadcastTimeout = 5 * time.Second
				cfg.BroadcastSilence = 100 * time.Millisecond
				if tt.wantErr != nil {
					cfg.BroadcastTimeout = 500 * time.Millisecond
				}
			})
			waitFor(t, 5*time.Second, "peer", func() bool { return c.Progress().Peers == 1 })
			tx := testTx(1)
			res, err := c.Broadcast(context.Background(), tx)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Broadcast error = %v, want %v", err, tt.wantErr)
			}
			if res.TxID != tx.TxHash() {
				t.Errorf("TxID = %s, want %s", res.TxID, tx.TxHash())
			}
			if res.OK() != tt.accepted || (len(res.Accepted) == 1) != tt.accepted {
				t.Errorf("accepted = %v (%v), want %v", res.OK(), res.Accepted, tt.accepted)
			}
			if tt.rejected != nil {
				want := *tt.rejected
				want.Peer = r.addr
				if len(res.Rejected) != 1 || res.Rejected[0] != want {
					t.Errorf("rejected = %+v, want %+v", res.Rejected, want)
				}
			} else if len(res.Rejected) != 0 {
				t.Errorf("rejected = %+v, want none", res.Rejected)
			}
			if (len(res.Dropped) == 1) != tt.dropped {
				t.Errorf("dropped = %v, want %v", res.Dropped, tt.dropped)
			}
			if (len(res.Known) == 1) != tt.known {
				t.Errorf("known = %v, want %v", res.Known, tt.known)
			}
			if tt.wantErr != nil && len(res.Unanswered) != 1 {
				t.Errorf("unanswered = %v, want the silent peer", res.Unanswered)
			}
			if res.String() == "" {
				t.Error("empty String()")
			}
		})
	}
}

// TestBroadcastLateFetch: a peer that fetches the transaction only after
// BroadcastSilence counts as knowing it, and when it does ask, after
// Broadcast returned, it is still served the transaction.
func TestBroadcastLateFetch(t *testing.T) {
	t.Parallel()
	tc := buildChain(t, 1, 0)
	r := startRemote(t, remoteOpts{chain: tc, fetchAfter: 2 * time.Second})
	c := startClient(t, newFakeChain(tc.params), []string{r.addr}, func(cfg *Config) {
		cfg.BroadcastSilence = 50 * time.Millisecond
	})
	waitFor(t, 5*time.Second, "peer", func() bool { return c.Progress().Peers == 1 })
	tx := testTx(4)
	res, err := c.Broadcast(context.Background(), tx)
	if err != nil || len(res.Known) != 1 {
		t.Fatalf("Broadcast = %s, %v; want returned with the slow peer known", res, err)
	}
	waitFor(t, 10*time.Second, "the late fetch served", func() bool { return r.has(tx.TxHash()) })
}

func TestBroadcastErrors(t *testing.T) {
	t.Parallel()
	tc := buildChain(t, 1, 0)
	c, err := New(Config{Params: tc.params, Peers: []string{"127.0.0.1:1"}, Logger: testLogger()}, newFakeChain(tc.params))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Broadcast(context.Background(), testTx(1)); !errors.Is(err, ErrNotRunning) {
		t.Errorf("before Run: %v, want ErrNotRunning", err)
	}
	tcl := startClient(t, newFakeChain(tc.params), []string{"127.0.0.1:1"}, nil)
	waitFor(t, 5*time.Second, "running", func() bool {
		tcl.mu.Lock()
		defer tcl.mu.Unlock()
		return tcl.running
	})
	tests := []struct {
		name string
		tx   *wire.MsgTx
		want error
	}{
		{name: "no peers", tx: testTx(2), want: ErrNoPeers},
		{name: "nil tx", tx: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tcl.Broadcast(context.Background(), tt.tx)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("Broadcast = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestBroadcastContextCancel(t *testing.T) {
	t.Parallel()
	tc := buildChain(t, 1, 0)
	r := startRemote(t, remoteOpts{chain: tc, ignoreInv: true})
	c := startClient(t, newFakeChain(tc.params), []string{r.addr}, nil)
	waitFor(t, 5*time.Second, "peer", func() bool { return c.Progress().Peers == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Broadcast(ctx, testTx(3))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Broadcast = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Broadcast took %s after its context ended", d)
	}
}
