package sequencer

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ethereum/go-ethereum/crypto"
)

// KeyEnv is the environment variable LoadKey reads a hex key from.
const KeyEnv = "HEMI_SEQUENCER_KEY"

// DevKeySeed derives the devnet's sequencer key (DevKey). It is public:
// devnet blocks are sealed by a well-known key, fine for development only.
const DevKeySeed = "hemi devnet sequencer"

// DevKey is the devnet's fixed, public sequencer key.
func DevKey() *ecdsa.PrivateKey {
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte(DevKeySeed)))
	if err != nil {
		// A keccak output is a valid secp256k1 scalar with overwhelming
		// probability; this one is (tested).
		panic("sequencer: dev key: " + err.Error())
	}
	return k
}

// LoadKey reads the sealing key: from the file path if given (hex, as
// geth's `--nodekey` files, 0x optional, surrounding whitespace ignored),
// else from the environment variable KeyEnv. Keys never come from flags,
// which end up in shell history and process listings.
func LoadKey(path string) (*ecdsa.PrivateKey, error) {
	var src, text string
	switch {
	case path != "":
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("sequencer: read key file: %w", err)
		}
		src, text = path, string(b)
	case os.Getenv(KeyEnv) != "":
		src, text = "$"+KeyEnv, os.Getenv(KeyEnv)
	default:
		return nil, errors.New("sequencer: no sealing key: set sequencer.key_file or " + KeyEnv + " (hex secp256k1 private key)")
	}
	k, err := crypto.HexToECDSA(strings.TrimPrefix(strings.TrimSpace(text), "0x"))
	if err != nil {
		return nil, fmt.Errorf("sequencer: key from %s: %w", src, err)
	}
	return k, nil
}
