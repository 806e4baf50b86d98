package netp2p

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// IdentityFile is the name of the node's libp2p identity key in its
// directory (Config.Dir).
const IdentityFile = "p2p-identity.key"

// LoadIdentity reads the node's libp2p identity (an Ed25519 key in
// libp2p's protobuf form) from path, creating it on first start with
// mode 0600. The key is the node's peer id: keeping it across restarts
// lets the other nodes keep this node in their static peer lists. A file
// that does not decode is an error naming it, never replaced: an
// operator's peers know this id.
func LoadIdentity(path string) (crypto.PrivKey, error) {
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		k, err := crypto.UnmarshalPrivateKey(data)
		if err != nil {
			return nil, fmt.Errorf("netp2p: identity key %s is corrupt (%w): restore it from a backup, or delete it to start with a new peer id (peers that list this node by id must then be updated)", path, err)
		}
		return k, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("netp2p: read identity key: %w", err)
	}
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("netp2p: generate identity key: %w", err)
	}
	data, err = crypto.MarshalPrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("netp2p: encode identity key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("netp2p: identity key directory: %w", err)
	}
	// Written to a temporary file and renamed, so a crash never leaves a
	// half-written key behind.
	tmp, err := os.CreateTemp(filepath.Dir(path), IdentityFile+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("netp2p: write identity key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("netp2p: write identity key: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("netp2p: write identity key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("netp2p: write identity key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("netp2p: write identity key: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, fmt.Errorf("netp2p: write identity key: %w", err)
	}
	return k, nil
}
