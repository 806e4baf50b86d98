package tunnel_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/tunnel"
)

func opRet(data []byte) []byte { return append([]byte{0x6a, byte(len(data))}, data...) }

func addrN(n byte) common.Address { return common.Address{0xde, 0x90, n, 1, 2, 3} }

// TestDepositCases runs every deposit case of DESIGN 6 through the chain:
// a sequencer derives them in the first L2 block whose view gives their
// Bitcoin block the confirmations, not before; a follower re-derives and
// accepts the block, and refuses it with any deposit changed.
func TestDepositCases(t *testing.T) {
	s := newDepScenario(t, 20, nil)
	vault := func(sat int64) *wire.TxOut { return wire.NewTxOut(sat, s.vault) }
	ret := func(data []byte) *wire.TxOut { return wire.NewTxOut(0, opRet(data)) }
	hexOf := func(a common.Address) string { return hex.EncodeToString(a[:]) }

	prep := tx([]wire.OutPoint{s.coinbase()}, wire.NewTxOut(1000, []byte{0x51})) // an output a refund cannot pay
	type want struct {
		kind   tunnel.DepositKind
		to     common.Address
		reason tunnel.Reason
	}
	cases := []struct {
		name  string
		tx    *wire.MsgTx
		wants map[uint32]want // by vault output index; none: not a deposit
	}{
		{"raw recipient", tx([]wire.OutPoint{s.coinbase()}, vault(100_000_000), ret(addrN(1).Bytes())),
			map[uint32]want{0: {tunnel.DepositMint, addrN(1), 0}}},
		{"hex lower case", tx([]wire.OutPoint{s.coinbase()}, ret([]byte(hexOf(addrN(2)))), vault(20_000)),
			map[uint32]want{1: {tunnel.DepositMint, addrN(2), 0}}},
		{"0x and upper case hex", tx([]wire.OutPoint{s.coinbase()}, vault(30_000), ret([]byte("0x"+strings.ToUpper(hexOf(addrN(3)))))),
			map[uint32]want{0: {tunnel.DepositMint, addrN(3), 0}}},
		{"0X prefix", tx([]wire.OutPoint{s.coinbase()}, vault(31_000), ret([]byte("0X"+hexOf(addrN(4))))),
			map[uint32]want{0: {tunnel.DepositMint, addrN(4), 0}}},
		{"first OP_RETURN that parses", tx([]wire.OutPoint{s.coinbase()}, ret([]byte{1, 2, 3}), ret(addrN(5).Bytes()), ret(addrN(6).Bytes()), vault(40_000)),
			map[uint32]want{3: {tunnel.DepositMint, addrN(5), 0}}},
		{"several vault outputs", tx([]wire.OutPoint{s.coinbase()}, vault(50_000), ret(addrN(7).Bytes()), vault(60_000), vault(70_000)),
			map[uint32]want{0: {tunnel.DepositMint, addrN(7), 0}, 2: {tunnel.DepositMint, addrN(7), 0}, 3: {tunnel.DepositMint, addrN(7), 0}}},
		{"no recipient", tx([]wire.OutPoint{s.coinbase()}, vault(50_000)),
			map[uint32]want{0: {tunnel.DepositRefund, common.Address{}, tunnel.ReasonNoRecipient}}},
		{"malformed recipient", tx([]wire.OutPoint{s.coinbase()}, vault(50_000), ret(addrN(8).Bytes()[:19])),
			map[uint32]want{0: {tunnel.DepositRefund, common.Address{}, tunnel.ReasonNoRecipient}}},
		{"under the minimum", tx([]wire.OutPoint{s.coinbase()}, vault(9_999), ret(addrN(9).Bytes())),
			map[uint32]want{0: {tunnel.DepositRefund, addrN(9), tunnel.ReasonBelowMinimum}}},
		{"dust after the refund fee", tx([]wire.OutPoint{s.coinbase()}, vault(300)),
			map[uint32]want{0: {tunnel.DepositRecord, common.Address{}, tunnel.ReasonRefundDust}}},
		{"non-standard refund script", tx([]wire.OutPoint{{Hash: prep.TxHash(), Index: 0}}, vault(5_000)),
			map[uint32]want{0: {tunnel.DepositRecord, common.Address{}, tunnel.ReasonRefundNonStandard}}},
	}
	txs := []*wire.MsgTx{prep}
	for _, c := range cases {
		txs = append(txs, c.tx)
	}
	// A transaction spending a vault output (the first case's) is never a
	// deposit, even paying the vault with a recipient.
	spender := tx([]wire.OutPoint{{Hash: cases[0].tx.TxHash(), Index: 0}}, vault(99_000_000), ret(addrN(10).Bytes()))
	txs = append(txs, spender)
	depBlock := s.mine(txs...) // height 21
	for range 7 {
		s.mine()
	}
	// Views 21..25 give block 21 fewer than 6 confirmations: nothing.
	for v := int32(21); v <= 25; v++ {
		b := s.l2(v)
		if d := deposits(b); len(d) != 0 {
			t.Fatalf("L2 block with view %d derived %d deposits before their confirmations", v, len(d))
		}
	}
	if got := s.hbtc(nil, addrN(1)); got != 0 {
		t.Fatalf("minted %d before the confirmations", got)
	}
	b := s.l2(26) // block 21 has 6 confirmations
	var wantCount int
	for _, c := range cases {
		wantCount += len(c.wants)
	}
	if d := deposits(b); len(d) != wantCount {
		t.Fatalf("%d deposits derived, want %d", len(d), wantCount)
	}
	st := s.state(b)
	ta := s.tcfg.TunnelAddress
	minted := map[common.Address]uint64{}
	for _, c := range cases {
		for vout, w := range c.wants {
			op := wire.OutPoint{Hash: c.tx.TxHash(), Index: vout}
			key := tunnel.DepositKey(op)
			amount := uint64(c.tx.TxOut[vout].Value)
			switch w.kind {
			case tunnel.DepositMint:
				m, ok := tunnel.ReadMinted(st, ta, key)
				if !ok || m.To != w.to || m.AmountSat != amount || m.L2Block != b.NumberU64() {
					t.Errorf("%s: vout %d minted %+v %v, want %v %d in block %d", c.name, vout, m, ok, w.to, amount, b.NumberU64())
				}
				minted[w.to] += amount
			default:
				set, ok := tunnel.ReadSettled(st, ta, key)
				kind := tunnel.SettledRefund
				if w.kind == tunnel.DepositRecord {
					kind = tunnel.SettledRecorded
				}
				if !ok || set.Kind != kind || set.Reason != uint8(w.reason) || set.AmountSat != amount {
					t.Errorf("%s: vout %d settled %+v %v, want kind %d reason %d", c.name, vout, set, ok, kind, w.reason)
				}
			}
		}
	}
	for a, sat := range minted {
		if got := s.hbtc(b, a); got != sat {
			t.Errorf("hBTC of %v: %d, want %d", a, got, sat)
		}
	}
	if got := s.hbtc(b, addrN(10)); got != 0 {
		t.Errorf("the vault spender's recipient got %d", got)
	}
	if tunnel.Processed(st, ta, tunnel.DepositKey(wire.OutPoint{Hash: spender.TxHash(), Index: 0})) {
		t.Error("a transaction spending a vault output was processed as a deposit")
	}
	if c := tunnel.ReadCursor(st, ta); c != (tunnel.Cursor{Height: 21}) {
		t.Errorf("cursor %+v, want height 21", c)
	}
	// The refunds go to the first input's previous output script.
	refundTo := map[string]bool{}
	rcpts, err := s.seq.Receipts(b.Hash())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rcpts {
		if r.Status != types.ReceiptStatusSuccessful {
			t.Fatalf("system tx %s failed", r.TxHash)
		}
		for _, l := range r.Logs {
			if l.Topics[0] == tunnel.TopicRefundQueued {
				vals, err := tunnel.TunnelABI.Events["RefundQueued"].Inputs.NonIndexed().Unpack(l.Data)
				if err != nil {
					t.Fatal(err)
				}
				refundTo[hex.EncodeToString(vals[2].([]byte))] = true
			}
		}
	}
	if len(refundTo) != 1 || !refundTo[hex.EncodeToString(s.funder)] {
		t.Errorf("refund scripts %v, want only the funder's %x", refundTo, s.funder)
	}
	// Nothing more is derived for them later.
	s.mine()
	next := s.l2(27)
	if d := deposits(next); len(d) != 0 {
		t.Fatalf("the next block derived %d deposits again", len(d))
	}

	// The follower refuses the deposit block with any deposit changed.
	variant := func(mut func([]*block.SystemTx) []*block.SystemTx) *chain.Block {
		h := types.CopyHeader(b.Header)
		body := &block.Body{Txs: slices.Clone(b.Body.Txs)}
		for _, stx := range b.Body.SystemTxs {
			body.SystemTxs = append(body.SystemTxs, stx.Copy())
		}
		body.SystemTxs = mut(body.SystemTxs)
		h.TxHash = block.TxRoot(body)
		if err := block.Seal(h, seqKey); err != nil {
			t.Fatal(err)
		}
		return &chain.Block{Header: h, Body: body}
	}
	first := slices.IndexFunc(b.Body.SystemTxs, func(stx *block.SystemTx) bool {
		return stx.SourceHash == sourceOf(wire.OutPoint{Hash: cases[0].tx.TxHash(), Index: 0})
	})
	if first < 0 {
		t.Fatal("the first deposit is missing")
	}
	bad := []struct {
		name string
		mut  func([]*block.SystemTx) []*block.SystemTx
	}{
		{"deposit dropped", func(x []*block.SystemTx) []*block.SystemTx { return slices.Delete(x, first, first+1) }},
		{"amount changed", func(x []*block.SystemTx) []*block.SystemTx {
			x[first].Data = tunnel.MintCalldata(wire.OutPoint{Hash: cases[0].tx.TxHash(), Index: 0}, addrN(1), 200_000_000)
			return x
		}},
		{"recipient changed", func(x []*block.SystemTx) []*block.SystemTx {
			x[first].Data = tunnel.MintCalldata(wire.OutPoint{Hash: cases[0].tx.TxHash(), Index: 0}, addrN(99), 100_000_000)
			return x
		}},
		{"deposits reordered", func(x []*block.SystemTx) []*block.SystemTx {
			x[first], x[first+1] = x[first+1], x[first]
			return x
		}},
		{"vault spend minted", func(x []*block.SystemTx) []*block.SystemTx {
			op := wire.OutPoint{Hash: spender.TxHash(), Index: 0}
			m := x[first].Copy()
			m.SourceHash, m.Data = sourceOf(op), tunnel.MintCalldata(op, addrN(10), 99_000_000)
			return slices.Insert(x, first+1, m)
		}},
		{"cursor not moved", func(x []*block.SystemTx) []*block.SystemTx { return slices.Delete(x, first-1, first) }},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			err := s.fol.InsertBlock(variant(tc.mut))
			if !errors.Is(err, chain.ErrBadSystemTxs) {
				t.Fatalf("got %v, want ErrBadSystemTxs", err)
			}
		})
	}
	if !bytes.Equal(depBlock.Transactions[1].TxOut[0].PkScript, []byte{0x51}) {
		t.Fatal("fixture order")
	}
}
