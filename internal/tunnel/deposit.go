package tunnel

import (
	"bytes"
	"encoding/hex"

	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
)

// Deposits (DESIGN 6). A Bitcoin transaction that spends no vault output
// and pays the vault is a deposit transaction: each output paying the
// vault is one deposit, keyed by its outpoint, and its L2 recipient is
// named by the first OP_RETURN output that parses as one of Hemi's
// recipient formats (ParseRecipient). Each deposit is classified:
//
//	Mint    a recipient and at least MinDepositSat: hBTC is minted
//	Refund  no recipient, or under the minimum: refunded in a payout to
//	        the first input's previous output script, less its fee
//	Record  cannot be refunded (the refund script is not a standard
//	        output, or the refund is not above that script's dust limit
//	        after its fee), or a coinbase: recorded with its reason in an
//	        event, recoverable by the recovery set
//
// Nothing is silently lost: every vault output of a deposit transaction
// gets exactly one of the three.

// DepositKind is what happens to a deposit.
type DepositKind uint8

// Deposit kinds.
const (
	// DepositMint: hBTC is minted to the recipient.
	DepositMint DepositKind = 1
	// DepositRefund: the deposit is queued for a refund.
	DepositRefund DepositKind = 2
	// DepositRecord: the deposit is recorded, neither minted nor refunded.
	DepositRecord DepositKind = 3
)

func (k DepositKind) String() string {
	switch k {
	case DepositMint:
		return "mint"
	case DepositRefund:
		return "refund"
	case DepositRecord:
		return "record"
	}
	return "unknown"
}

// Reason says why a deposit is refunded or recorded. The numbers are
// consensus: the tunnel predeploy's events carry them.
type Reason uint8

// Reasons.
const (
	// ReasonNone: a mint.
	ReasonNone Reason = 0
	// ReasonNoRecipient (refund): no OP_RETURN parses as a recipient
	// (none, malformed, or the zero address).
	ReasonNoRecipient Reason = 1
	// ReasonBelowMinimum (refund): the amount is under MinDepositSat.
	ReasonBelowMinimum Reason = 2
	// ReasonRefundNonStandard (record): the refund script (the first
	// input's previous output) is not P2PKH, P2SH, P2WPKH, P2WSH or P2TR.
	ReasonRefundNonStandard Reason = 3
	// ReasonRefundDust (record): the amount less the refund output's fee
	// is not above the refund script's dust limit.
	ReasonRefundDust Reason = 4
	// ReasonCoinbase (record): a coinbase transaction paid the vault; its
	// outputs cannot be spent for 100 blocks, and it has no input to
	// refund to.
	ReasonCoinbase Reason = 5
)

func (r Reason) String() string {
	switch r {
	case ReasonNone:
		return "none"
	case ReasonNoRecipient:
		return "no valid recipient"
	case ReasonBelowMinimum:
		return "below the minimum deposit"
	case ReasonRefundNonStandard:
		return "refund script not standard"
	case ReasonRefundDust:
		return "refund below dust after its fee"
	case ReasonCoinbase:
		return "coinbase"
	}
	return "unknown"
}

// Deposit is one vault output of a deposit transaction.
type Deposit struct {
	// Vout is the output's index; the deposit's key is (txid, Vout).
	Vout uint32
	// Amount is the output's value in satoshis.
	Amount uint64
	// Kind and Reason classify it (Reason is ReasonNone for a mint).
	Kind   DepositKind
	Reason Reason
}

// DepositRules are what ParseDeposits needs beyond the transaction.
type DepositRules struct {
	// MinDepositSat is genesis.TunnelConfig.MinDepositSat.
	MinDepositSat uint64
	// FeeRate is the refund fee rate in sat/vB (the consensus fee rate
	// recorded in L2 state; 0 counts as 1).
	FeeRate uint64
	// RefundScript is the first input's previous output script, which a
	// refund pays (the caller reads it from the index; nil if unknown,
	// which records the deposit as not refundable).
	RefundScript []byte
	// SpendsVault: the transaction spends a vault output (the caller
	// checks its inputs against the index). Such a transaction is a
	// payout or a recovery, never a deposit: ParseDeposits returns none.
	SpendsVault bool
}

// ParseDeposits returns the recipient named by tx (nil if none parses)
// and one Deposit per output of tx paying vaultScript, in output order.
// A transaction that spends the vault, or pays it nothing, has no
// deposits. It never fails: every input gives an answer.
func ParseDeposits(tx *wire.MsgTx, vaultScript []byte, r DepositRules) (*common.Address, []Deposit) {
	if tx == nil || r.SpendsVault || len(vaultScript) == 0 {
		return nil, nil
	}
	var recipient *common.Address
	var deposits []Deposit
	for i, out := range tx.TxOut {
		if recipient == nil {
			if a, ok := ParseRecipient(out.PkScript); ok {
				recipient = &a
			}
		}
		if bytes.Equal(out.PkScript, vaultScript) {
			deposits = append(deposits, Deposit{Vout: uint32(i), Amount: uint64(max(out.Value, 0))})
		}
	}
	if len(deposits) == 0 {
		return recipient, nil
	}
	coinbase := len(tx.TxIn) == 1 && tx.TxIn[0].PreviousOutPoint.Index == wire.MaxPrevOutIndex &&
		tx.TxIn[0].PreviousOutPoint.Hash == (wire.OutPoint{}).Hash
	for i := range deposits {
		d := &deposits[i]
		switch {
		case coinbase:
			d.Kind, d.Reason = DepositRecord, ReasonCoinbase
		case recipient != nil && d.Amount >= r.MinDepositSat:
			d.Kind = DepositMint
		default:
			d.Kind, d.Reason = DepositRefund, ReasonBelowMinimum
			if recipient == nil {
				d.Reason = ReasonNoRecipient
			}
			if !Refundable(r.RefundScript) {
				d.Kind, d.Reason = DepositRecord, ReasonRefundNonStandard
			} else if fee := OutputVBytes(r.RefundScript) * max(r.FeeRate, 1); d.Amount <= fee || d.Amount-fee <= DustLimit(r.RefundScript) {
				d.Kind, d.Reason = DepositRecord, ReasonRefundDust
			}
		}
	}
	return recipient, deposits
}

// Recipient formats (Hemi's): an OP_RETURN output whose script is exactly
//
//	6a 14 <20 bytes>                       the address's bytes
//	6a 28 <40 ASCII hex digits>            either case
//	6a 2a "0x" <40 ASCII hex digits>       either case ("0X" too)
//
// anything else (other lengths, PUSHDATA1 forms, trailing bytes, a
// non-hex digit, the zero address) does not parse.
const (
	recipientRaw = 0x14
	recipientHex = 0x28
	recipient0x  = 0x2a
)

// ParseRecipient reads an L2 recipient from an output script.
func ParseRecipient(script []byte) (common.Address, bool) {
	if len(script) < 2 || script[0] != txscript.OP_RETURN || int(script[1])+2 != len(script) {
		return common.Address{}, false
	}
	data := script[2:]
	var a common.Address
	switch script[1] {
	case recipientRaw:
		copy(a[:], data)
	case recipient0x:
		if data[0] != '0' || (data[1] != 'x' && data[1] != 'X') {
			return common.Address{}, false
		}
		data = data[2:]
		fallthrough
	case recipientHex:
		if _, err := hex.Decode(a[:], data); err != nil {
			return common.Address{}, false
		}
	default:
		return common.Address{}, false
	}
	if a == (common.Address{}) {
		// Minting to the zero address would burn the deposit: refund it.
		return common.Address{}, false
	}
	return a, true
}

// RecipientScript is the OP_RETURN script naming a in the raw 20-byte
// form (the smallest: 22 bytes), as `hemi deposit` writes it.
func RecipientScript(a common.Address) []byte {
	return append([]byte{txscript.OP_RETURN, recipientRaw}, a[:]...)
}

// Refundable reports whether a refund may pay script: a standard
// single-key or script-hash output (P2PKH, P2SH, P2WPKH, P2WSH, P2TR),
// the same types a withdrawal may name.
func Refundable(script []byte) bool {
	switch txscript.GetScriptClass(script) {
	case txscript.PubKeyHashTy, txscript.ScriptHashTy, txscript.WitnessV0PubKeyHashTy,
		txscript.WitnessV0ScriptHashTy, txscript.WitnessV1TaprootTy:
		return true
	}
	return false
}

// OutputVBytes is the virtual size of an output paying script: 8 bytes
// of value, the script's length prefix and the script (P2PKH 34, P2SH 32,
// P2WPKH 31, P2WSH and P2TR 43).
func OutputVBytes(script []byte) uint64 {
	return uint64(wire.NewTxOut(0, script).SerializeSize())
}

// DustLimit is Bitcoin Core's dust threshold of an output paying script
// at its default dust relay fee (3 sat/vB): three times the output's size
// plus the size of an input spending it (41 bytes plus a 107-byte
// signature and key, a quarter of that for witness programs): P2PKH 546,
// P2SH 540, P2WPKH 294, P2WSH and P2TR 330. A consensus constant here
// (written out, not read from a relay policy that may change).
func DustLimit(script []byte) uint64 {
	if len(script) > 0 && script[0] == txscript.OP_RETURN {
		return 0 // unspendable: Core has no dust limit for it
	}
	size := OutputVBytes(script) + 41
	if txscript.IsWitnessProgram(script) {
		size += 107 / 4
	} else {
		size += 107
	}
	return 3 * size
}
