package popm

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/tyler-smith/go-bip39"

	"github.com/hemi-go/hemi/internal/btc/txgen"
)

// Errors of the wallet.
var (
	// ErrSecret: the secret is neither a BIP-39 mnemonic, an extended
	// private key nor a WIF, or is for another network. Its text never
	// contains the secret.
	ErrSecret = errors.New("popm: bad wallet secret")
	// ErrWalletEmpty: no spendable output can pay for a PoP transaction;
	// the error names the address to fund.
	ErrWalletEmpty = errors.New("popm: wallet cannot pay for a PoP transaction")
)

// Kind is the output type of the wallet's key.
type Kind uint8

// Wallet kinds.
const (
	// P2WPKH is BIP-84 (m/84'/coin'/0'/0/0): the smallest PoP transaction.
	P2WPKH Kind = iota + 1
	// P2TR is BIP-86 key-path taproot (m/86'/coin'/0'/0/0).
	P2TR
)

// String names the kind as config files do.
func (k Kind) String() string {
	switch k {
	case P2WPKH:
		return "p2wpkh"
	case P2TR:
		return "p2tr"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind reads "p2wpkh" or "p2tr" ("" is p2wpkh).
func ParseKind(s string) (Kind, error) {
	switch strings.ToLower(s) {
	case "", "p2wpkh":
		return P2WPKH, nil
	case "p2tr":
		return P2TR, nil
	}
	return 0, fmt.Errorf("%w: wallet kind %q: want p2wpkh or p2tr", ErrSecret, s)
}

// SecretKind says what ParseSecret found.
type SecretKind string

// Secret kinds.
const (
	SecretMnemonic SecretKind = "BIP-39 mnemonic"
	SecretXprv     SecretKind = "extended private key"
	SecretWIF      SecretKind = "WIF private key"
)

// Wallet is the PoP miner's one signing key and its output script. It is
// immutable and safe for concurrent use.
type Wallet struct {
	kind    Kind
	params  *chaincfg.Params
	priv    *btcec.PrivateKey
	pub     *btcec.PublicKey
	tapPriv *btcec.PrivateKey // BIP-86 tweaked key (P2TR only)
	script  []byte
	addr    address.Address
	source  SecretKind
	path    string // derivation path, "" for a WIF
}

// ParseSecret builds the wallet from a secret, auto-detecting a BIP-39
// mnemonic (English word list, empty passphrase), an extended private key
// (xprv/tprv at depth 0 (master) or 3 (the BIP-84/86 account)), or a WIF.
// HD secrets derive m/84'/coin'/0'/0/0 (P2WPKH) or m/86'/coin'/0'/0/0
// (P2TR); coin is params.HDCoinType. Errors never include the secret.
func ParseSecret(secret string, kind Kind, params *chaincfg.Params) (*Wallet, error) {
	if params == nil {
		return nil, fmt.Errorf("%w: no network", ErrSecret)
	}
	if kind != P2WPKH && kind != P2TR {
		return nil, fmt.Errorf("%w: unknown wallet kind %d", ErrSecret, kind)
	}
	s := strings.TrimSpace(secret)
	if s == "" {
		return nil, fmt.Errorf("%w: the secret is empty", ErrSecret)
	}
	if strings.ContainsFunc(s, unicode.IsSpace) {
		words := strings.Fields(strings.ToLower(s))
		m := strings.Join(words, " ")
		if !bip39.IsMnemonicValid(m) {
			return nil, fmt.Errorf("%w: %d words that are not a valid BIP-39 mnemonic (English word list, checksum)", ErrSecret, len(words))
		}
		seed := bip39.NewSeed(m, "")
		master, err := hdkeychain.NewMaster(seed, params)
		if err != nil {
			return nil, fmt.Errorf("%w: master key: %w", ErrSecret, err)
		}
		return fromExtended(master, kind, params, SecretMnemonic)
	}
	if ek, err := hdkeychain.NewKeyFromString(s); err == nil {
		if !ek.IsPrivate() {
			return nil, fmt.Errorf("%w: an extended public key cannot sign; give the private key", ErrSecret)
		}
		if !ek.IsForNet(params) {
			return nil, fmt.Errorf("%w: the extended key is not for %s", ErrSecret, params.Name)
		}
		return fromExtended(ek, kind, params, SecretXprv)
	}
	w, err := btcutil.DecodeWIF(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not a mnemonic, an extended private key or a WIF", ErrSecret)
	}
	if !w.IsForNet(params) {
		return nil, fmt.Errorf("%w: the WIF is not for %s", ErrSecret, params.Name)
	}
	if !w.CompressPubKey {
		return nil, fmt.Errorf("%w: the WIF is for an uncompressed key, which segwit outputs cannot use", ErrSecret)
	}
	return newWallet(w.PrivKey, kind, params, SecretWIF, "")
}

func purpose(kind Kind) uint32 {
	if kind == P2TR {
		return 86
	}
	return 84
}

func fromExtended(ek *hdkeychain.ExtendedKey, kind Kind, params *chaincfg.Params, src SecretKind) (*Wallet, error) {
	const h = hdkeychain.HardenedKeyStart
	var path []uint32
	p := fmt.Sprintf("m/%d'/%d'/0'/0/0", purpose(kind), params.HDCoinType)
	switch ek.Depth() {
	case 0:
		path = []uint32{h + purpose(kind), h + params.HDCoinType, h, 0, 0}
	case 3:
		path = []uint32{0, 0}
		p = "account/0/0"
	default:
		return nil, fmt.Errorf("%w: extended key at depth %d: give the master key (depth 0) or the account key (depth 3)", ErrSecret, ek.Depth())
	}
	k := ek
	for _, i := range path {
		var err error
		if k, err = k.Derive(i); err != nil {
			return nil, fmt.Errorf("%w: derive %s: %w", ErrSecret, p, err)
		}
	}
	priv, err := k.ECPrivKey()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSecret, err)
	}
	return newWallet(priv, kind, params, src, p)
}

func newWallet(priv *btcec.PrivateKey, kind Kind, params *chaincfg.Params, src SecretKind, path string) (*Wallet, error) {
	w := &Wallet{kind: kind, params: params, priv: priv, pub: priv.PubKey(), source: src, path: path}
	var err error
	switch kind {
	case P2WPKH:
		w.addr, err = address.NewAddressWitnessPubKeyHash(address.Hash160(w.pub.SerializeCompressed()), params)
	case P2TR:
		out := txscript.ComputeTaprootKeyNoScript(w.pub)
		w.addr, err = address.NewAddressTaproot(schnorr.SerializePubKey(out), params)
		w.tapPriv = txscript.TweakTaprootPrivKey(*priv, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: address: %w", ErrSecret, err)
	}
	if w.script, err = txscript.PayToAddrScript(w.addr); err != nil {
		return nil, fmt.Errorf("%w: script: %w", ErrSecret, err)
	}
	return w, nil
}

// Kind returns the wallet's output type.
func (w *Wallet) Kind() Kind { return w.kind }

// Address returns the address the wallet receives on (fund it here).
func (w *Wallet) Address() address.Address { return w.addr }

// Script returns the wallet's output script (do not modify).
func (w *Wallet) Script() []byte { return w.script }

// Source says what kind of secret the wallet came from and the
// derivation path ("" for a WIF).
func (w *Wallet) Source() (SecretKind, string) { return w.source, w.path }

// Params returns the wallet's network.
func (w *Wallet) Params() *chaincfg.Params { return w.params }

// RewardAddress is the L2 (Ethereum) address PoP rewards are paid to: the
// address of the secp256k1 key that signs the PoP transaction's first
// input (the P2WPKH witness public key; for P2TR the taproot output key,
// with even Y as BIP-340 lifts it).
func (w *Wallet) RewardAddress() common.Address {
	pub := w.pub
	if w.kind == P2TR {
		out := txscript.ComputeTaprootKeyNoScript(w.pub)
		if p, err := schnorr.ParsePubKey(schnorr.SerializePubKey(out)); err == nil {
			pub = p
		}
	}
	ep, err := crypto.DecompressPubkey(pub.SerializeCompressed())
	if err != nil {
		// A key btcec accepted is on the curve; this cannot happen.
		panic(fmt.Sprintf("popm: decompress a valid public key: %v", err))
	}
	return crypto.PubkeyToAddress(*ep)
}

// UTXO is c as an input txgen.Sign can sign with the wallet's key
// (P2WPKH or BIP-86 P2TR key path), for commands that spend the wallet's
// coins in other transactions (`hemi deposit`).
func (w *Wallet) UTXO(c Coin) txgen.UTXO {
	kind := txgen.P2WPKH
	if w.kind == P2TR {
		kind = txgen.P2TR
	}
	return txgen.UTXO{OutPoint: c.OutPoint, Value: c.Value, Key: txgen.NewKey(w.priv), Kind: kind}
}
