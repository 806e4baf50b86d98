package regtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hemi-go/hemi/internal/testtools/testkit"
)

func TestNewErrors(t *testing.T) {
	w := newWallet(t, "new")
	mainAddr, err := address.NewAddressWitnessPubKeyHash(make([]byte, 20), &chaincfg.MainNetParams)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	first := newNode(t, Config{Registerer: reg})
	mine(t, first, 2, w.addr)
	if got := testkit.MetricValue(t, reg, "hemi_btc_regtest_height"); got != 2 {
		t.Fatalf("height metric = %v, want 2", got)
	}
	if got := testkit.MetricValue(t, reg, "hemi_btc_regtest_blocks_mined_total"); got != 2 {
		t.Fatalf("mined metric = %v, want 2", got)
	}
	tests := []struct {
		name string
		cfg  Config
		want error
	}{
		{name: "negative interval", cfg: Config{MineInterval: -time.Second}, want: ErrConfig},
		{name: "interval without address", cfg: Config{MineInterval: time.Second}, want: ErrConfig},
		{name: "mainnet mining address", cfg: Config{MineInterval: time.Second, MiningAddr: mainAddr}, want: ErrConfig},
		{name: "negative fee", cfg: Config{MinRelayTxFee: -1}, want: ErrConfig},
		{name: "bad listen address", cfg: Config{ListenAddr: "256.0.0.1:1"}, want: nil},
		{name: "valid timer", cfg: Config{MineInterval: time.Second, MiningAddr: w.addr}},
		{name: "metrics registered twice", cfg: Config{Registerer: reg}, want: ErrConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Logger = quiet
			n, err := New(tc.cfg)
			if err == nil {
				defer n.Close()
			}
			switch {
			case tc.name == "bad listen address":
				if err == nil {
					t.Fatal("New succeeded with an unusable listen address")
				}
			case !errors.Is(err, tc.want):
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestMineAndSpend(t *testing.T) {
	n := newNode(t, Config{})
	w := newWallet(t, "spend")
	hs := mine(t, n, 101, w.addr)
	tip, height := n.Tip()
	if height != 101 || tip != hs[100] {
		t.Fatalf("tip = %s@%d, want %s@101", tip, height, hs[100])
	}
	for i, h := range hs {
		if got, ok := n.HeightOf(h); !ok || got != int32(i+1) {
			t.Fatalf("HeightOf(block %d) = %d, %v", i+1, got, ok)
		}
	}

	cb1 := coinbaseUTXO(t, n, 1)
	tx := w.spend(t, []utxo{cb1}, 10_000)
	if err := n.SubmitTx(tx); err != nil {
		t.Fatalf("SubmitTx: %v", err)
	}
	if got, err := n.MempoolTx(tx.TxHash()); err != nil || got.TxHash() != tx.TxHash() {
		t.Fatalf("MempoolTx = %v, %v", got, err)
	}

	rejects := []struct {
		name string
		tx   *wire.MsgTx
		code wire.RejectCode
	}{
		{name: "duplicate", tx: tx, code: wire.RejectDuplicate},
		{name: "double spend", tx: w.spend(t, []utxo{cb1}, 20_000), code: wire.RejectDuplicate},
		{name: "immature coinbase", tx: w.spend(t, []utxo{coinbaseUTXO(t, n, 100)}, 10_000), code: wire.RejectInvalid},
		{name: "no fee", tx: w.spend(t, []utxo{coinbaseUTXO(t, n, 2)}, 0), code: wire.RejectInsufficientFee},
		{name: "missing input", tx: w.spend(t, []utxo{{op: wire.OutPoint{Hash: chainhash.Hash{1}}, value: 1e8}}, 10_000), code: wire.RejectDuplicate},
	}
	for _, tc := range rejects {
		t.Run(tc.name, func(t *testing.T) {
			err := n.SubmitTx(tc.tx)
			var re *TxRejectError
			if !errors.Is(err, ErrTxRejected) || !errors.As(err, &re) {
				t.Fatalf("err = %v, want a TxRejectError", err)
			}
			if re.Code != tc.code {
				t.Logf("reason: %s", re.Reason)
				t.Fatalf("code = %v, want %v", re.Code, tc.code)
			}
		})
	}

	mined := mine(t, n, 1, w.addr)
	b, err := n.Block(mined[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Transactions) != 2 || b.Transactions[1].TxHash() != tx.TxHash() {
		t.Fatalf("mined block has %d txs, want coinbase + the spend", len(b.Transactions))
	}
	if b.Transactions[1].WitnessHash() != tx.WitnessHash() {
		t.Fatal("mined tx lost its witness")
	}
	if _, err := n.MempoolTx(tx.TxHash()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("mined tx still in mempool: %v", err)
	}
	// Its outputs are spendable at once.
	child := w.spend(t, w.outputs(tx), 10_000)
	if err := n.SubmitTx(child); err != nil {
		t.Fatalf("spend of confirmed output: %v", err)
	}
}

func TestOpReturnPolicy(t *testing.T) {
	n := newNode(t, Config{})
	w := newWallet(t, "opreturn")
	mine(t, n, 110, w.addr)
	pop := append([]byte{txscript.OP_RETURN, txscript.OP_PUSHDATA1, 0x50}, append([]byte("HEMI"), make([]byte, 76)...)...)
	tests := []struct {
		name   string
		out    *wire.TxOut
		reject bool
	}{
		{name: "80 data bytes", out: opReturn(t, 80)},
		{name: "PoP keystone script", out: wire.NewTxOut(0, pop)},
		{name: "1 data byte", out: opReturn(t, 1)},
		{name: "81 data bytes", out: opReturn(t, 81), reject: true},
		{name: "200 data bytes", out: opReturn(t, 200), reject: true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.out.PkScript) == 83 && !txscript.IsNullData(tc.out.PkScript) {
				t.Fatal("83-byte script is not null data")
			}
			tx := w.spend(t, []utxo{coinbaseUTXO(t, n, int32(i+1))}, 10_000, tc.out)
			err := n.SubmitTx(tx)
			if !tc.reject {
				if err != nil {
					t.Fatalf("SubmitTx: %v", err)
				}
				return
			}
			var re *TxRejectError
			if !errors.As(err, &re) || re.Code != wire.RejectNonstandard {
				t.Fatalf("err = %v, want a nonstandard rejection", err)
			}
		})
	}
}

func TestInvalidateBlockReorg(t *testing.T) {
	n := newNode(t, Config{})
	w := newWallet(t, "reorg")
	other := newWallet(t, "reorg-other")
	mine(t, n, 110, w.addr)
	tx := w.spend(t, []utxo{coinbaseUTXO(t, n, 1)}, 10_000)
	if err := n.SubmitTx(tx); err != nil {
		t.Fatal(err)
	}
	old := mine(t, n, 6, w.addr) // heights 111..116, tx in 111
	oldTip, _ := n.Tip()

	if err := n.InvalidateBlock(old[0]); err != nil {
		t.Fatalf("InvalidateBlock: %v", err)
	}
	tip, height := n.Tip()
	if height != 110 {
		t.Fatalf("height after invalidate = %d, want 110", height)
	}
	if _, err := n.MempoolTx(tx.TxHash()); err != nil {
		t.Fatalf("tx of the invalidated block is not back in the mempool: %v", err)
	}
	fork := mine(t, n, 7, other.addr)
	tip, height = n.Tip()
	if height != 117 || tip != fork[6] {
		t.Fatalf("tip = %s@%d, want fork tip %s@117", tip, height, fork[6])
	}
	b, err := n.Block(fork[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Transactions) != 2 || b.Transactions[1].TxHash() != tx.TxHash() {
		t.Fatal("the fork did not re-mine the returned tx")
	}
	for _, h := range old {
		if _, ok := n.HeightOf(h); ok {
			t.Fatalf("invalidated block %s still on the best chain", h)
		}
		if _, err := n.Header(h); err != nil {
			t.Fatalf("header of invalidated block: %v", err)
		}
		if _, err := n.RawBlock(h); err != nil {
			t.Fatalf("raw invalidated block: %v", err)
		}
	}
	if _, err := n.Header(oldTip); err != nil {
		t.Fatal(err)
	}

	errs := []struct {
		name string
		hash chainhash.Hash
		want error
	}{
		{name: "unknown block", hash: chainhash.Hash{1, 2, 3}, want: ErrNotFound},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			if err := n.InvalidateBlock(tc.hash); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if err := n.InvalidateBlock(*params().GenesisHash); err == nil {
		t.Fatal("invalidating genesis succeeded")
	}
}

func TestMineErrors(t *testing.T) {
	n := newNode(t, Config{})
	w := newWallet(t, "errors")
	mainAddr, _ := address.NewAddressWitnessPubKeyHash(make([]byte, 20), &chaincfg.MainNetParams)
	tests := []struct {
		name  string
		count int
		addr  address.Address
	}{
		{name: "zero blocks", count: 0, addr: w.addr},
		{name: "too many blocks", count: MaxMinePerCall + 1, addr: w.addr},
		{name: "nil address", count: 1, addr: nil},
		{name: "mainnet address", count: 1, addr: mainAddr},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := n.Mine(tc.count, tc.addr); !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
		})
	}
	if _, h := n.Tip(); h != 0 {
		t.Fatalf("height = %d after failed mining, want 0", h)
	}
}

func TestLookupsNotFound(t *testing.T) {
	n := newNode(t, Config{})
	unknown := chainhash.Hash{9}
	if _, err := n.Header(unknown); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Header: %v", err)
	}
	if _, err := n.RawBlock(unknown); !errors.Is(err, ErrNotFound) {
		t.Fatalf("RawBlock: %v", err)
	}
	if _, err := n.Block(unknown); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Block: %v", err)
	}
	if _, err := n.MempoolTx(unknown); !errors.Is(err, ErrNotFound) {
		t.Fatalf("MempoolTx: %v", err)
	}
	if _, ok := n.HashAt(1); ok {
		t.Fatal("HashAt(1) on an empty chain")
	}
	if _, ok := n.HeightOf(unknown); ok {
		t.Fatal("HeightOf(unknown)")
	}
}

func TestCloseAndReopen(t *testing.T) {
	dir := t.TempDir()
	w := newWallet(t, "reopen")
	n, err := New(Config{DataDir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	hs := mine(t, n, 5, w.addr)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := n.Mine(1, w.addr); !errors.Is(err, ErrClosed) {
		t.Fatalf("Mine after Close: %v", err)
	}
	if err := n.SubmitTx(wire.NewMsgTx(2)); !errors.Is(err, ErrClosed) {
		t.Fatalf("SubmitTx after Close: %v", err)
	}

	n2 := newNode(t, Config{DataDir: dir})
	tip, height := n2.Tip()
	if height != 5 || tip != hs[4] {
		t.Fatalf("reopened tip = %s@%d, want %s@5", tip, height, hs[4])
	}
	mine(t, n2, 1, w.addr)
}

func TestMineTimer(t *testing.T) {
	w := newWallet(t, "timer")
	n := newNode(t, Config{MineInterval: 20 * time.Millisecond, MiningAddr: w.addr})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, h := n.Tip(); h >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("timer mined fewer than 3 blocks in 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := n.Mine(1, w.addr); !errors.Is(err, ErrClosed) {
		t.Fatalf("Mine after Run returned: %v", err)
	}
}

func TestMineToScript(t *testing.T) {
	n := newNode(t, Config{})
	popScript := append([]byte{txscript.OP_RETURN, txscript.OP_PUSHDATA1, 0x50}, make([]byte, 80)...)
	tests := []struct {
		name    string
		script  []byte
		wantErr error
	}{
		{name: "anyone can spend", script: []byte{txscript.OP_TRUE}},
		{name: "taproot", script: append([]byte{txscript.OP_1, txscript.OP_DATA_32}, make([]byte, 32)...)},
		{name: "unspendable", script: popScript},
		{name: "empty", script: nil, wantErr: ErrConfig},
		{name: "oversized", script: make([]byte, txscript.MaxScriptSize+1), wantErr: ErrConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs, err := n.MineToScript(1, tc.script)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			b, err := n.Block(hs[0])
			if err != nil {
				t.Fatal(err)
			}
			if got := b.Transactions[0].TxOut[0].PkScript; string(got) != string(tc.script) {
				t.Fatalf("coinbase pays %x, want %x", got, tc.script)
			}
		})
	}
}

func TestReconsiderBlock(t *testing.T) {
	n := newNode(t, Config{})
	w := newWallet(t, "reconsider")
	hs := mine(t, n, 3, w.addr)
	if err := n.InvalidateBlock(hs[1]); err != nil {
		t.Fatal(err)
	}
	if tip, _ := n.Tip(); tip != hs[0] {
		t.Fatalf("tip after invalidate = %s, want %s", tip, hs[0])
	}
	if err := n.ReconsiderBlock(hs[1]); err != nil {
		t.Fatal(err)
	}
	if tip, _ := n.Tip(); tip != hs[2] {
		t.Fatalf("tip after reconsider = %s, want %s", tip, hs[2])
	}
	if err := n.ReconsiderBlock(chainhash.Hash{4}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("reconsider unknown: %v", err)
	}
}

// TestDropMempool: a transaction a reorg returned to the mempool is gone
// after DropMempool (with its child), stays out of the next block, and is
// accepted again when re-submitted.
func TestDropMempool(t *testing.T) {
	n := newNode(t, Config{})
	w := newWallet(t, "drop")
	mine(t, n, 110, w.addr)
	tx := w.spend(t, []utxo{coinbaseUTXO(t, n, 1)}, 10_000)
	if err := n.SubmitTx(tx); err != nil {
		t.Fatal(err)
	}
	old := mine(t, n, 1, w.addr)
	if err := n.InvalidateBlock(old[0]); err != nil {
		t.Fatal(err)
	}
	child := w.spend(t, []utxo{{op: wire.OutPoint{Hash: tx.TxHash(), Index: 0}, value: tx.TxOut[0].Value}}, 10_000)
	if err := n.SubmitTx(child); err != nil {
		t.Fatal(err)
	}
	if got := len(n.MempoolTxids()); got != 2 {
		t.Fatalf("mempool holds %d transactions after the reorg, want the returned one and its child", got)
	}
	dropped, err := n.DropMempool()
	if err != nil || dropped != 2 {
		t.Fatalf("DropMempool = %d, %v; want 2", dropped, err)
	}
	if ids := n.MempoolTxids(); len(ids) != 0 {
		t.Fatalf("mempool after DropMempool: %v", ids)
	}
	if _, err := n.MempoolTx(tx.TxHash()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("MempoolTx of the dropped tx: %v, want ErrNotFound", err)
	}
	next := mine(t, n, 1, w.addr)
	if b, err := n.Block(next[0]); err != nil || len(b.Transactions) != 1 {
		t.Fatalf("block after DropMempool: %v, %d txs; want the coinbase only", err, len(b.Transactions))
	}
	if err := n.SubmitTx(tx); err != nil {
		t.Fatalf("re-submitting the dropped tx: %v", err)
	}
	if _, err := n.MempoolTx(tx.TxHash()); err != nil {
		t.Fatal(err)
	}
	n.Close()
	if _, err := n.DropMempool(); !errors.Is(err, ErrClosed) {
		t.Fatalf("DropMempool after Close: %v, want ErrClosed", err)
	}
}
