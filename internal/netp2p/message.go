package netp2p

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/golang/snappy"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
)

// Message limits. A block of the default 30M gas holds at most about 2 MB
// of non-zero calldata (16 gas a byte), so MaxBlockSize leaves room for a
// larger gas limit; MaxMessageSize bounds what one peer makes us read and
// decompress. gossipsub's own limit is set a little above MaxMessageSize
// (its envelope), so an oversized block reaches the validator and its
// sender is penalised rather than silently dropped by the transport.
const (
	// MaxMessageSize is the largest compressed block message accepted.
	MaxMessageSize = 4 << 20
	// MaxBlockSize is the largest decompressed block (RLP) accepted.
	MaxBlockSize = 10 << 20
	// pubsubMaxSize is gossipsub's RPC size limit: a message of up to
	// 2*MaxMessageSize still reaches the validator (and is rejected there).
	pubsubMaxSize = 2*MaxMessageSize + 64<<10
)

// Errors of the message decoder. Both mean the sender is at fault
// (Reject).
var (
	// ErrMalformed: the message is not a snappy-compressed RLP block.
	ErrMalformed = errors.New("netp2p: malformed block message")
	// ErrTooLarge: the message or the block it holds exceeds the limits.
	ErrTooLarge = errors.New("netp2p: block message too large")
)

// wireBlock is a gossiped block before compression: RLP([header, body])
// with the body as block.Body encodes it (system transactions, then user
// transactions).
type wireBlock struct {
	Header *types.Header
	Body   *block.Body
}

// EncodeBlock returns the gossip message of b: snappy(RLP([header,
// body])). The encoding is deterministic, so every node that publishes
// the same block sends the same bytes and gossipsub's content-based
// message id (MessageID) deduplicates them.
func EncodeBlock(b *chain.Block) ([]byte, error) {
	if b == nil || b.Header == nil || b.Body == nil {
		return nil, errors.New("netp2p: encode: nil block, header or body")
	}
	raw, err := rlp.EncodeToBytes(&wireBlock{Header: b.Header, Body: b.Body})
	if err != nil {
		return nil, fmt.Errorf("netp2p: encode block %d: %w", b.Header.Number, err)
	}
	if len(raw) > MaxBlockSize {
		return nil, fmt.Errorf("%w: block %d is %d bytes, limit %d", ErrTooLarge, b.Header.Number, len(raw), MaxBlockSize)
	}
	return snappy.Encode(nil, raw), nil
}

// DecodeBlock decodes a gossip message. It checks the sizes before
// allocating (the compressed length, then the length snappy's header
// announces), refuses trailing bytes, and never panics: the whole
// message comes from an untrusted peer.
func DecodeBlock(data []byte) (*chain.Block, error) {
	raw, err := decompress(data, MaxMessageSize, MaxBlockSize, ErrMalformed)
	if err != nil {
		return nil, err
	}
	var w wireBlock
	if err := rlp.DecodeBytes(raw, &w); err != nil { // also refuses trailing bytes
		return nil, fmt.Errorf("%w: rlp: %w", ErrMalformed, err)
	}
	if w.Header == nil || w.Body == nil || w.Header.Number == nil {
		return nil, fmt.Errorf("%w: missing header, number or body", ErrMalformed)
	}
	if !w.Header.Number.IsUint64() {
		return nil, fmt.Errorf("%w: block number %v out of range", ErrMalformed, w.Header.Number)
	}
	return &chain.Block{Header: w.Header, Body: w.Body}, nil
}

// decompress is a message's snappy payload, its sizes checked before
// anything is allocated: at most maxCompressed bytes as sent and
// maxRaw as snappy's header announces (ErrTooLarge); a payload snappy
// refuses is malformed (the message kind's error).
func decompress(data []byte, maxCompressed, maxRaw int, malformed error) ([]byte, error) {
	if len(data) > maxCompressed {
		return nil, fmt.Errorf("%w: %d bytes compressed, limit %d", ErrTooLarge, len(data), maxCompressed)
	}
	n, err := snappy.DecodedLen(data)
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %w", malformed, err)
	}
	if n > maxRaw {
		return nil, fmt.Errorf("%w: %d bytes decompressed, limit %d", ErrTooLarge, n, maxRaw)
	}
	raw, err := snappy.Decode(nil, data)
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %w", malformed, err)
	}
	return raw, nil
}

// MessageID is gossipsub's message id of a block message: SHA-256 over
// the compressed content, so the same block published by two nodes is
// one message (messages are unsigned and carry no sender or sequence
// number, gossipsub's StrictNoSign).
func MessageID(data []byte) string {
	sum := sha256.Sum256(data)
	return string(sum[:20])
}

// Topic is the gossipsub topic of the chain whose genesis hash is g: one
// topic per chain, so nodes of different chains never exchange blocks
// even before the handshake refuses them.
func Topic(g common.Hash) string {
	return "/hemi/blocks/1/" + g.Hex()
}
