package pop

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Sizes of the wire format.
const (
	KeystoneSize = 76
	PayloadSize  = len(Magic) + KeystoneSize // 80
	ScriptSize   = 3 + PayloadSize           // 83: OP_RETURN OP_PUSHDATA1 0x50 payload

	// KeystoneVersion is the only version defined.
	KeystoneVersion = 1
)

// Magic opens every PoP payload.
const Magic = "HEMI"

const (
	opReturn    = 0x6a
	opPushdata1 = 0x4c
)

// Errors returned by the decoders; callers test them with errors.Is.
var (
	ErrLength  = errors.New("pop: wrong length")
	ErrMagic   = errors.New("pop: wrong magic")
	ErrVersion = errors.New("pop: unsupported keystone version")
	ErrScript  = errors.New("pop: not a PoP output script")
)

// Keystone is the abbreviated form of an L2 keystone block.
type Keystone struct {
	Version       uint8
	BTCViewHeight uint32
	L2Number      uint32
	ParentPrefix  [11]byte // first 11 bytes of the parent hash
	PrevKeystone  [12]byte // first 12 bytes of the previous keystone's hash
	StateRoot     [32]byte
	BlockPrefix   [12]byte // first 12 bytes of the block hash
}

// Encode returns the 76-byte abbreviated keystone.
func (k *Keystone) Encode() [KeystoneSize]byte {
	var b [KeystoneSize]byte
	b[0] = k.Version
	binary.BigEndian.PutUint32(b[1:5], k.BTCViewHeight)
	binary.BigEndian.PutUint32(b[5:9], k.L2Number)
	copy(b[9:20], k.ParentPrefix[:])
	copy(b[20:32], k.PrevKeystone[:])
	copy(b[32:64], k.StateRoot[:])
	copy(b[64:76], k.BlockPrefix[:])
	return b
}

// ID is the double-SHA256 of the 76 encoded bytes, in hash (wire) order.
func (k *Keystone) ID() [32]byte {
	b := k.Encode()
	first := sha256.Sum256(b[:])
	return sha256.Sum256(first[:])
}

// DecodeKeystone parses 76 bytes. It rejects any version but 1.
func DecodeKeystone(b []byte) (Keystone, error) {
	var k Keystone
	if len(b) != KeystoneSize {
		return k, fmt.Errorf("%w: keystone is %d bytes, want %d", ErrLength, len(b), KeystoneSize)
	}
	if b[0] != KeystoneVersion {
		return k, fmt.Errorf("%w: %d", ErrVersion, b[0])
	}
	k.Version = b[0]
	k.BTCViewHeight = binary.BigEndian.Uint32(b[1:5])
	k.L2Number = binary.BigEndian.Uint32(b[5:9])
	copy(k.ParentPrefix[:], b[9:20])
	copy(k.PrevKeystone[:], b[20:32])
	copy(k.StateRoot[:], b[32:64])
	copy(k.BlockPrefix[:], b[64:76])
	return k, nil
}

// Payload returns the 80-byte PoP payload: "HEMI" followed by the keystone.
func (k *Keystone) Payload() [PayloadSize]byte {
	var p [PayloadSize]byte
	copy(p[:], Magic)
	enc := k.Encode()
	copy(p[len(Magic):], enc[:])
	return p
}

// DecodePayload parses an 80-byte payload.
func DecodePayload(p []byte) (Keystone, error) {
	if len(p) != PayloadSize {
		return Keystone{}, fmt.Errorf("%w: payload is %d bytes, want %d", ErrLength, len(p), PayloadSize)
	}
	if !bytes.Equal(p[:len(Magic)], []byte(Magic)) {
		return Keystone{}, ErrMagic
	}
	return DecodeKeystone(p[len(Magic):])
}

// Script returns the 83-byte output script that publishes the keystone.
func (k *Keystone) Script() []byte {
	s := make([]byte, 0, ScriptSize)
	s = append(s, opReturn, opPushdata1, byte(PayloadSize))
	p := k.Payload()
	return append(s, p[:]...)
}

// ParseScript returns the keystone a PoP output script publishes. Scripts
// that are not OP_RETURN pushes of exactly 80 bytes give ErrScript; pushes of
// the right size with a wrong magic or version give ErrMagic or ErrVersion.
func ParseScript(script []byte) (Keystone, error) {
	if len(script) != ScriptSize || script[0] != opReturn || script[1] != opPushdata1 || int(script[2]) != PayloadSize {
		return Keystone{}, ErrScript
	}
	return DecodePayload(script[3:])
}
