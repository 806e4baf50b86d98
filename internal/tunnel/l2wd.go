package tunnel

// L2 side of withdrawals: Go bindings of contracts/TunnelWithdrawals.sol
// (the calls the derivers and clients make, from its ABI, which
// scripts/gen-predeploys.sh writes next to this file) and readers of its
// storage, whose layout the contract documents (one ERC-7201 namespace, so
// it does not depend on contracts/Tunnel.sol's own variables). The
// readers are what consensus uses: the derivers read the parent state
// directly, never through an EVM call.

import (
	_ "embed"
	"encoding/binary"
	"fmt"
	"math/big"
	"strings"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

//go:embed TunnelWithdrawals.abi.json
var withdrawalsABIJSON string

// WithdrawalsABI is the ABI of TunnelWithdrawals (functions, events and
// errors the Tunnel predeploy inherits).
var WithdrawalsABI = mustABI(withdrawalsABIJSON)

func mustABI(s string) abi.ABI {
	a, err := abi.JSON(strings.NewReader(s))
	if err != nil {
		panic(fmt.Sprintf("tunnel: embedded ABI: %v", err)) // generated file, checked by the tests
	}
	return a
}

// StateReader is the part of a state (vm.StateDB, *state.StateDB) the
// readers need (genesis.StateReader's shape).
type StateReader interface {
	GetState(addr common.Address, slot common.Hash) common.Hash
}

// WithdrawalsSlot is the base of TunnelWithdrawals' storage namespace:
// keccak256(abi.encode(uint256(keccak256("hemi.tunnel.withdrawals")) - 1)) & ~0xff.
var WithdrawalsSlot = func() common.Hash {
	h := new(big.Int).SetBytes(crypto.Keccak256([]byte("hemi.tunnel.withdrawals")))
	h.Sub(h, big.NewInt(1))
	s := crypto.Keccak256(common.BigToHash(h).Bytes())
	s[31] = 0
	return common.BytesToHash(s)
}()

// Offsets from WithdrawalsSlot (the contract's Layout struct).
const (
	offHead     = 0  // nextId | firstPending | lastBatch | lastShortfall
	offItems    = 1  // mapping(uint64 => Item)
	offBatch0   = 2  // number | attempt | feeRate | btcHeight | open | refresh
	offBatch1   = 3  // change | fee | refreshFees
	offInputs   = 4  // Input[]
	offOutputs  = 5  // Output[]
	offRates    = 6  // uint64[]
	offPosted   = 7  // mapping(bytes32 => uint256)
	offFlagged  = 8  // mapping(bytes32 => bool)
	offPending  = 9  // pendingSat
	offPaidBy   = 10 // mapping(bytes32 => uint64)
	offPaidTxid = 11 // mapping(uint64 => bytes32)
	itemSlots   = 4
	inputSlots  = 2
	outputSlots = 1
)

func slotAt(base common.Hash, off uint64) common.Hash {
	b := new(big.Int).SetBytes(base[:])
	b.Add(b, new(big.Int).SetUint64(off))
	b.And(b, new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1)))
	return common.BigToHash(b)
}

func nsSlot(off uint64) common.Hash { return slotAt(WithdrawalsSlot, off) }

// mapSlot is the slot of mapping key (already a 32-byte word) at slot.
func mapSlot(key common.Hash, slot common.Hash) common.Hash {
	return crypto.Keccak256Hash(key[:], slot[:])
}

// arrayData is where a dynamic array's (or long bytes') data starts.
func arrayData(slot common.Hash) common.Hash { return crypto.Keccak256Hash(slot[:]) }

// field reads an unsigned field of width bytes at byte offset off from
// the low-order end of word (Solidity packs from the low end up).
func field(word common.Hash, off, width int) uint64 {
	var v uint64
	for i := 0; i < width; i++ {
		v |= uint64(word[31-off-i]) << (8 * i)
	}
	return v
}

// readBytes reads a Solidity `bytes` value stored at slot. Scripts are
// short, but a bound keeps a corrupt length from reading without end.
func readBytes(st StateReader, addr common.Address, slot common.Hash) ([]byte, error) {
	w := st.GetState(addr, slot)
	if w[31]&1 == 0 { // short form: data in the high bytes, length*2 in the low byte
		n := int(w[31] / 2)
		if n > 31 {
			return nil, fmt.Errorf("tunnel: bytes at %s: bad short length %d", slot, n)
		}
		return append([]byte(nil), w[:n]...), nil
	}
	ln := new(big.Int).SetBytes(w[:])
	ln.Rsh(ln, 1)
	if !ln.IsUint64() || ln.Uint64() > 10_000 {
		return nil, fmt.Errorf("tunnel: bytes at %s: length %s out of range", slot, ln)
	}
	n := int(ln.Uint64())
	out := make([]byte, 0, n)
	data := arrayData(slot)
	for i := 0; len(out) < n; i++ {
		chunk := st.GetState(addr, slotAt(data, uint64(i)))
		out = append(out, chunk[:min(32, n-len(out))]...)
	}
	return out, nil
}

// QueueHead is the queue's counters.
type QueueHead struct {
	NextID        uint64 // the id the next withdrawal or refund gets (ids from 0)
	FirstPending  uint64 // every id below it is paid
	LastBatch     uint64 // the newest batch's number (0: none yet)
	LastShortfall uint64 // the shortfall last flagged (0: none)
}

// ReadQueueHead reads the queue's counters from the predeploy at addr.
func ReadQueueHead(st StateReader, addr common.Address) QueueHead {
	w := st.GetState(addr, nsSlot(offHead))
	return QueueHead{NextID: field(w, 0, 8), FirstPending: field(w, 8, 8), LastBatch: field(w, 16, 8), LastShortfall: field(w, 24, 8)}
}

func itemBase(id uint64) common.Hash {
	var key common.Hash
	binary.BigEndian.PutUint64(key[24:], id)
	return mapSlot(key, nsSlot(offItems))
}

// ReadItem reads queue item id; ok is false when no such item exists.
func ReadItem(st StateReader, addr common.Address, id uint64) (QueueItem, bool, error) {
	base := itemBase(id)
	w0 := st.GetState(addr, base)
	w1 := st.GetState(addr, slotAt(base, 1))
	it := QueueItem{
		ID:          id,
		AmountSat:   field(w0, 0, 8),
		MaxFeeSat:   field(w0, 8, 8),
		L2Block:     field(w0, 16, 8),
		Kind:        uint8(field(w0, 24, 1)),
		Status:      uint8(field(w0, 25, 1)),
		Batch:       field(w1, 0, 8),
		DepositTxid: [32]byte(st.GetState(addr, slotAt(base, 2))),
		DepositVout: uint32(field(w1, 8, 4)),
	}
	copy(it.From[:], w1[0:20])
	if it.Status == 0 {
		return QueueItem{}, false, nil
	}
	s, err := readBytes(st, addr, slotAt(base, 3))
	if err != nil {
		return QueueItem{}, false, fmt.Errorf("tunnel: item %d: %w", id, err)
	}
	it.Script = s
	return it, true, nil
}

// ReadBatch reads the open (or last) batch, its outputs completed from
// their queue items. Batch.Number 0: no batch was ever opened.
func ReadBatch(st StateReader, addr common.Address) (*Batch, error) {
	w0 := st.GetState(addr, nsSlot(offBatch0))
	w1 := st.GetState(addr, nsSlot(offBatch1))
	b := &Batch{
		Number:      field(w0, 0, 8),
		Attempt:     uint32(field(w0, 8, 4)),
		FeeRate:     field(w0, 12, 8),
		BtcHeight:   uint32(field(w0, 20, 4)),
		Open:        field(w0, 24, 1) != 0,
		Refresh:     field(w0, 25, 1) != 0,
		Change:      field(w1, 0, 8),
		Fee:         field(w1, 8, 8),
		RefreshFees: field(w1, 16, 8),
	}
	n, err := arrayLen(st, addr, nsSlot(offInputs), MaxPayoutInputs)
	if err != nil {
		return nil, err
	}
	data := arrayData(nsSlot(offInputs))
	for i := range n {
		txid := st.GetState(addr, slotAt(data, uint64(i*inputSlots)))
		w := st.GetState(addr, slotAt(data, uint64(i*inputSlots+1)))
		b.Inputs = append(b.Inputs, BatchInput{
			OutPoint: wire.OutPoint{Hash: chainhash.Hash(txid), Index: uint32(field(w, 8, 4))},
			Amount:   field(w, 0, 8),
			Height:   uint32(field(w, 12, 4)),
		})
	}
	if n, err = arrayLen(st, addr, nsSlot(offOutputs), MaxPayoutOutputs); err != nil {
		return nil, err
	}
	data = arrayData(nsSlot(offOutputs))
	for i := range n {
		w := st.GetState(addr, slotAt(data, uint64(i*outputSlots)))
		id := field(w, 0, 8)
		it, ok, err := ReadItem(st, addr, id)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("tunnel: batch %d output %d: no queue item %d", b.Number, i, id)
		}
		o := it.output()
		o.Value = field(w, 8, 8)
		b.Outputs = append(b.Outputs, o)
	}
	if n, err = arrayLen(st, addr, nsSlot(offRates), 1<<20); err != nil {
		return nil, err
	}
	data = arrayData(nsSlot(offRates))
	for i := range n {
		w := st.GetState(addr, slotAt(data, uint64(i/4)))
		b.AttemptRates = append(b.AttemptRates, field(w, (i%4)*8, 8))
	}
	return b, nil
}

func arrayLen(st StateReader, addr common.Address, slot common.Hash, limit int) (int, error) {
	w := st.GetState(addr, slot)
	n := new(big.Int).SetBytes(w[:])
	if !n.IsUint64() || n.Uint64() > uint64(limit) {
		return 0, fmt.Errorf("tunnel: array at %s: length %s above %d", slot, n, limit)
	}
	return int(n.Uint64()), nil
}

// postedKey is keccak256(abi.encodePacked(uint64 batch, uint32 attempt)).
func postedKey(batch uint64, attempt uint32) common.Hash {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], batch)
	binary.BigEndian.PutUint32(b[8:], attempt)
	return crypto.Keccak256Hash(b[:])
}

// ReadPosted returns the bitmap of the signer indexes that posted
// signatures for (batch, attempt).
func ReadPosted(st StateReader, addr common.Address, batch uint64, attempt uint32) *big.Int {
	w := st.GetState(addr, mapSlot(postedKey(batch, attempt), nsSlot(offPosted)))
	return new(big.Int).SetBytes(w[:])
}

// ReadFlaggedSpend reports whether the vault spend by txid (wire order)
// was already flagged.
func ReadFlaggedSpend(st StateReader, addr common.Address, txid chainhash.Hash) bool {
	w := st.GetState(addr, mapSlot(common.Hash(txid), nsSlot(offFlagged)))
	return w != (common.Hash{})
}

// ReadPendingSat is the amount of every queued or in-batch item not yet
// paid: what the vault still owes the queue.
func ReadPendingSat(st StateReader, addr common.Address) uint64 {
	return field(st.GetState(addr, nsSlot(offPending)), 0, 8)
}

// ReadPaidBy returns the batch a payout txid (wire order) paid, 0 when it
// paid none.
func ReadPaidBy(st StateReader, addr common.Address, txid chainhash.Hash) uint64 {
	return field(st.GetState(addr, mapSlot(common.Hash(txid), nsSlot(offPaidBy))), 0, 8)
}

// ReadPaidTxid returns the payout (txid, wire order) that paid batch
// number; ok false while it is not marked paid.
func ReadPaidTxid(st StateReader, addr common.Address, number uint64) (chainhash.Hash, bool) {
	var key common.Hash
	binary.BigEndian.PutUint64(key[24:], number)
	w := st.GetState(addr, mapSlot(key, nsSlot(offPaidTxid)))
	return chainhash.Hash(w), w != (common.Hash{})
}

// abiInput and abiOutput mirror the contract's Input and Output structs
// for the ABI encoder (field names are the ABI's, capitalised).
type abiInput struct {
	Txid      [32]byte
	AmountSat uint64
	Vout      uint32
	Height    uint32
}

type abiOutput struct {
	Id       uint64 //nolint:revive // the ABI's field name
	ValueSat uint64
}

func pack(method string, args ...any) ([]byte, error) {
	data, err := WithdrawalsABI.Pack(method, args...)
	if err != nil {
		return nil, fmt.Errorf("tunnel: encode %s: %w", method, err)
	}
	return data, nil
}

// OpenBatchCalldata is the system call writing attempt b.Attempt of b.
func OpenBatchCalldata(b *Batch) ([]byte, error) {
	ins := make([]abiInput, len(b.Inputs))
	for i, in := range b.Inputs {
		ins[i] = abiInput{Txid: in.OutPoint.Hash, AmountSat: in.Amount, Vout: in.OutPoint.Index, Height: in.Height}
	}
	outs := make([]abiOutput, len(b.Outputs))
	for i, o := range b.Outputs {
		outs[i] = abiOutput{Id: o.ID, ValueSat: o.Value}
	}
	return pack("openBatch", b.Number, b.Attempt, b.FeeRate, b.BtcHeight, b.Refresh, b.Change, b.Fee, ins, outs)
}

// MarkPaidCalldata is the system call marking batch number paid by its
// attempt whose payout is txid.
func MarkPaidCalldata(number uint64, attempt uint32, txid chainhash.Hash) ([]byte, error) {
	return pack("markPaid", number, attempt, [32]byte(txid))
}

// FlagVaultSpendCalldata is the system call flagging the spend of vault
// output op (amount) by spender; cancel when it spends an input of the
// open batch.
func FlagVaultSpendCalldata(spender chainhash.Hash, op wire.OutPoint, amountSat uint64, cancel bool) ([]byte, error) {
	return pack("flagVaultSpend", [32]byte(spender), [32]byte(op.Hash), op.Index, amountSat, cancel)
}

// FlagShortfallCalldata is the system call recording the vault's BTC
// against what it owes.
func FlagShortfallCalldata(vaultSat, owedSat uint64) ([]byte, error) {
	return pack("flagShortfall", vaultSat, owedSat)
}

// WithdrawCalldata is a user's withdraw(script, amountSat, maxFeeSat).
func WithdrawCalldata(script []byte, amountSat, maxFeeSat uint64) ([]byte, error) {
	return pack("withdraw", script, amountSat, maxFeeSat)
}

// PostSignaturesCalldata is a signer's postSignatures call.
func PostSignaturesCalldata(batch uint64, attempt uint32, signerIndex uint8, sigs [][]byte) ([]byte, error) {
	return pack("postSignatures", batch, attempt, signerIndex, sigs)
}

// WithdrawalQueuedID decodes the id of a WithdrawalQueued log (the
// indexed first topic after the signature), ok false for any other log.
func WithdrawalQueuedID(topics []common.Hash) (uint64, bool) {
	ev := WithdrawalsABI.Events["WithdrawalQueued"]
	if len(topics) < 2 || topics[0] != ev.ID {
		return 0, false
	}
	return new(big.Int).SetBytes(topics[1][:]).Uint64(), true
}

// StandardWithdrawalScript reports whether the contract's withdraw
// accepts script's type (its dustLimit is non-zero): P2PKH, P2SH, P2WPKH,
// P2WSH or P2TR, matched byte for byte as TunnelWithdrawals.sol does.
// Their dust limits are DustLimit's.
func StandardWithdrawalScript(script []byte) bool {
	n := len(script)
	switch {
	case n == 25 && script[0] == 0x76 && script[1] == 0xa9 && script[2] == 0x14 && script[23] == 0x88 && script[24] == 0xac,
		n == 23 && script[0] == 0xa9 && script[1] == 0x14 && script[22] == 0x87,
		n == 22 && script[0] == 0x00 && script[1] == 0x14,
		n == 34 && script[0] == 0x00 && script[1] == 0x20,
		n == 34 && script[0] == 0x51 && script[1] == 0x20:
		return true
	}
	return false
}

// WithdrawalState is what L2 state says of one queue item (a withdrawal
// or a refund): hemi_getWithdrawal's L2 half.
type WithdrawalState struct {
	Item QueueItem
	// InOpenBatch: the open batch pays it; Batch is that batch, Value
	// what it pays at the current attempt and PayoutTxid that attempt's
	// payout (what the signers sign and broadcast); Posted counts the
	// signers that posted signatures for the attempt, of K needed.
	InOpenBatch bool
	Batch       *Batch
	Value       uint64
	PayoutTxid  chainhash.Hash
	Posted      int
	K           int
	// Paid: the batch paying it was marked paid by PaidTxid.
	Paid     bool
	PaidTxid chainhash.Hash
}

// ReadWithdrawal reads item id of the tunnel predeploy at addr with its
// batch; v builds the payout txid; ok false when no such item exists.
func ReadWithdrawal(st StateReader, addr common.Address, v VaultScripts, id uint64) (*WithdrawalState, bool, error) {
	it, ok, err := ReadItem(st, addr, id)
	if err != nil || !ok {
		return nil, ok, err
	}
	ws := &WithdrawalState{Item: it}
	if _, k, err := CommitteeKeys(v); err == nil {
		ws.K = k
	}
	switch it.Status {
	case StatusPaid:
		ws.Paid = true
		ws.PaidTxid, _ = ReadPaidTxid(st, addr, it.Batch)
	case StatusInBatch:
		b, err := ReadBatch(st, addr)
		if err != nil {
			return nil, false, err
		}
		if !b.Open || b.Number != it.Batch {
			return nil, false, fmt.Errorf("tunnel: item %d is in batch %d, the open batch is %d", id, it.Batch, b.Number)
		}
		ws.InOpenBatch, ws.Batch = true, b
		for _, o := range b.Outputs {
			if o.ID == id {
				ws.Value = o.Value
			}
		}
		tx, err := BuildPayout(b, v)
		if err != nil {
			return nil, false, fmt.Errorf("tunnel: payout of batch %d: %w", b.Number, err)
		}
		ws.PayoutTxid = tx.TxHash()
		ws.Posted = popCount(ReadPosted(st, addr, b.Number, b.Attempt))
	}
	return ws, true, nil
}

func popCount(b *big.Int) int {
	n := 0
	for _, w := range b.Bits() {
		for ; w != 0; w &= w - 1 {
			n++
		}
	}
	return n
}
