package ha

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
)

// entryVersion is the first byte of every raft log entry the group
// writes: a later format gets a new version, and an old member refuses
// it by name instead of misreading it.
const entryVersion byte = 1

// MaxEntrySize bounds one raft log entry (a block). A block is bounded
// by its gas limit far below this; the bound keeps a corrupt or hostile
// entry from allocating without limit when it is decoded.
const MaxEntrySize = 32 << 20

// ErrBadEntry: a raft log entry that does not decode as a block. Every
// member refuses it the same way (the FSM's verdict is a function of the
// entry and the last applied block only).
var ErrBadEntry = errors.New("ha: malformed log entry")

// entryRLP is a block as the raft log carries it: the header and the
// body as the chain stores them (internal/chain/block).
type entryRLP struct {
	Header *types.Header
	Body   *block.Body
}

// EncodeEntry is the raft log entry of b: the version byte, then the RLP
// list [header, body].
func EncodeEntry(b *chain.Block) ([]byte, error) {
	if b == nil || b.Header == nil || b.Body == nil {
		return nil, errors.New("ha: encode entry: nil block, header or body")
	}
	var buf bytes.Buffer
	buf.WriteByte(entryVersion)
	if err := rlp.Encode(&buf, &entryRLP{Header: b.Header, Body: b.Body}); err != nil {
		return nil, fmt.Errorf("ha: encode entry: %w", err)
	}
	if buf.Len() > MaxEntrySize {
		return nil, fmt.Errorf("ha: encode entry: block %d is %d bytes, over the %d-byte entry limit", b.NumberU64(), buf.Len(), MaxEntrySize)
	}
	return buf.Bytes(), nil
}

// DecodeEntry decodes a raft log entry written by EncodeEntry. It checks
// the format only (version, RLP, no trailing bytes, a number present and
// the body's own rules); the block's validity is the chain's to judge.
func DecodeEntry(data []byte) (*chain.Block, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrBadEntry)
	}
	if len(data) > MaxEntrySize {
		return nil, fmt.Errorf("%w: %d bytes, over the %d-byte limit", ErrBadEntry, len(data), MaxEntrySize)
	}
	if data[0] != entryVersion {
		return nil, fmt.Errorf("%w: version %d, this node reads version %d (upgrade the node)", ErrBadEntry, data[0], entryVersion)
	}
	var e entryRLP
	if err := rlp.DecodeBytes(data[1:], &e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEntry, err)
	}
	if e.Header == nil || e.Body == nil || e.Header.Number == nil || !e.Header.Number.IsUint64() {
		return nil, fmt.Errorf("%w: no header, body or block number", ErrBadEntry)
	}
	if err := e.Body.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEntry, err)
	}
	return &chain.Block{Header: e.Header, Body: e.Body}, nil
}
