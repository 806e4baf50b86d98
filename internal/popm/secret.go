package popm

import (
	"fmt"
	"os"

	"github.com/btcsuite/btcd/chaincfg/v2"
)

// KeyEnv is the environment variable LoadWallet reads the secret from
// when no key file is given.
const KeyEnv = "HEMI_POPM_KEY"

// LoadWallet reads the wallet secret (mnemonic, xprv or WIF; see
// ParseSecret) from the file path if given, else from $HEMI_POPM_KEY.
// Secrets never come from flags, which end up in shell history and
// process listings. Errors name where the secret came from, never the
// secret.
func LoadWallet(path string, kind Kind, params *chaincfg.Params) (*Wallet, error) {
	return LoadWalletEnv(path, KeyEnv, "popm.key_file (--key-file)", kind, params)
}

// LoadWalletEnv is LoadWallet for other commands that sign Bitcoin
// transactions with a wallet secret (`hemi deposit`): the file at path
// if given, else the environment variable env; fileHint names the
// command's key-file setting in the error when neither is set.
func LoadWalletEnv(path, env, fileHint string, kind Kind, params *chaincfg.Params) (*Wallet, error) {
	var src, text string
	switch {
	case path != "":
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("popm: read key file: %w", err)
		}
		src, text = path, string(b)
	case os.Getenv(env) != "":
		src, text = "$"+env, os.Getenv(env)
	default:
		return nil, fmt.Errorf("%w: no wallet secret: set %s or %s to a BIP-39 mnemonic, an xprv/tprv or a WIF", ErrSecret, fileHint, env)
	}
	w, err := ParseSecret(text, kind, params)
	if err != nil {
		return nil, fmt.Errorf("wallet secret from %s: %w", src, err)
	}
	return w, nil
}
