package tunnel

import (
	"bytes"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/mempool"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
)

var (
	testRecipient = common.HexToAddress("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
	otherAddr     = common.HexToAddress("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC")
	// Scripts of each refundable type (their sizes are what matters).
	p2pkh     = append(append([]byte{txscript.OP_DUP, txscript.OP_HASH160, txscript.OP_DATA_20}, bytes.Repeat([]byte{1}, 20)...), txscript.OP_EQUALVERIFY, txscript.OP_CHECKSIG)
	p2sh      = append(append([]byte{txscript.OP_HASH160, txscript.OP_DATA_20}, bytes.Repeat([]byte{2}, 20)...), txscript.OP_EQUAL)
	depP2WPKH = append([]byte{txscript.OP_0, txscript.OP_DATA_20}, bytes.Repeat([]byte{3}, 20)...)
	p2wsh     = append([]byte{txscript.OP_0, txscript.OP_DATA_32}, bytes.Repeat([]byte{4}, 32)...)
	depP2TR   = append([]byte{txscript.OP_1, txscript.OP_DATA_32}, bytes.Repeat([]byte{5}, 32)...)
)

func opReturn(data []byte) []byte {
	return append([]byte{txscript.OP_RETURN, byte(len(data))}, data...)
}

func hexRecipient(a common.Address, prefix string, upper bool) []byte {
	h := hex.EncodeToString(a[:])
	if upper {
		h = strings.ToUpper(h)
	}
	return opReturn([]byte(prefix + h))
}

// depositTx is a transaction with one input and the given outputs.
func depositTx(outs ...*wire.TxOut) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: chainhash.Hash{9}, Index: 1}})
	for _, o := range outs {
		tx.AddTxOut(o)
	}
	return tx
}

// TestParseDeposits: every case of DESIGN 6's deposit rule.
func TestParseDeposits(t *testing.T) {
	v, _, _ := devVault(t)
	vault := v.PkScript()
	pay := func(sat int64) *wire.TxOut { return wire.NewTxOut(sat, vault) }
	ret := func(script []byte) *wire.TxOut { return wire.NewTxOut(0, script) }
	change := wire.NewTxOut(5_000_000, depP2WPKH)
	mixedCase := []byte("0x" + testRecipient.Hex()[2:]) // EIP-55 mixed case
	const minDep = 10_000
	rules := DepositRules{MinDepositSat: minDep, FeeRate: 1, RefundScript: depP2WPKH}
	type want struct {
		recipient *common.Address
		deposits  []Deposit
	}
	mint := func(vout uint32, sat uint64) Deposit { return Deposit{Vout: vout, Amount: sat, Kind: DepositMint} }
	refund := func(vout uint32, sat uint64, r Reason) Deposit {
		return Deposit{Vout: vout, Amount: sat, Kind: DepositRefund, Reason: r}
	}
	record := func(vout uint32, sat uint64, r Reason) Deposit {
		return Deposit{Vout: vout, Amount: sat, Kind: DepositRecord, Reason: r}
	}
	rcpt, other := &testRecipient, &otherAddr
	coinbase := wire.NewMsgTx(2)
	coinbase.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: wire.MaxPrevOutIndex}, SignatureScript: []byte{1, 2}})
	coinbase.AddTxOut(pay(50_0000_0000))
	coinbase.AddTxOut(ret(RecipientScript(testRecipient)))

	cases := []struct {
		name  string
		tx    *wire.MsgTx
		rules func(r *DepositRules)
		want  want
	}{
		{name: "raw 20 bytes", tx: depositTx(pay(1e8), ret(RecipientScript(testRecipient)), change),
			want: want{rcpt, []Deposit{mint(0, 1e8)}}},
		{name: "hex lowercase", tx: depositTx(ret(hexRecipient(testRecipient, "", false)), pay(1e8)),
			want: want{rcpt, []Deposit{mint(1, 1e8)}}},
		{name: "hex uppercase", tx: depositTx(ret(hexRecipient(testRecipient, "", true)), pay(1e8)),
			want: want{rcpt, []Deposit{mint(1, 1e8)}}},
		{name: "0x hex lowercase", tx: depositTx(ret(hexRecipient(testRecipient, "0x", false)), pay(1e8)),
			want: want{rcpt, []Deposit{mint(1, 1e8)}}},
		{name: "0x hex uppercase", tx: depositTx(ret(hexRecipient(testRecipient, "0x", true)), pay(1e8)),
			want: want{rcpt, []Deposit{mint(1, 1e8)}}},
		{name: "0X hex", tx: depositTx(ret(hexRecipient(testRecipient, "0X", false)), pay(1e8)),
			want: want{rcpt, []Deposit{mint(1, 1e8)}}},
		{name: "0x mixed case EIP-55", tx: depositTx(ret(opReturn(mixedCase)), pay(1e8)),
			want: want{rcpt, []Deposit{mint(1, 1e8)}}},
		{name: "OP_RETURN after the vault output", tx: depositTx(change, pay(2e8), ret(RecipientScript(testRecipient))),
			want: want{rcpt, []Deposit{mint(1, 2e8)}}},
		{name: "first of two parsing OP_RETURNs", tx: depositTx(ret(RecipientScript(otherAddr)), ret(RecipientScript(testRecipient)), pay(1e8)),
			want: want{other, []Deposit{mint(2, 1e8)}}},
		{name: "malformed OP_RETURN then a parsing one", tx: depositTx(ret(opReturn([]byte("hello"))), ret(hexRecipient(testRecipient, "0x", false)), pay(1e8)),
			want: want{rcpt, []Deposit{mint(2, 1e8)}}},
		{name: "several vault outputs", tx: depositTx(pay(1e8), ret(RecipientScript(testRecipient)), pay(3e8), change, pay(minDep)),
			want: want{rcpt, []Deposit{mint(0, 1e8), mint(2, 3e8), mint(4, minDep)}}},
		{name: "several vault outputs, one under the minimum", tx: depositTx(pay(1e8), pay(minDep-1), ret(RecipientScript(testRecipient))),
			want: want{rcpt, []Deposit{mint(0, 1e8), refund(1, minDep-1, ReasonBelowMinimum)}}},
		{name: "no OP_RETURN", tx: depositTx(pay(1e8), change),
			want: want{nil, []Deposit{refund(0, 1e8, ReasonNoRecipient)}}},
		{name: "19 raw bytes", tx: depositTx(pay(1e8), ret(opReturn(testRecipient[:19]))),
			want: want{nil, []Deposit{refund(0, 1e8, ReasonNoRecipient)}}},
		{name: "21 raw bytes", tx: depositTx(pay(1e8), ret(opReturn(append(testRecipient.Bytes(), 0)))),
			want: want{nil, []Deposit{refund(0, 1e8, ReasonNoRecipient)}}},
		{name: "trailing byte after the push", tx: depositTx(pay(1e8), ret(append(RecipientScript(testRecipient), txscript.OP_1))),
			want: want{nil, []Deposit{refund(0, 1e8, ReasonNoRecipient)}}},
		{name: "PUSHDATA1 form", tx: depositTx(pay(1e8), ret(append([]byte{txscript.OP_RETURN, txscript.OP_PUSHDATA1, 20}, testRecipient[:]...))),
			want: want{nil, []Deposit{refund(0, 1e8, ReasonNoRecipient)}}},
		{name: "non-hex digit", tx: depositTx(pay(1e8), ret(opReturn([]byte("g"+hex.EncodeToString(testRecipient[:])[1:])))),
			want: want{nil, []Deposit{refund(0, 1e8, ReasonNoRecipient)}}},
		{name: "0x prefix in a 40-character push", tx: depositTx(pay(1e8), ret(opReturn([]byte("0x"+hex.EncodeToString(testRecipient[:])[2:])))),
			want: want{nil, []Deposit{refund(0, 1e8, ReasonNoRecipient)}}},
		{name: "42 characters without 0x", tx: depositTx(pay(1e8), ret(opReturn([]byte("00"+hex.EncodeToString(testRecipient[:]))))),
			want: want{nil, []Deposit{refund(0, 1e8, ReasonNoRecipient)}}},
		{name: "zero address", tx: depositTx(pay(1e8), ret(RecipientScript(common.Address{}))),
			want: want{nil, []Deposit{refund(0, 1e8, ReasonNoRecipient)}}},
		{name: "recipient in a non-OP_RETURN output", tx: depositTx(pay(1e8), wire.NewTxOut(0, append([]byte{txscript.OP_DATA_20}, testRecipient[:]...))),
			want: want{nil, []Deposit{refund(0, 1e8, ReasonNoRecipient)}}},
		{name: "under the minimum", tx: depositTx(pay(minDep-1), ret(RecipientScript(testRecipient))),
			want: want{rcpt, []Deposit{refund(0, minDep-1, ReasonBelowMinimum)}}},
		{name: "refund to a non-standard script", tx: depositTx(pay(1e8)),
			rules: func(r *DepositRules) { r.RefundScript = []byte{txscript.OP_TRUE} },
			want:  want{nil, []Deposit{record(0, 1e8, ReasonRefundNonStandard)}}},
		{name: "refund script unknown", tx: depositTx(pay(1e8)),
			rules: func(r *DepositRules) { r.RefundScript = nil },
			want:  want{nil, []Deposit{record(0, 1e8, ReasonRefundNonStandard)}}},
		{name: "refund to an OP_RETURN", tx: depositTx(pay(1e8)),
			rules: func(r *DepositRules) { r.RefundScript = RecipientScript(testRecipient) },
			want:  want{nil, []Deposit{record(0, 1e8, ReasonRefundNonStandard)}}},
		// P2PKH: fee 34 sat at 1 sat/vB, dust 546: 581 refunds, 580 does not.
		{name: "P2PKH refund just above dust", tx: depositTx(pay(581)),
			rules: func(r *DepositRules) { r.RefundScript = p2pkh },
			want:  want{nil, []Deposit{refund(0, 581, ReasonNoRecipient)}}},
		{name: "P2PKH refund at dust after fee", tx: depositTx(pay(580)),
			rules: func(r *DepositRules) { r.RefundScript = p2pkh },
			want:  want{nil, []Deposit{record(0, 580, ReasonRefundDust)}}},
		// P2WPKH at 10 sat/vB: fee 310, dust 294: 605 refunds, 604 does not.
		{name: "P2WPKH refund above dust at 10 sat/vB", tx: depositTx(pay(605), ret(RecipientScript(testRecipient))),
			rules: func(r *DepositRules) { r.FeeRate = 10 },
			want:  want{rcpt, []Deposit{refund(0, 605, ReasonBelowMinimum)}}},
		{name: "P2WPKH refund dust at 10 sat/vB", tx: depositTx(pay(604), ret(RecipientScript(testRecipient))),
			rules: func(r *DepositRules) { r.FeeRate = 10 },
			want:  want{rcpt, []Deposit{record(0, 604, ReasonRefundDust)}}},
		{name: "fee rate 0 counts as 1", tx: depositTx(pay(580)),
			rules: func(r *DepositRules) { r.RefundScript, r.FeeRate = p2pkh, 0 },
			want:  want{nil, []Deposit{record(0, 580, ReasonRefundDust)}}},
		{name: "fee above the amount", tx: depositTx(pay(100)),
			rules: func(r *DepositRules) { r.FeeRate = 1000 },
			want:  want{nil, []Deposit{record(0, 100, ReasonRefundDust)}}},
		{name: "zero-value vault output", tx: depositTx(pay(0), ret(RecipientScript(testRecipient))),
			want: want{rcpt, []Deposit{record(0, 0, ReasonRefundDust)}}},
		{name: "spends a vault output: never a deposit", tx: depositTx(pay(1e8), ret(RecipientScript(testRecipient))),
			rules: func(r *DepositRules) { r.SpendsVault = true },
			want:  want{nil, nil}},
		{name: "pays no vault output", tx: depositTx(change, ret(RecipientScript(testRecipient))),
			want: want{rcpt, nil}},
		{name: "a near-vault script is not the vault", tx: depositTx(wire.NewTxOut(1e8, append(slices.Clone(vault[:33]), vault[33]^1)), ret(RecipientScript(testRecipient))),
			want: want{rcpt, nil}},
		{name: "coinbase", tx: coinbase,
			want: want{rcpt, []Deposit{record(0, 50_0000_0000, ReasonCoinbase)}}},
		{name: "nil transaction", tx: nil, want: want{nil, nil}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rules
			if tc.rules != nil {
				tc.rules(&r)
			}
			got, deps := ParseDeposits(tc.tx, vault, r)
			if (got == nil) != (tc.want.recipient == nil) || (got != nil && *got != *tc.want.recipient) {
				t.Fatalf("recipient %v, want %v", got, tc.want.recipient)
			}
			if !slices.Equal(deps, tc.want.deposits) {
				t.Fatalf("deposits\n got %+v\nwant %+v", deps, tc.want.deposits)
			}
		})
	}
}

// TestDustAndSizes: the consensus dust limits and output sizes are
// Bitcoin Core's (btcd's mempool computes the same threshold), and each
// refundable type is refundable.
func TestDustAndSizes(t *testing.T) {
	for _, tc := range []struct {
		name        string
		script      []byte
		dust, vsize uint64
	}{
		{"p2pkh", p2pkh, 546, 34},
		{"p2sh", p2sh, 540, 32},
		{"depP2WPKH", depP2WPKH, 294, 31},
		{"p2wsh", p2wsh, 330, 43},
		{"depP2TR", depP2TR, 330, 43},
	} {
		if d := DustLimit(tc.script); d != tc.dust {
			t.Errorf("%s dust %d, want %d", tc.name, d, tc.dust)
		}
		if got := uint64(mempool.GetDustThreshold(wire.NewTxOut(0, tc.script))); got != tc.dust {
			t.Errorf("%s: btcd's threshold %d, ours %d", tc.name, got, tc.dust)
		}
		if s := OutputVBytes(tc.script); s != tc.vsize {
			t.Errorf("%s vsize %d, want %d", tc.name, s, tc.vsize)
		}
		if !Refundable(tc.script) {
			t.Errorf("%s not refundable", tc.name)
		}
		// The dust rule as relay policy states it: below the threshold at
		// the 1,000 sat/kvB minimum relay fee is dust.
		if !mempool.IsDust(wire.NewTxOut(int64(tc.dust)-1, tc.script), btcutil.Amount(1000)) || mempool.IsDust(wire.NewTxOut(int64(tc.dust), tc.script), 1000) {
			t.Errorf("%s: btcd's IsDust disagrees at %d", tc.name, tc.dust)
		}
	}
	for _, s := range [][]byte{{txscript.OP_TRUE}, RecipientScript(testRecipient), nil, append([]byte{0x21}, bytes.Repeat([]byte{2}, 33)...)} {
		if Refundable(s) {
			t.Errorf("%x refundable", s)
		}
	}
}

// TestParseRecipientRoundTrip: RecipientScript parses back.
func TestParseRecipientRoundTrip(t *testing.T) {
	s := RecipientScript(testRecipient)
	if len(s) != 22 || s[0] != 0x6a || s[1] != 0x14 {
		t.Fatalf("script %x", s)
	}
	if a, ok := ParseRecipient(s); !ok || a != testRecipient {
		t.Fatalf("parsed %v %v", a, ok)
	}
}

// FuzzParseRecipient: never panics; what parses is a non-zero address
// that one of the three formats writes, and re-encoding it in the raw
// form parses to the same address.
func FuzzParseRecipient(f *testing.F) {
	f.Add(RecipientScript(testRecipient))
	f.Add(hexRecipient(testRecipient, "", false))
	f.Add(hexRecipient(testRecipient, "0x", true))
	f.Add(opReturn([]byte("0X" + strings.Repeat("g", 40))))
	f.Add([]byte{0x6a})
	f.Add([]byte{0x6a, 0x2a, '0', 'x'})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, script []byte) {
		a, ok := ParseRecipient(script)
		if !ok {
			return
		}
		if a == (common.Address{}) || len(script) < 22 || script[0] != 0x6a || !slices.Contains([]byte{0x14, 0x28, 0x2a}, script[1]) {
			t.Fatalf("parsed %v from %x", a, script)
		}
		if b, ok := ParseRecipient(RecipientScript(a)); !ok || b != a {
			t.Fatalf("raw form of %v does not parse back", a)
		}
	})
}

// FuzzParseDeposits: any transaction (as its wire bytes) gives an answer
// without panicking; each deposit is a vault output of the transaction,
// in order, with a consistent kind and reason; a mint has a recipient
// and at least the minimum.
func FuzzParseDeposits(f *testing.F) {
	v, _, _ := devVault(f)
	vault := v.PkScript()
	seed := func(tx *wire.MsgTx) {
		var b bytes.Buffer
		if err := tx.Serialize(&b); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes(), uint64(10_000), uint64(1), uint8(0))
	}
	seed(depositTx(wire.NewTxOut(1e8, vault), wire.NewTxOut(0, RecipientScript(testRecipient))))
	seed(depositTx(wire.NewTxOut(5000, vault), wire.NewTxOut(1e8, vault), wire.NewTxOut(0, hexRecipient(testRecipient, "0x", false))))
	seed(depositTx(wire.NewTxOut(600, vault)))
	seed(depositTx(wire.NewTxOut(-5, vault)))
	f.Add([]byte{1, 0, 0, 0, 0}, uint64(0), uint64(0), uint8(1))
	f.Fuzz(func(t *testing.T, raw []byte, minDep, feeRate uint64, refund uint8) {
		var tx wire.MsgTx
		if err := tx.Deserialize(bytes.NewReader(raw)); err != nil {
			return
		}
		refundScript := [][]byte{depP2WPKH, p2pkh, {txscript.OP_TRUE}, nil}[refund%4]
		rcpt, deps := ParseDeposits(&tx, vault, DepositRules{MinDepositSat: minDep, FeeRate: feeRate % 100_000, RefundScript: refundScript})
		last := -1
		for _, d := range deps {
			if int(d.Vout) <= last || int(d.Vout) >= len(tx.TxOut) || !bytes.Equal(tx.TxOut[d.Vout].PkScript, vault) {
				t.Fatalf("deposit %+v is not a vault output in order", d)
			}
			last = int(d.Vout)
			switch d.Kind {
			case DepositMint:
				if rcpt == nil || d.Amount < minDep || d.Reason != ReasonNone {
					t.Fatalf("mint %+v without recipient or under %d", d, minDep)
				}
			case DepositRefund:
				if d.Reason != ReasonNoRecipient && d.Reason != ReasonBelowMinimum {
					t.Fatalf("refund reason %v", d.Reason)
				}
			case DepositRecord:
				if d.Reason < ReasonRefundNonStandard || d.Reason > ReasonCoinbase {
					t.Fatalf("record reason %v", d.Reason)
				}
			default:
				t.Fatalf("kind %v", d.Kind)
			}
		}
		n := 0
		for _, o := range tx.TxOut {
			if bytes.Equal(o.PkScript, vault) {
				n++
			}
		}
		if n != len(deps) {
			t.Fatalf("%d vault outputs, %d deposits", n, len(deps))
		}
	})
}
