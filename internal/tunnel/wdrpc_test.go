package tunnel_test

import (
	"context"
	"log/slog"
	"math/big"
	"net"
	"testing"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/node/indexadapt"
	"github.com/hemi-go/hemi/internal/rpc"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// rpcWithdrawal is hemi_getWithdrawal's JSON, every field.
type rpcWithdrawal = tunnel.WithdrawalJSON

// TestGetWithdrawalOverRPC follows one withdrawal through every state
// hemi_getWithdrawal reports (queued, in batch with signatures posted,
// confirmed with its confirmations, paid), asked over HTTP of a running
// JSON-RPC server on the sequencer's chain, checking every field against
// the chain and the Bitcoin index; an unknown id is null.
func TestGetWithdrawalOverRPC(t *testing.T) {
	s := newWDScenario(t)
	srv, err := rpc.New(rpc.Config{Logger: slog.New(slog.DiscardHandler),
		Withdrawals: &rpc.Withdrawals{Tunnel: s.tcfg, Vault: s.vaultV, Net: regtest, Index: indexadapt.NewWithdrawals(s.ix)}}, s.seq, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	rc, err := gethrpc.DialHTTP("http://" + ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	get := func(id uint64) *rpcWithdrawal {
		t.Helper()
		var w *rpcWithdrawal
		if err := rc.Call(&w, "hemi_getWithdrawal", hexutil.Uint64(id)); err != nil {
			t.Fatalf("hemi_getWithdrawal(%d): %v", id, err)
		}
		return w
	}

	user := s.user.Address
	dep := tx([]wire.OutPoint{s.coinbase()}, wire.NewTxOut(100_000_000, s.vault), wire.NewTxOut(0, opRet(user.Bytes())))
	s.mine(dep)
	for range 7 {
		s.mine()
	}
	s.l2(26)
	payTo := append([]byte{0x00, 0x14}, make([]byte, 20)...)
	payTo[2] = 0x77
	addr, err := address.NewAddressWitnessPubKeyHash(payTo[2:], regtest)
	if err != nil {
		t.Fatal(err)
	}
	burn := s.l2Tx(26, s.withdrawTx(payTo, 40_000_000, 50_000))
	if w := get(1); w != nil {
		t.Fatalf("unknown id: %+v", w)
	}
	w := get(0)
	if w.ID != 0 || w.Kind != "withdrawal" || w.Status != "queued" || w.From == nil || *w.From != user ||
		!bytesEq(w.Script, payTo) || w.Address != addr.EncodeAddress() || w.AmountSat != 40_000_000 || w.MaxFeeSat != 50_000 ||
		uint64(w.L2Block) != burn.NumberU64() || !w.Burned || w.Superfinal != nil || w.DepositTxid != "" || w.DepositVout != nil ||
		w.Batch != nil || w.Paid || w.PayoutTxid != "" || w.Confirmations != 0 {
		t.Fatalf("queued: %+v", w)
	}

	for s.seq.Head().Number.Uint64() < 30 {
		s.l2(26)
	}
	sf := s.publishSuperfinal()
	s.l2(sf)
	b, err := tunnel.ReadBatch(s.state(nil), s.tcfg.TunnelAddress)
	if err != nil || !b.Open {
		t.Fatalf("batch %+v %v", b, err)
	}
	payout, err := tunnel.BuildPayout(b, s.vaultV)
	if err != nil {
		t.Fatal(err)
	}
	// One signer posts (signatures 1 of k).
	sigs := make([][]byte, len(b.Inputs))
	for i := range sigs {
		sigs[i] = make([]byte, 64)
	}
	data, err := tunnel.PostSignaturesCalldata(b.Number, b.Attempt, 1, sigs)
	if err != nil {
		t.Fatal(err)
	}
	s.l2Tx(sf, s.userTx(data))
	w = get(0)
	if w.Status != "in batch" || w.Batch == nil || uint64(w.Batch.Number) != b.Number || w.Batch.Attempt != 0 ||
		uint64(w.Batch.FeeRate) != b.FeeRate || uint64(w.Batch.ValueSat) != b.Outputs[0].Value || w.Batch.Signatures != 1 ||
		int(w.Batch.K) != s.tcfg.K || w.PayoutTxid != payout.TxHash().String() || w.Confirmations != 0 || w.Paid {
		t.Fatalf("in batch: %+v (batch %+v)", w, w.Batch)
	}

	s.mine(payout)
	paidAt := s.height()
	s.mine()
	w = get(0)
	if w.Status != "confirmed" || w.PayoutTxid != payout.TxHash().String() || w.Confirmations != 2 || w.Paid || w.Batch == nil {
		t.Fatalf("confirmed: %+v", w)
	}
	conf := int32(s.tcfg.WithdrawalConfirmations)
	for s.height() < paidAt+conf+1 {
		s.mine()
	}
	s.l2(paidAt + conf - 1)
	w = get(0)
	if w.Status != "paid" || !w.Paid || w.PayoutTxid != payout.TxHash().String() || uint64(w.Confirmations) != uint64(s.height()-paidAt+1) ||
		w.Batch != nil || w.AmountSat != 40_000_000 {
		t.Fatalf("paid: %+v", w)
	}
}

func bytesEq(a, b []byte) bool { return string(a) == string(b) }

// userTx is the user's signed call of the tunnel with data.
func (s *wdScenario) userTx(data []byte) *types.Transaction {
	s.t.Helper()
	st := s.state(nil)
	to := s.tcfg.TunnelAddress
	tx, err := types.SignNewTx(s.user.Key, types.LatestSignerForChainID(new(big.Int).SetUint64(s.spec.Config.ChainID)),
		&types.DynamicFeeTx{Nonce: st.GetNonce(s.user.Address), GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(100_000_000_000),
			Gas: 500_000, To: &to, Data: data})
	if err != nil {
		s.t.Fatal(err)
	}
	return tx
}
