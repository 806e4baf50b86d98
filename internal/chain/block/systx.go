package block

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
)

// SystemTxType is the EIP-2718 type byte of a system transaction, the same
// as the OP Stack's deposit transaction type.
const SystemTxType = 0x7E

// MaxSystemTxDataSize bounds SystemTx.Data. The largest system transaction
// Hemi derives (the Bitcoin view update) carries a few hundred bytes; the
// bound keeps a decoder fed hostile input from allocating without limit.
const MaxSystemTxDataSize = 64 * 1024

// MaxSystemTxSize bounds one encoded system transaction: the data plus
// room for every other field and the RLP headers.
const MaxSystemTxSize = MaxSystemTxDataSize + 512

// Errors returned by the decoders and checks of this package. Callers
// match them with errors.Is; they are wrapped with context.
var (
	// ErrSystemTxType: the encoding does not start with SystemTxType.
	ErrSystemTxType = errors.New("block: not a system transaction (type 0x7e)")
	// ErrSystemTxEncoding: the RLP after the type byte is not the
	// canonical encoding of the eight system transaction fields.
	ErrSystemTxEncoding = errors.New("block: malformed system transaction")
	// ErrSystemTxTooLarge: the encoding or its data exceeds the bounds.
	ErrSystemTxTooLarge = errors.New("block: system transaction too large")
	// ErrSystemTxValue: Mint or Value is negative or wider than 256 bits.
	ErrSystemTxValue = errors.New("block: system transaction amount out of range")
)

// SystemTx is a Bitcoin-derived system transaction (DESIGN 3.3): the OP
// Stack deposit envelope, type 0x7E, with no signature and no fee. Every
// node derives the system transactions of a block from the block's Bitcoin
// view and compares them with those the block carries.
//
// Its encoding is 0x7E || RLP([SourceHash, From, To, Mint, Value, Gas,
// IsSystemTx, Data]), field for field the OP Stack's DepositTx, so OP
// tooling decodes it and an OP block's transactionsRoot is computed the
// same way (TxRoot). To == nil is contract creation (RLP empty string);
// Mint == nil and Mint == 0 encode the same (empty string) and decode to
// nil; Value == nil encodes as 0 and decodes to a non-nil 0.
type SystemTx struct {
	// SourceHash makes the transaction unique and says where it came from
	// (SourceHash); it is what makes two system transactions with the same
	// fields different transactions.
	SourceHash common.Hash
	// From is the sender. No signature: the block processor executes it
	// as From because the consensus rules derived it.
	From common.Address
	// To is the recipient; nil creates a contract.
	To *common.Address
	// Mint is wei credited to From before execution (nil = none).
	Mint *big.Int
	// Value is wei transferred from From to To.
	Value *big.Int
	// Gas is the gas limit of the execution.
	Gas uint64
	// IsSystemTx is the OP Stack's pre-Regolith flag, kept so the encoding
	// is field for field OP's. Hemi's consensus rules decide what it means
	// (the chain package); everything this repository derives sets it
	// false.
	IsSystemTx bool
	// Data is the call data (or init code when To is nil).
	Data []byte
}

// systemTxRLP is the wire form; the rlp:"nil" tags give OP's encoding.
type systemTxRLP struct {
	SourceHash common.Hash
	From       common.Address
	To         *common.Address `rlp:"nil"`
	Mint       *big.Int        `rlp:"nil"`
	Value      *big.Int
	Gas        uint64
	IsSystemTx bool
	Data       []byte
}

// checkAmount rejects what a uint256 cannot hold.
func checkAmount(name string, v *big.Int) error {
	if v == nil {
		return nil
	}
	if v.Sign() < 0 || v.BitLen() > 256 {
		return fmt.Errorf("%w: %s %v", ErrSystemTxValue, name, v)
	}
	return nil
}

// Validate checks the bounds every encodable system transaction obeys.
func (tx *SystemTx) Validate() error {
	if err := checkAmount("mint", tx.Mint); err != nil {
		return err
	}
	if err := checkAmount("value", tx.Value); err != nil {
		return err
	}
	if len(tx.Data) > MaxSystemTxDataSize {
		return fmt.Errorf("%w: data is %d bytes, max %d", ErrSystemTxTooLarge, len(tx.Data), MaxSystemTxDataSize)
	}
	return nil
}

// MarshalBinary returns 0x7E || RLP(fields). It fails only on a
// transaction Validate rejects.
func (tx *SystemTx) MarshalBinary() ([]byte, error) {
	if err := tx.Validate(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteByte(SystemTxType)
	if err := rlp.Encode(&buf, tx.wire()); err != nil {
		return nil, fmt.Errorf("block: encode system transaction: %w", err)
	}
	return buf.Bytes(), nil
}

func (tx *SystemTx) wire() *systemTxRLP {
	mint := tx.Mint
	if mint != nil && mint.Sign() == 0 {
		mint = nil
	}
	value := tx.Value
	if value == nil {
		value = new(big.Int)
	}
	return &systemTxRLP{
		SourceHash: tx.SourceHash,
		From:       tx.From,
		To:         tx.To,
		Mint:       mint,
		Value:      value,
		Gas:        tx.Gas,
		IsSystemTx: tx.IsSystemTx,
		Data:       tx.Data,
	}
}

// UnmarshalBinary decodes 0x7E || RLP(fields) strictly: the type byte, a
// canonical RLP list of exactly eight fields with nothing after it, a
// 20-byte or empty To, amounts of at most 256 bits, data within
// MaxSystemTxDataSize. Any input that decodes re-encodes to the same
// bytes. On error tx is left unchanged.
func (tx *SystemTx) UnmarshalBinary(b []byte) error {
	if len(b) == 0 || b[0] != SystemTxType {
		return ErrSystemTxType
	}
	if len(b) > MaxSystemTxSize {
		return fmt.Errorf("%w: %d bytes, max %d", ErrSystemTxTooLarge, len(b), MaxSystemTxSize)
	}
	var dec systemTxRLP
	if err := rlp.DecodeBytes(b[1:], &dec); err != nil {
		return fmt.Errorf("%w: %w", ErrSystemTxEncoding, err)
	}
	out := SystemTx{
		SourceHash: dec.SourceHash,
		From:       dec.From,
		To:         dec.To,
		Mint:       dec.Mint,
		Value:      dec.Value,
		Gas:        dec.Gas,
		IsSystemTx: dec.IsSystemTx,
		Data:       dec.Data,
	}
	if out.Value == nil {
		out.Value = new(big.Int)
	}
	if err := out.Validate(); err != nil {
		return err
	}
	// rlp rejects non-canonical sizes and integers (leading zeros), so
	// the only spelling of a zero Mint is the empty string, which is also
	// how nil encodes: normalise it to nil, as OP does.
	if out.Mint != nil && out.Mint.Sign() == 0 {
		out.Mint = nil
	}
	*tx = out
	return nil
}

// Hash is keccak256(MarshalBinary()), the transaction hash tools show (as
// for an OP deposit). The zero hash if tx does not validate.
func (tx *SystemTx) Hash() common.Hash {
	b, err := tx.MarshalBinary()
	if err != nil {
		return common.Hash{}
	}
	return crypto.Keccak256Hash(b)
}

// Copy returns a deep copy.
func (tx *SystemTx) Copy() *SystemTx {
	cp := *tx
	if tx.To != nil {
		to := *tx.To
		cp.To = &to
	}
	if tx.Mint != nil {
		cp.Mint = new(big.Int).Set(tx.Mint)
	}
	if tx.Value != nil {
		cp.Value = new(big.Int).Set(tx.Value)
	}
	if tx.Data != nil {
		cp.Data = bytes.Clone(tx.Data)
	}
	return &cp
}

// Equal reports whether a and b encode the same (so nil and zero Mint, and
// nil and zero Value, are equal). This is the comparison a node makes
// between the system transactions it derives and those a block carries.
func (tx *SystemTx) Equal(o *SystemTx) bool {
	if tx == nil || o == nil {
		return tx == o
	}
	a, errA := tx.MarshalBinary()
	b, errB := o.MarshalBinary()
	return errA == nil && errB == nil && bytes.Equal(a, b)
}

// SourceDomain says what kind of Bitcoin-derived work a system transaction
// is; it is hashed into the SourceHash so the kinds cannot collide.
type SourceDomain uint64

// Source domains. OP uses 0 (user deposit), 1 (L1 info) and 2 (upgrade);
// Hemi's kinds are numbered from 0x100 so a Hemi source hash never equals
// an OP one for the same inputs.
const (
	// DomainBitcoinView: the Bitcoin view update, the first system
	// transaction of every block. Hash = the view's Bitcoin block hash,
	// Index = the L2 block number (the view may stay the same for several
	// L2 blocks; the number keeps every block's update distinct).
	DomainBitcoinView SourceDomain = 0x100
	// DomainTunnelDeposit: a tunnel deposit. Hash = the deposit's Bitcoin
	// txid, Index = the vault output's index (vout): one source hash per
	// outpoint, so a deposit is minted exactly once.
	DomainTunnelDeposit SourceDomain = 0x101
	// DomainPoPReward: a PoP reward. Hash = the Bitcoin txid of the PoP
	// transaction that published the keystone, Index = the index (vout)
	// of the OP_RETURN output carrying it: one source hash per
	// publication, and an output publishes one keystone, so a
	// publication is paid at most once.
	DomainPoPReward SourceDomain = 0x102
)

// String names the domain.
func (d SourceDomain) String() string {
	switch d {
	case DomainBitcoinView:
		return "bitcoin-view"
	case DomainTunnelDeposit:
		return "tunnel-deposit"
	case DomainPoPReward:
		return "pop-reward"
	}
	return fmt.Sprintf("domain(%#x)", uint64(d))
}

// SourceHash is keccak256(uint256(domain) || keccak256(hash || uint256(index))),
// the OP Stack's deposit source hash construction with Hemi's domains. A
// Bitcoin hash (block hash, txid) is hashed in Bitcoin's internal byte
// order, the 32 bytes of a chainhash.Hash (the reverse of what explorers
// print).
func SourceHash(domain SourceDomain, hash [32]byte, index uint64) common.Hash {
	var inner [64]byte
	copy(inner[:32], hash[:])
	binary.BigEndian.PutUint64(inner[56:], index)
	innerHash := crypto.Keccak256(inner[:])
	var outer [64]byte
	binary.BigEndian.PutUint64(outer[24:32], uint64(domain))
	copy(outer[32:], innerHash)
	return crypto.Keccak256Hash(outer[:])
}
