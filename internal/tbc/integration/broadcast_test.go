package integration

import (
	"bytes"
	"context"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcjson"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/btcdtest"
	"github.com/hemi-go/hemi/internal/btc/txgen"
)

// broadcastVia names the path a transaction takes into our service.
type broadcastVia string

const (
	viaService broadcastVia = "Service.Broadcast"
	viaAPI     broadcastVia = "POST /v1/tx"
)

// verdict is what our service reported for one broadcast.
type verdict struct {
	ok       bool
	accepted []string
	rejected []string // "peer: reason (code n)"
	codes    []wire.RejectCode
	reasons  []string
	summary  string
}

// broadcast sends tx through our service by the given path.
func broadcast(t *testing.T, n *node, via broadcastVia, tx *wire.MsgTx) verdict {
	t.Helper()
	ctx := context.Background()
	switch via {
	case viaService:
		res, err := n.svc.Broadcast(ctx, tx)
		if err != nil {
			t.Fatalf("Service.Broadcast %s: %v", tx.TxHash(), err)
		}
		v := verdict{ok: res.OK(), accepted: res.Accepted, summary: res.String()}
		for _, r := range res.Rejected {
			v.rejected = append(v.rejected, r.Peer+": "+r.Reason)
			v.codes = append(v.codes, r.Code)
			v.reasons = append(v.reasons, r.Reason)
		}
		return v
	case viaAPI:
		var raw bytes.Buffer
		if err := tx.Serialize(&raw); err != nil {
			t.Fatal(err)
		}
		rep, err := n.api.Broadcast(ctx, hex.EncodeToString(raw.Bytes()))
		if err != nil {
			t.Fatalf("POST /v1/tx %s: %v", tx.TxHash(), err)
		}
		if rep.Txid != tx.TxHash().String() {
			t.Errorf("POST /v1/tx: txid %s, want %s", rep.Txid, tx.TxHash())
		}
		return verdict{ok: rep.OK, accepted: rep.Accepted, rejected: rep.Rejected, summary: rep.Summary}
	}
	t.Fatalf("unknown path %q", via)
	return verdict{}
}

// TestBroadcastThroughOurClient broadcasts transactions to btcd through our
// service, in process and through the API: valid ones reach btcd's mempool
// and are then mined and indexed by us; a double spend and an 81-byte
// OP_RETURN (non-standard under --rejectnonstd) are reported rejected with
// the reason btcd gives for them (testmempoolaccept).
func TestBroadcastThroughOurClient(t *testing.T) {
	btcd := btcdtest.Start(t, btcdtest.Options{TxIndex: true, AddrIndex: true})
	w := newWallet(t, "broadcast")
	w.mine(btcd, 105)
	w.fund(btcd, 8)
	w.mine(btcd, 1)
	ours := startNode(t, "ours", t.TempDir(), btcd.P2PAddr())
	tip, _ := btcd.Tip()
	ours.waitTip(tip)

	// Each invalid transaction is distinct: btcd remembers rejected txids
	// and never asks for them again.
	coins := w.take(6)
	if len(coins) != 6 {
		t.Fatalf("wallet has %d coins, want 6", len(coins))
	}
	validSvc := w.spendTx(spendOpts{inputs: coins[0:1]})
	validAPI := w.spendTx(spendOpts{inputs: coins[1:2]})
	doubleSvc := w.spendTx(spendOpts{inputs: coins[0:1], extra: []*wire.TxOut{w.opReturn([]byte("double 1"))}})
	doubleAPI := w.spendTx(spendOpts{inputs: coins[1:2], extra: []*wire.TxOut{w.opReturn([]byte("double 2"))}})
	op81 := append([]byte{txscript.OP_RETURN, txscript.OP_PUSHDATA1, txgen.MaxOpReturn + 1}, bytes.Repeat([]byte{'h'}, txgen.MaxOpReturn+1)...)
	nonstdSvc := w.spendTx(spendOpts{inputs: coins[2:3], extra: []*wire.TxOut{wire.NewTxOut(0, op81)}})
	nonstdAPI := w.spendTx(spendOpts{inputs: coins[3:4], extra: []*wire.TxOut{wire.NewTxOut(0, op81)}})
	// 80 bytes is the standard maximum: accepted.
	op80 := w.spendTx(spendOpts{inputs: coins[4:5], extra: []*wire.TxOut{w.opReturn(bytes.Repeat([]byte{'h'}, txgen.MaxOpReturn))}})

	tests := []struct {
		name   string
		via    broadcastVia
		tx     *wire.MsgTx
		accept bool
		code   wire.RejectCode // for rejections
	}{
		{name: "valid spend", via: viaService, tx: validSvc, accept: true},
		{name: "valid spend", via: viaAPI, tx: validAPI, accept: true},
		{name: "80-byte OP_RETURN", via: viaService, tx: op80, accept: true},
		{name: "double spend", via: viaService, tx: doubleSvc, code: wire.RejectDuplicate},
		{name: "double spend", via: viaAPI, tx: doubleAPI, code: wire.RejectDuplicate},
		{name: "81-byte OP_RETURN", via: viaService, tx: nonstdSvc, code: wire.RejectNonstandard},
		{name: "81-byte OP_RETURN", via: viaAPI, tx: nonstdAPI, code: wire.RejectNonstandard},
	}
	var accepted []chainhash.Hash
	for _, tc := range tests {
		// Sequential: the double spends need the valid spends in btcd's
		// mempool first.
		t.Run(tc.name+" via "+string(tc.via), func(t *testing.T) {
			txid := tc.tx.TxHash()
			// btcd's own verdict, without changing its mempool.
			res, err := btcd.RPC().TestMempoolAccept([]*wire.MsgTx{tc.tx}, btcjson.BTCPerkvB(0))
			if err != nil || len(res) != 1 {
				t.Fatalf("testmempoolaccept: %v", err)
			}
			if res[0].Allowed != tc.accept {
				t.Fatalf("test setup: btcd testmempoolaccept allowed=%v (%s), want %v", res[0].Allowed, res[0].RejectReason, tc.accept)
			}
			v := broadcast(t, ours, tc.via, tc.tx)
			t.Logf("%s", v.summary)
			if v.ok != tc.accept {
				t.Fatalf("broadcast ok = %v, want %v: %s", v.ok, tc.accept, v.summary)
			}
			if tc.accept {
				if len(v.accepted) != 1 || len(v.rejected) != 0 {
					t.Errorf("accepted by %v, rejected by %v; want accepted by btcd %s only", v.accepted, v.rejected, btcd.P2PAddr())
				}
				btcd.WaitForMempool(txid)
				accepted = append(accepted, txid)
				return
			}
			if len(v.rejected) != 1 {
				t.Fatalf("rejections %v, want one from btcd", v.rejected)
			}
			if !strings.Contains(v.rejected[0], res[0].RejectReason) {
				t.Errorf("rejection %q does not carry btcd's reason %q", v.rejected[0], res[0].RejectReason)
			}
			if tc.via == viaService && v.codes[0] != tc.code {
				t.Errorf("reject code %v, want %v", v.codes[0], tc.code)
			}
			if tc.via == viaAPI && !strings.Contains(v.rejected[0], "(code "+strconv.Itoa(int(tc.code))+")") {
				t.Errorf("rejection %q lacks code %d", v.rejected[0], tc.code)
			}
			if in, err := inMempool(btcd, txid); err != nil || in {
				t.Errorf("rejected %s is in btcd's mempool (%v)", txid, err)
			}
		})
	}
	if len(accepted) != 3 {
		t.Fatalf("%d broadcasts accepted, want 3", len(accepted))
	}

	// btcd mines what we broadcast; we follow and index it.
	hs := w.mine(btcd, 1)
	ours.waitTip(hs[0])
	for _, txid := range accepted {
		got, err := ours.ix().TxByID(txid, chainhash.Hash{})
		if err != nil || got.BlockHash != hs[0] || got.Confirmations != 1 {
			t.Errorf("TxByID(%s) = block %s conf %d (%v), want mined in %s with 1 confirmation", txid, got.BlockHash, got.Confirmations, err, hs[0])
		}
		r, err := btcd.RPC().GetRawTransactionVerbose(&txid)
		if err != nil || r.BlockHash != hs[0].String() {
			t.Errorf("btcd getrawtransaction %s: block %v (%v), want %s", txid, r, err, hs[0])
		}
	}
	// The whole chain still matches btcd.
	s := takeSnapshot(t, btcd, w.addresses())
	compareIndex(t, ours.ix(), s, true, expectation{absent: []chainhash.Hash{doubleSvc.TxHash(), doubleAPI.TxHash(), nonstdSvc.TxHash(), nonstdAPI.TxHash()}})
}

func inMempool(btcd *btcdtest.TestNode, txid chainhash.Hash) (bool, error) {
	ids, err := btcd.RPC().GetRawMempool()
	if err != nil {
		return false, err
	}
	for _, id := range ids {
		if *id == txid {
			return true, nil
		}
	}
	return false, nil
}
