package netp2p

import (
	"errors"
	"fmt"
	"io"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// ProtocolHandshake is the stream protocol both ends of a new connection
// speak first: each writes its Status, reads the other's, and keeps the
// connection only when the genesis hash and chain id match.
const ProtocolHandshake protocol.ID = "/hemi/handshake/1"

// HandshakeVersion is the Status version this node writes and accepts.
const HandshakeVersion = 1

// maxStatusSize bounds what a peer's Status may make us read (an encoded
// Status is about 110 bytes).
const maxStatusSize = 512

// Status is what a node tells a peer about itself in the handshake.
type Status struct {
	Version     uint64
	ChainID     uint64
	GenesisHash common.Hash
	HeadNumber  uint64
	HeadHash    common.Hash
}

// Errors of the handshake: why a peer was refused.
var (
	// ErrGenesisMismatch: the peer runs another network (its genesis hash
	// differs). It is banned: it will not become compatible by retrying.
	ErrGenesisMismatch = errors.New("netp2p: peer's genesis hash differs")
	// ErrChainIDMismatch: same genesis hash, other chain id (a broken or
	// hostile peer). Banned as well.
	ErrChainIDMismatch = errors.New("netp2p: peer's chain id differs")
	// ErrBadStatus: the peer's Status does not decode or has another
	// version.
	ErrBadStatus = errors.New("netp2p: peer sent a bad handshake")
)

// WriteStatus writes st to w (RLP).
func WriteStatus(w io.Writer, st Status) error {
	return rlp.Encode(w, &st)
}

// ReadStatus reads one Status from r, reading at most maxStatusSize
// bytes.
func ReadStatus(r io.Reader) (Status, error) {
	var st Status
	s := rlp.NewStream(io.LimitReader(r, maxStatusSize), maxStatusSize)
	if err := s.Decode(&st); err != nil {
		return Status{}, fmt.Errorf("%w: %w", ErrBadStatus, err)
	}
	if st.Version != HandshakeVersion {
		return Status{}, fmt.Errorf("%w: version %d, this node speaks %d", ErrBadStatus, st.Version, HandshakeVersion)
	}
	return st, nil
}

// Compatible checks a peer's Status against ours.
func Compatible(ours, theirs Status) error {
	if theirs.GenesisHash != ours.GenesisHash {
		return fmt.Errorf("%w: peer %s, this node %s (the peer runs another network, or another genesis file)", ErrGenesisMismatch, theirs.GenesisHash, ours.GenesisHash)
	}
	if theirs.ChainID != ours.ChainID {
		return fmt.Errorf("%w: peer %d, this node %d", ErrChainIDMismatch, theirs.ChainID, ours.ChainID)
	}
	return nil
}
