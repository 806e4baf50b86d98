package txgen

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/txscript/v2"
)

// Kind is the type of output a key receives and spends.
type Kind uint8

// Output kinds the wallet can spend.
const (
	P2WPKH Kind = iota + 1 // segwit v0 pay-to-witness-pubkey-hash
	P2TR                   // segwit v1 taproot, key path only (BIP 86)
)

// ErrKind is returned for an output kind the wallet cannot handle.
var ErrKind = errors.New("txgen: unknown output kind")

// String names the kind.
func (k Kind) String() string {
	switch k {
	case P2WPKH:
		return "p2wpkh"
	case P2TR:
		return "p2tr"
	default:
		return fmt.Sprintf("kind(%d)", uint8(k))
	}
}

// Key is one deterministic key pair with its output scripts precomputed.
// A Key is immutable after DeriveKey and safe for concurrent use.
type Key struct {
	Index uint32
	Priv  *btcec.PrivateKey
	Pub   *btcec.PublicKey

	pubCompressed []byte
	p2wpkhScript  []byte
	p2trScript    []byte
	tapPriv       *btcec.PrivateKey // BIP 86 tweaked key for key-path spends
}

// DeriveKey returns the key at index for seed: the private key is
// SHA-256(seed || "txgen" || index), re-hashed in the negligible case that
// it is zero or not below the curve order.
func DeriveKey(seed []byte, index uint32) *Key {
	var idx [4]byte
	binary.BigEndian.PutUint32(idx[:], index)
	h := sha256.New()
	h.Write(seed)
	h.Write([]byte("txgen"))
	h.Write(idx[:])
	sum := h.Sum(nil)
	var priv *btcec.PrivateKey
	for {
		var s btcec.ModNScalar
		overflow := s.SetByteSlice(sum)
		if !overflow && !s.IsZero() {
			priv = btcec.PrivKeyFromScalar(&s)
			break
		}
		next := sha256.Sum256(sum)
		sum = next[:]
	}
	return newKey(index, priv)
}

// NewKey is the Key of priv (Index 0): a wallet's own key, so txgen can
// build and sign its spends.
func NewKey(priv *btcec.PrivateKey) *Key { return newKey(0, priv) }

func newKey(index uint32, priv *btcec.PrivateKey) *Key {
	pub := priv.PubKey()
	k := &Key{Index: index, Priv: priv, Pub: pub, pubCompressed: pub.SerializeCompressed()}
	hash := address.Hash160(k.pubCompressed)
	k.p2wpkhScript = append([]byte{txscript.OP_0, txscript.OP_DATA_20}, hash...)
	outKey := txscript.ComputeTaprootKeyNoScript(pub)
	k.p2trScript = append([]byte{txscript.OP_1, txscript.OP_DATA_32}, schnorr.SerializePubKey(outKey)...)
	k.tapPriv = txscript.TweakTaprootPrivKey(*priv, nil)
	return k
}

// PkScript returns the output script paying this key as kind. The returned
// slice must not be modified.
func (k *Key) PkScript(kind Kind) ([]byte, error) {
	switch kind {
	case P2WPKH:
		return k.p2wpkhScript, nil
	case P2TR:
		return k.p2trScript, nil
	default:
		return nil, fmt.Errorf("%w: %d", ErrKind, kind)
	}
}

// Address returns the address of this key as kind on the network params.
func (k *Key) Address(kind Kind, params *chaincfg.Params) (address.Address, error) {
	switch kind {
	case P2WPKH:
		return address.NewAddressWitnessPubKeyHash(k.p2wpkhScript[2:], params)
	case P2TR:
		return address.NewAddressTaproot(k.p2trScript[2:], params)
	default:
		return nil, fmt.Errorf("%w: %d", ErrKind, kind)
	}
}

// Wallet hands out keys of one seed, deriving each once. It is safe for
// concurrent use.
type Wallet struct {
	seed []byte

	mu   sync.Mutex
	keys map[uint32]*Key
}

// NewWallet returns a wallet over seed (copied).
func NewWallet(seed []byte) *Wallet {
	return &Wallet{seed: append([]byte(nil), seed...), keys: make(map[uint32]*Key)}
}

// Key returns the key at index, deriving it on first use.
func (w *Wallet) Key(index uint32) *Key {
	w.mu.Lock()
	defer w.mu.Unlock()
	if k, ok := w.keys[index]; ok {
		return k
	}
	k := DeriveKey(w.seed, index)
	w.keys[index] = k
	return k
}
