package signer

import (
	"crypto/ecdsa"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/tyler-smith/go-bip39"
)

// Environment variables the keys are read from when no file is given.
// Secrets never come from flags (shell history, process listings).
const (
	KeyEnv   = "HEMI_SIGNER_KEY"    // the committee (Schnorr) key
	L2KeyEnv = "HEMI_SIGNER_L2_KEY" // the L2 account that pays for posts
)

// ErrKey is a key that cannot be read or parsed; it never includes the
// secret.
var ErrKey = errors.New("signer: key")

// DefaultL2Path is the L2 account's derivation path for a mnemonic
// (Ethereum's, as wallets and the devnet's dev accounts use).
const DefaultL2Path = "m/44'/60'/0'/0/0"

// readSecret reads a secret from path, else from the environment.
func readSecret(path, env, what string) (text, src string, err error) {
	switch {
	case path != "":
		b, err := os.ReadFile(path)
		if err != nil {
			return "", "", fmt.Errorf("%w: read %s file: %w", ErrKey, what, err)
		}
		return string(b), path, nil
	case os.Getenv(env) != "":
		return os.Getenv(env), "$" + env, nil
	}
	return "", "", fmt.Errorf("%w: no %s: give its file or set %s", ErrKey, what, env)
}

// LoadKey reads the committee key from path (else $HEMI_SIGNER_KEY): a
// WIF, or a BIP-39 mnemonic or xprv/tprv master key derived along
// keyPath (e.g. the devnet's signer i: m/86'/1'/0'/0/i).
func LoadKey(path, keyPath string, params *chaincfg.Params) (*btcec.PrivateKey, error) {
	text, src, err := readSecret(path, KeyEnv, "signer key")
	if err != nil {
		return nil, err
	}
	k, err := ParseKey(text, keyPath, params)
	if err != nil {
		return nil, fmt.Errorf("signer key from %s: %w", src, err)
	}
	return k, nil
}

// ParseKey parses a committee key secret (see LoadKey).
func ParseKey(secret, keyPath string, params *chaincfg.Params) (*btcec.PrivateKey, error) {
	s := strings.TrimSpace(secret)
	if s == "" {
		return nil, fmt.Errorf("%w: the secret is empty", ErrKey)
	}
	if strings.ContainsFunc(s, unicode.IsSpace) || strings.HasPrefix(s, "xprv") || strings.HasPrefix(s, "tprv") {
		master, err := masterKey(s, params)
		if err != nil {
			return nil, err
		}
		if keyPath == "" {
			return nil, fmt.Errorf("%w: an HD secret needs a derivation path (--key-path, e.g. m/86'/1'/0'/0/0)", ErrKey)
		}
		p, err := accounts.ParseDerivationPath(keyPath)
		if err != nil {
			return nil, fmt.Errorf("%w: key path %q: %v", ErrKey, keyPath, err)
		}
		k := master
		for _, i := range p {
			if k, err = k.Derive(i); err != nil {
				return nil, fmt.Errorf("%w: derive %s: %v", ErrKey, keyPath, err)
			}
		}
		priv, err := k.ECPrivKey()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrKey, err)
		}
		return priv, nil
	}
	w, err := btcutil.DecodeWIF(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not a mnemonic, an xprv/tprv or a WIF", ErrKey)
	}
	if !w.IsForNet(params) {
		return nil, fmt.Errorf("%w: the WIF is not for %s", ErrKey, params.Name)
	}
	return w.PrivKey, nil
}

func masterKey(s string, params *chaincfg.Params) (*hdkeychain.ExtendedKey, error) {
	if strings.ContainsFunc(s, unicode.IsSpace) {
		m := strings.Join(strings.Fields(strings.ToLower(s)), " ")
		if !bip39.IsMnemonicValid(m) {
			return nil, fmt.Errorf("%w: not a valid BIP-39 mnemonic (English word list, checksum)", ErrKey)
		}
		master, err := hdkeychain.NewMaster(bip39.NewSeed(m, ""), params)
		if err != nil {
			return nil, fmt.Errorf("%w: master key: %v", ErrKey, err)
		}
		return master, nil
	}
	ek, err := hdkeychain.NewKeyFromString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: extended key does not decode", ErrKey)
	}
	if !ek.IsPrivate() || ek.Depth() != 0 {
		return nil, fmt.Errorf("%w: give the extended private master key (depth 0)", ErrKey)
	}
	if !ek.IsForNet(params) {
		return nil, fmt.Errorf("%w: the extended key is not for %s", ErrKey, params.Name)
	}
	return ek, nil
}

// LoadL2Key reads the signer's L2 account key from path (else
// $HEMI_SIGNER_L2_KEY): 64 hex digits (0x optional), or a BIP-39
// mnemonic derived along l2Path (DefaultL2Path when empty).
func LoadL2Key(path, l2Path string) (*ecdsa.PrivateKey, error) {
	text, src, err := readSecret(path, L2KeyEnv, "L2 account key")
	if err != nil {
		return nil, err
	}
	k, err := ParseL2Key(text, l2Path)
	if err != nil {
		return nil, fmt.Errorf("L2 account key from %s: %w", src, err)
	}
	return k, nil
}

// ParseL2Key parses an L2 account key secret (see LoadL2Key).
func ParseL2Key(secret, l2Path string) (*ecdsa.PrivateKey, error) {
	s := strings.TrimSpace(secret)
	if strings.ContainsFunc(s, unicode.IsSpace) {
		if l2Path == "" {
			l2Path = DefaultL2Path
		}
		// The derivation is BIP-32 over secp256k1 whatever the chain;
		// mainnet params only select the serialization version bytes.
		master, err := masterKey(s, &chaincfg.MainNetParams)
		if err != nil {
			return nil, err
		}
		p, err := accounts.ParseDerivationPath(l2Path)
		if err != nil {
			return nil, fmt.Errorf("%w: L2 key path %q: %v", ErrKey, l2Path, err)
		}
		k := master
		for _, i := range p {
			if k, err = k.Derive(i); err != nil {
				return nil, fmt.Errorf("%w: derive %s: %v", ErrKey, l2Path, err)
			}
		}
		priv, err := k.ECPrivKey()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrKey, err)
		}
		return priv.ToECDSA(), nil
	}
	raw, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil || len(raw) != 32 {
		return nil, fmt.Errorf("%w: not 64 hex digits nor a BIP-39 mnemonic", ErrKey)
	}
	k, err := crypto.ToECDSA(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	return k, nil
}
