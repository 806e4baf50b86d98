package ha

import (
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/testtools/testkit"
)

// signedTransfer is a transfer signed for the chain id of cc, and its
// encoding.
func signedTransfer(t testing.TB, cc *params.ChainConfig, nonce uint64) (*types.Transaction, []byte) {
	t.Helper()
	key, err := crypto.ToECDSA(crypto.Keccak256([]byte("relay signer")))
	if err != nil {
		t.Fatal(err)
	}
	tx, err := types.SignNewTx(key, types.LatestSigner(cc), &types.DynamicFeeTx{ChainID: cc.ChainID, Nonce: nonce, To: &common.Address{1},
		Gas: params.TxGas, GasFeeCap: big.NewInt(params.GWei), GasTipCap: big.NewInt(1)})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := tx.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return tx, raw
}

// TestRelaySigner: the signer keptSet.add asks for a relayed
// transaction's sender equals the one the member's pool recovered it with
// (legacypool's types.LatestSigner of the chain config), so the sender
// comes from the cache inside the transaction and a relayed transaction
// costs one recovery. Should a fork give LatestSigner another signer, the
// relay would recover every sender a second time: this test says so.
func TestRelaySigner(t *testing.T) {
	cc := (&genesis.Config{ChainID: 743111}).ChainConfig()
	pool, relay := types.LatestSigner(cc), types.LatestSignerForChainID(cc.ChainID)
	if !pool.Equal(relay) {
		t.Fatalf("the pool's signer %T and the relay's %T differ: the relay recovers each sender again", pool, relay)
	}
	tx, raw := signedTransfer(t, cc, 0)
	want, err := types.Sender(pool, tx) // as the pool does
	if err != nil {
		t.Fatal(err)
	}
	k := newKeptSet(10, 1<<20, newKeptMetrics(nil))
	if _, err := k.add(tx, raw, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got := k.list(); len(got) != 1 || got[0].from != want || got[0].tx != tx {
		t.Fatalf("kept %+v, want tx from %s kept as given", got, want)
	}
}

// BenchmarkRelayKeep is the cost of keeping one relayed transaction, as
// the relay does now (the pool's decoded transaction, its sender cached)
// against what it did before (decode the bytes, recover the sender); it
// prints their ratio.
func BenchmarkRelayKeep(b *testing.B) {
	cc := (&genesis.Config{ChainID: 743111}).ChainConfig()
	const n = 256
	type pair struct {
		tx  *types.Transaction
		raw []byte
	}
	txs := make([]pair, n)
	for i := range txs {
		tx, raw := signedTransfer(b, cc, uint64(i))
		if _, err := types.Sender(types.LatestSigner(cc), tx); err != nil { // the pool's recovery
			b.Fatal(err)
		}
		txs[i] = pair{tx, raw}
	}
	var decoded, again time.Duration
	now := time.Now()
	for i := 0; b.Loop(); i++ {
		p := txs[i%n]
		k := newKeptSet(n, 1<<30, newKeptMetrics(nil))
		start := time.Now()
		if _, err := k.add(p.tx, p.raw, now); err != nil {
			b.Fatal(err)
		}
		decoded += time.Since(start)
		start = time.Now()
		tx := new(types.Transaction)
		if err := tx.UnmarshalBinary(p.raw); err != nil {
			b.Fatal(err)
		}
		if _, err := k.add(tx, p.raw, now); err != nil { // recovers: a fresh copy has no cached sender
			b.Fatal(err)
		}
		again += time.Since(start)
	}
	b.ReportMetric(float64(decoded.Nanoseconds())/float64(b.N), "ns/keep")
	b.ReportMetric(float64(again.Nanoseconds())/float64(b.N), "ns/keep_before")
	b.ReportMetric(float64(again)/float64(decoded), "ratio")
}

// TestKeptMetrics: the kept transactions' gauges follow every add and
// prune, and drops are counted by reason; mined transactions leave the
// gauges but are no drop.
func TestKeptMetrics(t *testing.T) {
	cc := (&genesis.Config{ChainID: 743111}).ChainConfig()
	reg := prometheus.NewRegistry()
	k := newKeptSet(2, 1<<20, newKeptMetrics(reg))
	var raws [][]byte
	now := time.Now()
	for i := range 4 {
		tx, raw := signedTransfer(t, cc, uint64(i))
		raws = append(raws, raw)
		if _, err := k.add(tx, raw, now.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	st, err := state.New(types.EmptyRootHash, state.NewDatabaseForTesting())
	if err != nil {
		t.Fatal(err)
	}
	from, _ := types.Sender(types.LatestSigner(cc), mustTx(t, raws[0]))
	st.SetNonce(from, 3, tracing.NonceChangeUnspecified) // nonce 2 mined, 3 not
	type want struct{ txs, bytes, oldest, expired float64 }
	check := func(step string, w want) {
		t.Helper()
		got := want{
			txs:     testkit.MetricValue(t, reg, "hemi_ha_relay_kept_txs"),
			bytes:   testkit.MetricValue(t, reg, "hemi_ha_relay_kept_bytes"),
			oldest:  testkit.MetricValue(t, reg, "hemi_ha_relay_kept_dropped_total", "reason", "oldest"),
			expired: testkit.MetricValue(t, reg, "hemi_ha_relay_kept_dropped_total", "reason", "expired"),
		}
		if got != w {
			t.Errorf("%s: %+v, want %+v", step, got, w)
		}
	}
	check("4 added, 2 kept", want{2, float64(len(raws[2]) + len(raws[3])), 2, 0})
	k.prune(st, now.Add(3*time.Minute), time.Hour)
	check("one mined", want{1, float64(len(raws[3])), 2, 0})
	k.prune(nil, now.Add(2*time.Hour), time.Hour)
	check("the last expired", want{0, 0, 2, 1})
}

// mustTx decodes raw.
func mustTx(t *testing.T, raw []byte) *types.Transaction {
	t.Helper()
	tx := new(types.Transaction)
	if err := tx.UnmarshalBinary(raw); err != nil {
		t.Fatal(err)
	}
	return tx
}
