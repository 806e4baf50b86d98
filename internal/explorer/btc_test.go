package explorer

import (
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/mempool"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// TestBitcoinPages: the Bitcoin block and transaction pages show what
// the node's index holds (height, confirmations, size, transactions, the
// keystone a block publishes) and what the transactions' builder paid:
// the fee txgen computed, the vsize btcd's mempool computes, addresses
// as btcd encodes them, and the spend of each output.
func TestBitcoinPages(t *testing.T) {
	e := newEnv(t)
	f := e.bf
	ix := f.ix
	_, tip := ix.BlockTip()
	b4 := f.blocks[3]
	h4 := b4.BlockHash()
	hi, err := ix.Header(h4)
	if err != nil {
		t.Fatal(err)
	}
	e.page("/btc/block/"+h4.String(),
		fmt.Sprintf(`id="height">%d<`, hi.Height),
		fmt.Sprintf(`id="confirmations">%d<`, tip-hi.Height+1),
		fmt.Sprintf(`id="txCount">%d<`, len(b4.Transactions)),
		fmt.Sprintf(`id="size">%d bytes`, b4.SerializeSize()),
		`href="/btc/block/`+f.blocks[4].BlockHash().String()+`" rel="next"`,
		`href="/btc/block/`+b4.Header.PrevBlock.String()+`" rel="prev"`,
		`href="/block/25"`, // the keystone it publishes
		`href="/btc/tx/`+f.pay.TxHash().String()+`"`, `href="/btc/tx/`+f.popTx.TxHash().String()+`"`,
		`href="/btc/tx/`+f.deposit.TxHash().String()+`"`, ">PoP<", ">coinbase<")

	// The payment: fee, sat/vB, confirmations, block, addresses, values.
	ti, err := ix.TxByID(f.pay.TxHash(), chainhash.Hash{})
	if err != nil {
		t.Fatal(err)
	}
	vsize := mempool.GetTxVirtualSize(btcutil.NewTx(f.pay))
	payee := address(t, f.payTo, e)
	cb1 := f.blocks[0].Transactions[0]
	body := e.page("/btc/tx/"+f.pay.TxHash().String(),
		fmt.Sprintf(`id="confirmations">%d<`, ti.Confirmations),
		fmt.Sprintf(`id="block">%d<`, ti.Height),
		fmt.Sprintf(`id="fee">%s BTC (%d sat)`, btcAmount(f.payFee), f.payFee),
		fmt.Sprintf(`id="feerate">%s sat/vB`, strconv.FormatFloat(float64(f.payFee)/float64(vsize), 'f', 2, 64)),
		fmt.Sprintf(`%d bytes, %d vB`, f.pay.SerializeSize(), vsize),
		payee, "1.23456789", btcAmount(cb1.TxOut[0].Value), address(t, cb1.TxOut[0].PkScript, e),
		"witness_v1_taproot", "unspent")
	if strings.Contains(body, "PoP publication") {
		t.Error("a payment shown as a PoP publication")
	}
	// The coinbase it spends: spent by the payment, no fee.
	e.page("/btc/tx/"+cb1.TxHash().String(), `id="fee">none (coinbase)`, `href="/btc/tx/`+f.pay.TxHash().String()+`"`, "coinbase")

	// The PoP publication: the keystone and the L2 block it names.
	id := f.ks.ID()
	e.page("/btc/tx/"+f.popTx.TxHash().String(), "PoP publication", fmt.Sprintf("%x", id[:8]), `keystone of <a href="/block/25">`)

	// Pages of the block's transactions: none of this chain's fit more.
	if code, _, _ := e.get("/btc/block/" + h4.String() + "?page=9"); code != http.StatusOK {
		t.Errorf("page 9 of a one-page block: %d", code)
	}
}

// address is the address script pays, as btcd encodes it.
func address(t *testing.T, script []byte, e *env) string {
	t.Helper()
	_, addrs, _, err := txscript.ExtractPkScriptAddrs(script, e.bf.params)
	if err != nil || len(addrs) != 1 {
		t.Fatalf("script %x: %v %v", script, addrs, err)
	}
	return addrs[0].EncodeAddress()
}

// TestBitcoinSearch: the box finds a Bitcoin block by hash, a Bitcoin
// transaction by txid and a deposit by outpoint.
func TestBitcoinSearch(t *testing.T) {
	e := newEnv(t)
	f := e.bf
	h4 := f.blocks[3].BlockHash().String()
	txid := f.deposit.TxHash().String()
	for q, want := range map[string]string{
		h4:                                      "/btc/block/" + h4,
		strings.ToUpper(h4):                     "/btc/block/" + h4,
		txid:                                    "/btc/tx/" + txid,
		txid + ":0":                             "/deposit/" + txid + ":0",
		" " + txid + ":1 ":                      "/deposit/" + txid + ":1",
		strings.Repeat("cd", 32):                "/btc/tx/" + strings.Repeat("cd", 32), // not indexed: its page says so
		"0x" + f.blocks[3].BlockHash().String(): "",
	} {
		code, _, hdr := e.get("/search?q=" + strings.ReplaceAll(q, " ", "+"))
		if want == "" {
			if code != http.StatusNotFound {
				t.Errorf("search %q: %d to %q, want not found", q, code, hdr.Get("Location"))
			}
			continue
		}
		if code != http.StatusFound || hdr.Get("Location") != want {
			t.Errorf("search %q: %d to %q, want %q", q, code, hdr.Get("Location"), want)
		}
	}
}

// TestDecodeSystem: each kind of system transaction is named, and the
// tunnel's are decoded with the deposit or payout they concern.
func TestDecodeSystem(t *testing.T) {
	tun := genesis.DefaultTunnelAddress
	op := wire.OutPoint{Hash: chainhash.Hash{0xde, 0xad}, Index: 3}
	spender := chainhash.Hash{0xbe, 0xef}
	to := common.HexToAddress("0x00000000000000000000000000000000000a11ce")
	must := func(b []byte, err error) []byte {
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	view := genesis.HVMStateAddress
	for _, tc := range []struct {
		name          string
		stx           *block.SystemTx
		kind, detail  string
		deposit, paid string
	}{
		{"view update", &block.SystemTx{To: &view, Data: []byte{1, 2, 3, 4}}, "Bitcoin view update", "", "", ""},
		{"pop reward", &block.SystemTx{To: &to, Mint: big.NewInt(5)}, "PoP reward", "", "", ""},
		{"mint", &block.SystemTx{To: &tun, Data: tunnel.MintCalldata(op, to, 150_000_000)}, "deposit (mint)",
			"1.5 BTC to " + to.Hex(), op.String(), ""},
		{"refund", &block.SystemTx{To: &tun, Data: tunnel.RefundDepositCalldata(op, to, []byte{0, 0x14}, 9_000, uint8(tunnel.ReasonBelowMinimum))},
			"deposit refund", "0.00009 BTC, below the minimum deposit", op.String(), ""},
		{"record", &block.SystemTx{To: &tun, Data: tunnel.RecordDepositCalldata(op, to, 100, uint8(tunnel.ReasonRefundDust))},
			"deposit recorded", "0.000001 BTC, refund below dust after its fee", op.String(), ""},
		{"fee rate", &block.SystemTx{To: &tun, Data: tunnel.SetFeeRateCalldata(4, 812)}, "fee rate", "4 sat/vB as of Bitcoin height 812", "", ""},
		{"cursor", &block.SystemTx{To: &tun, Data: tunnel.SetDepositCursorCalldata(tunnel.Cursor{Height: 9, TxPos: 2, Vout: 1})}, "deposit cursor",
			"Bitcoin height 9, tx 2, output 1", "", ""},
		{"paid", &block.SystemTx{To: &tun, Data: must(tunnel.MarkPaidCalldata(7, 1, spender))}, "paid marker", "batch 7 attempt 1 paid", "", spender.String()},
		{"vault spend", &block.SystemTx{To: &tun, Data: must(tunnel.FlagVaultSpendCalldata(spender, op, 2_000, false))}, "vault-spend flag",
			"vault output " + op.String() + " (0.00002 BTC) spent outside a batch", "", spender.String()},
		{"shortfall", &block.SystemTx{To: &tun, Data: must(tunnel.FlagShortfallCalldata(10, 20))}, "shortfall flag",
			"vault holds 0.0000001 BTC, owes 0.0000002 BTC", "", ""},
		{"unknown selector", &block.SystemTx{To: &tun, Data: []byte{9, 9, 9, 9}}, "system", "", "", ""},
		{"truncated mint", &block.SystemTx{To: &tun, Data: tunnel.MintCalldata(op, to, 1)[:40]}, "deposit (mint)", "", "", ""},
		{"no data", &block.SystemTx{To: &tun}, "system", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := decodeSystem(tc.stx)
			if c.Kind != tc.kind || c.Detail != tc.detail || c.Deposit != tc.deposit || c.Payout != tc.paid {
				t.Errorf("got %+v, want kind %q detail %q deposit %q payout %q", c, tc.kind, tc.detail, tc.deposit, tc.paid)
			}
		})
	}
}
