// The L2 side of the tunnel's deposits (DESIGN 6): Go bindings of the
// Tunnel and hBTC predeploys (contracts/Tunnel.sol, contracts/HBTC.sol;
// the ABIs are solc's, embedded by internal/chain/genesis) and their
// documented storage slots, which the deposit deriver, the RPC and
// provenance read directly from state.
//
// Storage (consensus; ERC-7201 namespaces, see the contracts):
//
//	Tunnel  genesis.TunnelBaseSlot          hBTC address (bytes 12..31), fee
//	                                        rate (uint64 sat/vB, 4..11), its
//	                                        Bitcoin view height (uint32, 0..3)
//	        genesis.TunnelDepositsSlot + 0  deposit cursor (Cursor, DepositCursorWord)
//	        genesis.TunnelDepositsSlot + 1  minted: key => to (bytes 12..31) |
//	                                        amountSat (4..11); next slot l2Block
//	        genesis.TunnelDepositsSlot + 2  settled: key => kind (31) | reason (30) |
//	                                        amountSat (22..29) | refundId (14..21) |
//	                                        l2Block (6..13)
//	        genesis.TunnelDepositsSlot + 3  recordedSat (uint64)
//	hBTC    slot 0 totalSupply, 1 balanceOf, 2 allowance, 3 tunnel
//
// key = keccak256(txid in wire order || vout uint32 big-endian)
// (DepositKey); a mapping entry lives at keccak256(key || slot).
package tunnel

import (
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/hemi-go/hemi/internal/chain/genesis"
)

// Gas limits of the tunnel's deposit-side system transactions: the
// measured worst case plus a margin (genesis.TunnelDepositGas and the
// others say the figures; TestSystemTxGasBudget measures them). The
// margin is what makes "a mint cannot revert" hold: a deposit system
// transaction never runs out of gas. genesis.Config.Validate checks that
// MaxDepositsPerBlock of them fit the block's system gas budget beside
// the other system transactions, and the deposit deriver derives no
// more than what is left of it (Derivation.GasLeft).
const (
	DepositGas = genesis.TunnelDepositGas
	CursorGas  = genesis.TunnelCursorGas
	FeeRateGas = genesis.TunnelFeeRateGas
)

// TunnelABI and HBTCABI are the predeploys' ABIs.
var (
	TunnelABI = mustABI(genesis.TunnelABIJSON)
	HBTCABI   = mustABI(genesis.HBTCABIJSON)
)

// packCall encodes a call of a; the arguments are typed by the callers
// below, so a failure is a programming error.
func packCall(a *abi.ABI, method string, args ...any) []byte {
	data, err := a.Pack(method, args...)
	if err != nil {
		panic(fmt.Sprintf("tunnel: pack %s: %v", method, err))
	}
	return data
}

// DepositKey is the key of the deposit at op in Tunnel's minted and
// settled mappings: keccak256(txid in wire order || vout big-endian).
func DepositKey(op wire.OutPoint) common.Hash {
	var b [36]byte
	copy(b[:32], op.Hash[:])
	binary.BigEndian.PutUint32(b[32:], op.Index)
	return crypto.Keccak256Hash(b[:])
}

// MintCalldata calls mint(txid, vout, to, amountSat).
func MintCalldata(op wire.OutPoint, to common.Address, amountSat uint64) []byte {
	return packCall(&TunnelABI, "mint", [32]byte(op.Hash), op.Index, to, amountSat)
}

// RefundDepositCalldata calls refundDeposit(txid, vout, to, script,
// amountSat, reason).
func RefundDepositCalldata(op wire.OutPoint, to common.Address, script []byte, amountSat uint64, reason uint8) []byte {
	return packCall(&TunnelABI, "refundDeposit", [32]byte(op.Hash), op.Index, to, script, amountSat, reason)
}

// RecordDepositCalldata calls recordDeposit(txid, vout, to, amountSat, reason).
func RecordDepositCalldata(op wire.OutPoint, to common.Address, amountSat uint64, reason uint8) []byte {
	return packCall(&TunnelABI, "recordDeposit", [32]byte(op.Hash), op.Index, to, amountSat, reason)
}

// SetDepositCursorCalldata calls setDepositCursor(height, txPos, vout).
func SetDepositCursorCalldata(c Cursor) []byte {
	return packCall(&TunnelABI, "setDepositCursor", c.Height, c.TxPos, c.Vout)
}

// SetFeeRateCalldata calls setFeeRate(satPerVByte, bitcoinHeight).
func SetFeeRateCalldata(satPerVByte uint64, bitcoinHeight uint32) []byte {
	return packCall(&TunnelABI, "setFeeRate", satPerVByte, bitcoinHeight)
}

// Cursor is the deposit cursor: every vault output of the Bitcoin blocks
// at or below Height is processed, and of block Height+1 those before
// (TxPos, Vout) in (position in block, output index) order.
type Cursor struct {
	Height, TxPos, Vout uint32
}

// Word is the cursor's storage word.
func (c Cursor) Word() common.Hash { return genesis.DepositCursorWord(c.Height, c.TxPos, c.Vout) }

// ReadCursor reads the deposit cursor of the Tunnel at tunnel.
func ReadCursor(st StateReader, tunnel common.Address) Cursor {
	w := st.GetState(tunnel, genesis.TunnelDepositsSlot)
	return Cursor{
		Height: binary.BigEndian.Uint32(w[28:]),
		TxPos:  binary.BigEndian.Uint32(w[24:]),
		Vout:   binary.BigEndian.Uint32(w[20:]),
	}
}

// ReadFeeRate reads the recorded fee rate (sat/vB) and the Bitcoin view
// height it is as of; 0, 0 before the first record.
func ReadFeeRate(st StateReader, tunnel common.Address) (uint64, uint32) {
	w := st.GetState(tunnel, genesis.TunnelBaseSlot)
	return binary.BigEndian.Uint64(w[4:12]), binary.BigEndian.Uint32(w[0:4])
}

// MintedSlots are the two storage slots of minted[key] (a storage proof of
// a mint proves both).
func MintedSlots(key common.Hash) [2]common.Hash {
	s := mapSlot(key, genesis.SlotAdd(genesis.TunnelDepositsSlot, 1))
	return [2]common.Hash{s, genesis.SlotAdd(s, 1)}
}

// SettledSlot is the storage slot of settled[key].
func SettledSlot(key common.Hash) common.Hash {
	return mapSlot(key, genesis.SlotAdd(genesis.TunnelDepositsSlot, 2))
}

// Minted is a minted deposit's record.
type Minted struct {
	To        common.Address
	AmountSat uint64
	L2Block   uint64
}

// DecodeMinted decodes minted[key] from its two slots' values.
func DecodeMinted(w0, w1 common.Hash) Minted {
	return Minted{
		To:        common.BytesToAddress(w0[12:]),
		AmountSat: binary.BigEndian.Uint64(w0[4:12]),
		L2Block:   binary.BigEndian.Uint64(w1[24:]),
	}
}

// ReadMinted reads minted[key]; ok is false when key was not minted.
func ReadMinted(st StateReader, tunnel common.Address, key common.Hash) (Minted, bool) {
	s := MintedSlots(key)
	m := DecodeMinted(st.GetState(tunnel, s[0]), st.GetState(tunnel, s[1]))
	return m, m.L2Block != 0
}

// SettledKind says what became of a deposit that was not minted.
type SettledKind uint8

// Settled kinds (Tunnel's KIND_REFUND, KIND_RECORDED).
const (
	SettledRefund   SettledKind = 1
	SettledRecorded SettledKind = 2
)

// Settled is the record of a deposit refunded (queued) or recorded.
type Settled struct {
	Kind      SettledKind
	Reason    uint8
	AmountSat uint64
	RefundID  uint64 // refunds only
	L2Block   uint64
}

// DecodeSettled decodes settled[key]'s slot value.
func DecodeSettled(w common.Hash) Settled {
	return Settled{
		Kind:      SettledKind(w[31]),
		Reason:    w[30],
		AmountSat: binary.BigEndian.Uint64(w[22:30]),
		RefundID:  binary.BigEndian.Uint64(w[14:22]),
		L2Block:   binary.BigEndian.Uint64(w[6:14]),
	}
}

// ReadSettled reads settled[key]; ok is false when key was not settled.
func ReadSettled(st StateReader, tunnel common.Address, key common.Hash) (Settled, bool) {
	s := DecodeSettled(st.GetState(tunnel, SettledSlot(key)))
	return s, s.Kind != 0
}

// Processed reports whether the deposit with key was minted, queued for
// refund or recorded (Tunnel.processed).
func Processed(st StateReader, tunnel common.Address, key common.Hash) bool {
	if _, ok := ReadMinted(st, tunnel, key); ok {
		return true
	}
	_, ok := ReadSettled(st, tunnel, key)
	return ok
}

// ReadRecordedSat reads the sum of recorded (unrefundable) deposits.
func ReadRecordedSat(st StateReader, tunnel common.Address) uint64 {
	w := st.GetState(tunnel, genesis.SlotAdd(genesis.TunnelDepositsSlot, 3))
	return binary.BigEndian.Uint64(w[24:])
}

// HBTCSupply reads hBTC's totalSupply (satoshis).
func HBTCSupply(st StateReader, hbtc common.Address) *big.Int {
	return st.GetState(hbtc, common.Hash{}).Big()
}

// HBTCBalance reads hBTC's balanceOf(owner) (satoshis).
func HBTCBalance(st StateReader, hbtc, owner common.Address) *big.Int {
	return st.GetState(hbtc, mapSlot(common.BytesToHash(owner.Bytes()), common.BigToHash(big.NewInt(1)))).Big()
}

// DepositEventKind names the deposit events of Tunnel.
type DepositEventKind uint8

// Deposit event kinds.
const (
	EventMinted DepositEventKind = iota + 1
	EventRefundQueued
	EventRecorded
)

// DepositEvent is one decoded deposit event of Tunnel's. Outpoint is set
// for EventMinted and EventRecorded (EventRefundQueued has the key; the
// RefundQueued event of the same transaction has the outpoint).
type DepositEvent struct {
	Kind      DepositEventKind
	Key       common.Hash
	Outpoint  wire.OutPoint
	To        common.Address
	AmountSat uint64
	RefundID  uint64
	Reason    uint8
}

// Event ids (topic 0) of Tunnel's deposit events.
var (
	TopicDepositMinted       = TunnelABI.Events["DepositMinted"].ID
	TopicDepositRefundQueued = TunnelABI.Events["DepositRefundQueued"].ID
	TopicDepositRecorded     = TunnelABI.Events["DepositRecorded"].ID
	TopicRefundQueued        = TunnelABI.Events["RefundQueued"].ID
)

// ParseDepositEvent decodes l when it is one of Tunnel's deposit events
// (ok false for any other log). A log with the right topic and a wrong
// shape is an error, never a panic.
func ParseDepositEvent(l *types.Log) (ev *DepositEvent, ok bool, err error) {
	if len(l.Topics) == 0 {
		return nil, false, nil
	}
	var kind DepositEventKind
	var name string
	switch l.Topics[0] {
	case TopicDepositMinted:
		kind, name = EventMinted, "DepositMinted"
	case TopicDepositRefundQueued:
		kind, name = EventRefundQueued, "DepositRefundQueued"
	case TopicDepositRecorded:
		kind, name = EventRecorded, "DepositRecorded"
	default:
		return nil, false, nil
	}
	e := TunnelABI.Events[name]
	if len(l.Topics) != 3 {
		return nil, true, fmt.Errorf("tunnel: %s log with %d topics, want 3", name, len(l.Topics))
	}
	vals, err := e.Inputs.NonIndexed().Unpack(l.Data)
	if err != nil {
		return nil, true, fmt.Errorf("tunnel: %s log: %w", name, err)
	}
	ev = &DepositEvent{Kind: kind, Key: l.Topics[1], To: common.BytesToAddress(l.Topics[2][12:])}
	switch kind {
	case EventMinted: // txid, vout, amountSat
		ev.Outpoint = wire.OutPoint{Hash: vals[0].([32]byte), Index: vals[1].(uint32)}
		ev.AmountSat = vals[2].(uint64)
	case EventRefundQueued: // refundId, reason
		ev.RefundID, ev.Reason = vals[0].(uint64), vals[1].(uint8)
	case EventRecorded: // txid, vout, amountSat, reason
		ev.Outpoint = wire.OutPoint{Hash: vals[0].([32]byte), Index: vals[1].(uint32)}
		ev.AmountSat, ev.Reason = vals[2].(uint64), vals[3].(uint8)
	}
	return ev, true, nil
}
