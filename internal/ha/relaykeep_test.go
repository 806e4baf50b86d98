package ha_test

import (
	"context"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"

	"github.com/hemi-go/hemi/internal/ha"
)

// fakeChain is a head whose state holds the nonces the test sets.
type fakeChain struct {
	mu     sync.Mutex
	nonces map[common.Address]uint64
}

func (c *fakeChain) Head() *types.Header {
	return &types.Header{Number: big.NewInt(1), Root: types.EmptyRootHash}
}

func (c *fakeChain) StateAt(common.Hash) (*state.StateDB, error) {
	st, err := state.New(types.EmptyRootHash, state.NewDatabaseForTesting())
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for a, n := range c.nonces {
		st.SetNonce(a, n, tracing.NonceChangeUnspecified)
	}
	return st, nil
}

func (c *fakeChain) set(a common.Address, n uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nonces[a] = n
}

// transfers signs n transfers of the sender named name, nonces 0..n-1,
// and returns them encoded with the sender's address.
func transfers(t *testing.T, name string, n int) ([]string, common.Address) {
	t.Helper()
	key, err := crypto.ToECDSA(crypto.Keccak256([]byte(name)))
	if err != nil {
		t.Fatal(err)
	}
	signer := types.LatestSignerForChainID(big.NewInt(1337))
	var raws []string
	for i := range n {
		tx, err := types.SignNewTx(key, signer, &types.DynamicFeeTx{ChainID: big.NewInt(1337), Nonce: uint64(i), To: &common.Address{1},
			Gas: params.TxGas, GasFeeCap: big.NewInt(params.GWei), GasTipCap: big.NewInt(1)})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := tx.MarshalBinary()
		raws = append(raws, hexutil.Encode(b))
	}
	return raws, crypto.PubkeyToAddress(key.PublicKey)
}

// decoded is a transaction as the RPC server hands it to the relay:
// decoded from the client's bytes, which come with it.
func decoded(t *testing.T, raw string) (*types.Transaction, []byte) {
	t.Helper()
	b := hexutil.MustDecode(raw)
	tx := new(types.Transaction)
	if err := tx.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	return tx, b
}

// relayAll relays each raw transaction as the RPC server does for one
// the member's pool did not keep.
func relayAll(t *testing.T, r *ha.Relay, raws []string) {
	t.Helper()
	for _, raw := range raws {
		tx, b := decoded(t, raw)
		if err := r.Relay(context.Background(), tx, b, false); err != nil {
			t.Fatalf("relay: %v", err)
		}
	}
}

// resentTo makes srv the leader and returns what the relay's resend
// gives it besides marker (the pool's one transaction, which shows the
// resend happened).
func resentTo(t *testing.T, lead *fakeLeadership, id string, srv *fakeLeader, marker string) []string {
	t.Helper()
	lead.set(id, srv.URL)
	waitGot(t, srv, 1)
	time.Sleep(300 * time.Millisecond) // nothing more comes (3 retry intervals)
	txs, _, _ := srv.got()
	return slices.DeleteFunc(txs, func(s string) bool { return s == marker })
}

// TestRelayKeepsRelayed: what a member relayed and its pool did not
// keep goes to the next leader after the one it was relayed to (killed
// before mining it), until the member's chain shows it mined; into the
// member's own pool when it becomes leader; never what the leader
// refused; at most the bounds, the oldest dropped; not after KeepFor.
// Before, only the pool was resent and the leader's death lost them.
func TestRelayKeepsRelayed(t *testing.T) {
	marker, _ := transfers(t, "relay keep pool", 1)
	markerTx := new(types.Transaction)
	if err := markerTx.UnmarshalBinary(hexutil.MustDecode(marker[0])); err != nil {
		t.Fatal(err)
	}
	raws, sender := transfers(t, "relay keep sender", 3)
	run := func(t *testing.T, cfg ha.RelayConfig) (*fakeLeadership, *ha.Relay) {
		lead := &fakeLeadership{}
		cfg.Group, cfg.ID, cfg.Timeout, cfg.Retry = lead, relayID, time.Second, 100*time.Millisecond
		if cfg.Pool == nil {
			cfg.Pool = fakePool{pending: map[common.Address][]*types.Transaction{{9}: {markerTx}}}
		}
		r, err := ha.NewRelay(cfg)
		if err != nil {
			t.Fatal(err)
		}
		runRelay(t, r)
		return lead, r
	}

	t.Run("re-relayed until mined, then included", func(t *testing.T) {
		added := &addLog{}
		chain := &fakeChain{nonces: map[common.Address]uint64{}}
		lead, r := run(t, ha.RelayConfig{Chain: chain,
			Pool: fakePool{pending: map[common.Address][]*types.Transaction{{9}: {markerTx}}, added: added}})
		a := newFakeLeader(t, ok)
		lead.set("a", a.URL)
		relayAll(t, r, raws)
		if got := resentTo(t, lead, "b", newFakeLeader(t, ok), marker[0]); !slices.Equal(got, raws) {
			t.Fatalf("the next leader got %d of the 3 relayed transactions (%v)", len(got), got)
		}
		chain.set(sender, 2) // the first two mined
		if got := resentTo(t, lead, "c", newFakeLeader(t, ok), marker[0]); !slices.Equal(got, raws[2:]) {
			t.Fatalf("after two were mined the next leader got %v, want the third", got)
		}
		lead.leads.Store(true)
		deadline := time.Now().Add(10 * time.Second)
		for {
			added.mu.Lock()
			n := len(added.txs)
			var h common.Hash
			if n > 0 {
				h = added.txs[0].Hash()
			}
			added.mu.Unlock()
			if n > 0 {
				b, _ := hexutil.Decode(raws[2])
				if n != 1 || h != crypto.Keccak256Hash(b) {
					t.Fatalf("the pool was given %d transactions (first %v), want the third relayed one", n, h)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the member leads and its pool was not given what it relayed")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	t.Run("refused not kept", func(t *testing.T) {
		lead, r := run(t, ha.RelayConfig{})
		lead.set("a", newFakeLeader(t, refuse("insufficient funds for gas * price + value")).URL)
		for _, raw := range raws {
			tx, b := decoded(t, raw)
			if err := r.Relay(context.Background(), tx, b, false); err == nil {
				t.Fatal("a refusal was not passed on")
			}
		}
		if got := resentTo(t, lead, "b", newFakeLeader(t, ok), marker[0]); len(got) != 0 {
			t.Fatalf("the next leader got %d refused transactions", len(got))
		}
	})
	t.Run("count bound", func(t *testing.T) {
		lead, r := run(t, ha.RelayConfig{KeepTxs: 2})
		lead.set("a", newFakeLeader(t, ok).URL)
		relayAll(t, r, raws)
		if got := resentTo(t, lead, "b", newFakeLeader(t, ok), marker[0]); !slices.Equal(got, raws[1:]) {
			t.Fatalf("with KeepTxs 2 the next leader got %v, want the newest two", got)
		}
	})
	t.Run("byte bound", func(t *testing.T) {
		lead, r := run(t, ha.RelayConfig{KeepBytes: len(hexutil.MustDecode(raws[0])) + 1})
		lead.set("a", newFakeLeader(t, ok).URL)
		relayAll(t, r, raws)
		if got := resentTo(t, lead, "b", newFakeLeader(t, ok), marker[0]); !slices.Equal(got, raws[2:]) {
			t.Fatalf("with room for one the next leader got %v, want the newest", got)
		}
	})
	t.Run("expired", func(t *testing.T) {
		lead, r := run(t, ha.RelayConfig{KeepFor: time.Millisecond})
		lead.set("a", newFakeLeader(t, ok).URL)
		relayAll(t, r, raws)
		time.Sleep(20 * time.Millisecond)
		if got := resentTo(t, lead, "b", newFakeLeader(t, ok), marker[0]); len(got) != 0 {
			t.Fatalf("the next leader got %d expired transactions", len(got))
		}
	})
}

// TestRelayKeepsTheDecodedTransaction: the relay keeps the transaction
// the RPC server decoded, not a copy decoded again from its bytes: the
// very *types.Transaction it was given (whose sender the member's pool
// recovered and cached) is what the member's pool gets when it leads,
// and the leader got the client's bytes unchanged. Before, the relay
// decoded the bytes again and recovered the sender a second time.
func TestRelayKeepsTheDecodedTransaction(t *testing.T) {
	raws, _ := transfers(t, "relay decoded once", 2)
	added := &addLog{}
	lead := &fakeLeadership{}
	r := newRelay(t, lead, fakePool{added: added}, nil)
	runRelay(t, r)
	a := newFakeLeader(t, ok)
	lead.set("a", a.URL)
	var given []*types.Transaction
	for _, raw := range raws {
		tx, b := decoded(t, raw)
		if err := r.Relay(context.Background(), tx, b, false); err != nil {
			t.Fatal(err)
		}
		given = append(given, tx)
	}
	if txs, _, _ := a.got(); !slices.Equal(txs, raws) {
		t.Fatalf("the leader got %v, want the client's bytes %v", txs, raws)
	}
	lead.leads.Store(true)
	deadline := time.Now().Add(10 * time.Second)
	for {
		added.mu.Lock()
		got := slices.Clone(added.txs)
		added.mu.Unlock()
		if len(got) > 0 {
			if len(got) != len(given) {
				t.Fatalf("the pool was given %d transactions, want %d", len(got), len(given))
			}
			for i := range got {
				if got[i] != given[i] {
					t.Fatalf("transaction %d reached the pool as a new copy (%p), not the one the relay was given (%p)", i, got[i], given[i])
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the member leads and its pool was not given what it relayed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
