package devnettest

import (
	"context"
	"errors"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/testtools/testkit"
)

// TestFollowerForwardsTransactions: a transaction sent to a follower's
// JSON-RPC is mined by the sequencer (issue 10: followers kept them in
// their own pool, never mined); the follower tries its sequencer URLs in
// order (a dead one first); a bad transaction gets the follower's own
// error without reaching the sequencer; a follower whose sequencer is
// unreachable answers a clear error within its timeout.
func TestFollowerForwardsTransactions(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a regtest node, a sequencer and two followers with their indexers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, log := testkit.TestLog(t, "the stack", slog.LevelInfo, 80)
	s, err := StartStack(ctx, sequencerConfig(log))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	// The sequencer behind a proxy that counts what reaches it.
	target, err := url.Parse(s.RPCURL)
	if err != nil {
		t.Fatal(err)
	}
	var reached atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(target)
	ps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(ps.Close)
	dead := deadURL(t)

	f := startForwardingFollower(t, ctx, s, "follower", log, []string{dead, ps.URL})
	lost := startForwardingFollower(t, ctx, s, "follower-lost", log, []string{dead})
	waitFollowing(ctx, t, s, []*follower{f, lost})

	fc, err := ethclient.DialContext(ctx, f.RPCURL)
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	chainID := new(big.Int).SetUint64(s.L2.Spec.Config.ChainID)
	acct := s.L2.Accounts[7]
	to := common.HexToAddress("0x00000000000000000000000000000000000f0a4d")
	transfer := func(nonce uint64, id *big.Int, value *big.Int) *types.Transaction {
		tx, err := types.SignNewTx(acct.Key, types.LatestSignerForChainID(id), &types.DynamicFeeTx{ChainID: id, Nonce: nonce,
			GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(100e9), Gas: 21000, To: &to, Value: value})
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}

	// A good transaction: forwarded (past the dead URL) and mined.
	nonce, err := fc.PendingNonceAt(ctx, acct.Address)
	if err != nil {
		t.Fatal(err)
	}
	good := transfer(nonce, chainID, big.NewInt(12345))
	if err := fc.SendTransaction(ctx, good); err != nil {
		t.Fatalf("follower refused a good transaction: %v", err)
	}
	// Kept in the follower's pool for reads until it is mined.
	if got, _, err := fc.TransactionByHash(ctx, good.Hash()); err != nil || got.Hash() != good.Hash() {
		t.Fatalf("the follower does not show the transaction it forwarded: %v", err)
	}
	if reached.Load() == 0 {
		t.Fatal("the follower answered a good transaction without reaching the sequencer")
	}
	waitFor(ctx, t, "the forwarded transaction mined by the sequencer", func() bool {
		_, err := s.L2.Chain.TxLookup(good.Hash())
		return err == nil
	})
	waitFor(ctx, t, "the forwarded transaction's receipt on the follower", func() bool {
		r, err := fc.TransactionReceipt(ctx, good.Hash())
		return err == nil && r.Status == types.ReceiptStatusSuccessful
	})

	// Bad transactions: the follower's own errors, nothing sent on.
	before := reached.Load()
	for _, tc := range []struct {
		name string
		tx   *types.Transaction
		want string
	}{
		{"nonce below the state's", transfer(nonce, chainID, big.NewInt(1)), "nonce too low"},
		{"another chain", transfer(nonce+1, big.NewInt(1), big.NewInt(1)), "invalid chain id"},
		{"funds below the max cost", transfer(nonce+1, chainID, new(big.Int).Lsh(big.NewInt(1), 200)), "insufficient funds"},
	} {
		err := fc.SendTransaction(ctx, tc.tx)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	if n := reached.Load(); n != before {
		t.Errorf("bad transactions reached the sequencer (%d requests)", n-before)
	}

	// A follower whose only sequencer URL is dead: a clear error, in time.
	lc, err := gethrpc.DialContext(ctx, lost.RPCURL)
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	raw, err := transfer(nonce+1, chainID, big.NewInt(1)).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	defer scancel()
	var h common.Hash
	err = lc.CallContext(sctx, &h, "eth_sendRawTransaction", "0x"+common.Bytes2Hex(raw))
	var rerr gethrpc.Error
	if err == nil || !errors.As(err, &rerr) || !strings.Contains(err.Error(), "sequencer unreachable") {
		t.Fatalf("unreachable sequencer: got %v, want a JSON-RPC error naming the unreachable sequencer", err)
	}
}

// deadURL is an http URL where nothing listens (a port just closed).
func deadURL(t *testing.T) string {
	t.Helper()
	return "http://" + testkit.FreeAddr(t)
}
