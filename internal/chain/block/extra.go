package block

import (
	"crypto/ecdsa"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

// The header Extra record (DESIGN 3.2), integers big-endian:
//
//	offset  size  field
//	0       1     version (ExtraVersion = 1)
//	1       4     Bitcoin view height (u32)
//	5       32    Bitcoin view block hash, display byte order (as explorers print it)
//	37      65    seal: secp256k1 signature [R || S || V], V in {0, 1}, low S,
//	              over SealHash(header); absent in an unsealed record
//
// A sealed record is ExtraSize (102) bytes, an unsealed one (the genesis
// block's, and the form the seal signs) ExtraUnsealedSize (37). Nothing
// else decodes. go-ethereum's own header verification limits Extra to 32
// bytes; Hemi never runs it (its processor validates headers itself), and
// Ethereum tools print Extra as opaque hex.
const (
	// ExtraVersion is the only record version this code reads and writes.
	ExtraVersion = 1
	// ExtraUnsealedSize is the length of a record without its seal.
	ExtraUnsealedSize = 1 + 4 + 32
	// SealSize is the length of the seal.
	SealSize = crypto.SignatureLength
	// ExtraSize is the length of a sealed record.
	ExtraSize = ExtraUnsealedSize + SealSize
)

// Errors of the Extra record and the seal.
var (
	// ErrExtraEncoding: Extra is not a version-1 record of 37 or 102 bytes.
	ErrExtraEncoding = errors.New("block: malformed header extra record")
	// ErrExtraVersion: the record's version is not ExtraVersion.
	ErrExtraVersion = errors.New("block: unknown header extra record version")
	// ErrUnsealed: the header carries no seal.
	ErrUnsealed = errors.New("block: header is not sealed")
	// ErrBadSeal: the seal is not a valid signature (V not 0/1, high S,
	// R or S out of range, or no key recovers from it).
	ErrBadSeal = errors.New("block: invalid header seal")
)

// Extra is the decoded header Extra record: the Bitcoin view the block
// executes against and, if sealed, the sequencer's signature.
type Extra struct {
	// BitcoinHeight is the height of the view's Bitcoin block.
	BitcoinHeight uint32
	// BitcoinHash is the view's Bitcoin block hash (a chainhash.Hash,
	// internal byte order in memory; written in display order).
	BitcoinHash chainhash.Hash
	// Seal is nil (unsealed) or the SealSize-byte signature.
	Seal []byte
}

// Sealed reports whether the record carries a seal.
func (e *Extra) Sealed() bool { return e.Seal != nil }

// Encode returns the record's bytes: ExtraUnsealedSize without a seal,
// ExtraSize with one. A Seal of another length is an error.
func (e *Extra) Encode() ([]byte, error) {
	if e.Seal != nil && len(e.Seal) != SealSize {
		return nil, fmt.Errorf("%w: seal is %d bytes, want %d", ErrExtraEncoding, len(e.Seal), SealSize)
	}
	out := e.unsealed()
	return append(out, e.Seal...), nil
}

func (e *Extra) unsealed() []byte {
	out := make([]byte, ExtraUnsealedSize, ExtraSize)
	out[0] = ExtraVersion
	binary.BigEndian.PutUint32(out[1:5], e.BitcoinHeight)
	for i := range chainhash.HashSize {
		out[5+i] = e.BitcoinHash[chainhash.HashSize-1-i]
	}
	return out
}

// DecodeExtra decodes a header's Extra strictly: version ExtraVersion and
// exactly ExtraUnsealedSize or ExtraSize bytes. The seal's signature is
// not checked here (Signer does).
func DecodeExtra(b []byte) (Extra, error) {
	if len(b) == 0 {
		return Extra{}, fmt.Errorf("%w: empty", ErrExtraEncoding)
	}
	if b[0] != ExtraVersion {
		return Extra{}, fmt.Errorf("%w: %d", ErrExtraVersion, b[0])
	}
	if len(b) != ExtraUnsealedSize && len(b) != ExtraSize {
		return Extra{}, fmt.Errorf("%w: %d bytes, want %d or %d", ErrExtraEncoding, len(b), ExtraUnsealedSize, ExtraSize)
	}
	var e Extra
	e.BitcoinHeight = binary.BigEndian.Uint32(b[1:5])
	for i := range chainhash.HashSize {
		e.BitcoinHash[i] = b[5+chainhash.HashSize-1-i]
	}
	if len(b) == ExtraSize {
		e.Seal = append([]byte(nil), b[ExtraUnsealedSize:]...)
	}
	return e, nil
}

// HeaderExtra decodes h.Extra.
func HeaderExtra(h *types.Header) (Extra, error) {
	return DecodeExtra(h.Extra)
}

// SealHash is what the sequencer signs: keccak256(RLP(h)) with h.Extra
// replaced by its record without the seal. It fails if h.Extra does not
// decode.
func SealHash(h *types.Header) (common.Hash, error) {
	e, err := DecodeExtra(h.Extra)
	if err != nil {
		return common.Hash{}, err
	}
	cp := types.CopyHeader(h)
	cp.Extra = e.unsealed()
	return cp.Hash(), nil
}

// Seal signs h with key and writes the sealed record into h.Extra,
// replacing any previous seal. h.Extra must already hold the record (sealed
// or not) naming the block's Bitcoin view; every other header field must be
// final, since the seal covers all of them.
func Seal(h *types.Header, key *ecdsa.PrivateKey) error {
	e, err := DecodeExtra(h.Extra)
	if err != nil {
		return err
	}
	e.Seal = nil
	h.Extra = e.unsealed()
	hash := h.Hash()
	sig, err := crypto.Sign(hash[:], key)
	if err != nil {
		return fmt.Errorf("block: seal: %w", err)
	}
	h.Extra = append(h.Extra, sig...)
	return nil
}

// Signer recovers the address that sealed h. It fails with ErrUnsealed,
// ErrBadSeal or an Extra decoding error; whether the address is an
// authorised sequencer is the caller's rule.
func Signer(h *types.Header) (common.Address, error) {
	e, err := DecodeExtra(h.Extra)
	if err != nil {
		return common.Address{}, err
	}
	if !e.Sealed() {
		return common.Address{}, ErrUnsealed
	}
	hash, err := SealHash(h)
	if err != nil {
		return common.Address{}, err
	}
	from, err := RecoverSeal(hash, e.Seal)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: %w", ErrBadSeal, err)
	}
	return from, nil
}

// RecoverSeal recovers the address whose key signed hash with sig (a
// SealSize-byte signature, V 0 or 1, low S).
// Signer uses it for a header's seal, and the L2 network's
// pending-transaction feed for a batch's.
func RecoverSeal(hash common.Hash, sig []byte) (common.Address, error) {
	if len(sig) != SealSize {
		return common.Address{}, fmt.Errorf("signature of %d bytes, want %d", len(sig), SealSize)
	}
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:64])
	if v := sig[64]; v > 1 || !crypto.ValidateSignatureValues(v, r, s, true) {
		return common.Address{}, errors.New("signature values out of range")
	}
	pub, err := crypto.SigToPub(hash[:], sig)
	if err != nil {
		return common.Address{}, fmt.Errorf("signature does not recover: %w", err)
	}
	return crypto.PubkeyToAddress(*pub), nil
}
