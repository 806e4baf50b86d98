package rangesync

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/golang/snappy"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
)

// Protocol limits. They bound what any decoder here allocates, whoever
// sent the bytes.
const (
	// MaxRequestBlocks is the most blocks one request may ask for. A
	// request above it is malformed (StatusBadRequest, and the asking
	// peer is penalised): it is not served, not even in part. A server
	// may answer fewer (Config.MaxBlocks, Config.MaxBytes), and the
	// client asks again from where the answer stopped.
	MaxRequestBlocks = 1024
	// MaxBlockBytes is the largest block (its RLP) accepted on the wire
	// or in a file: far above what a block gas limit allows (a 30 M gas
	// block of zero calldata is about 7.5 MB).
	MaxBlockBytes = 16 << 20
	// maxRequestBytes bounds a request's encoding (kind, from, hash,
	// count: under 60 bytes).
	maxRequestBytes = 128
	// maxMessageBytes bounds an error status's message.
	maxMessageBytes = 256
)

// Errors of the codec. Every decoding failure wraps ErrMalformed.
var (
	ErrMalformed = errors.New("rangesync: malformed message")
	ErrTooLarge  = fmt.Errorf("%w: too large", ErrMalformed)
)

// Kind says how a request names its blocks.
type Kind uint8

const (
	// ByNumber asks for the canonical blocks From, From+1, ...,
	// From+Count-1, in that order. Blocks above the server's head are
	// left out (a short answer).
	ByNumber Kind = 1
	// ByHash asks for the stored block Hash (canonical or on a side
	// branch) and up to Count-1 of its ancestors, oldest first, so the
	// answer ends at Hash: how a side branch whose tip arrived by gossip
	// is fetched back to a block the node has.
	ByHash Kind = 2
)

// Request is what a client asks a server for.
type Request struct {
	Kind  Kind
	From  uint64      // ByNumber
	Hash  common.Hash // ByHash
	Count uint64
}

// Validate checks the request's shape: a known kind, 1..MaxRequestBlocks
// blocks, and only the field of its kind set.
func (r *Request) Validate() error {
	if r.Count == 0 || r.Count > MaxRequestBlocks {
		return fmt.Errorf("%w: count %d outside 1..%d", ErrMalformed, r.Count, MaxRequestBlocks)
	}
	switch r.Kind {
	case ByNumber:
		if r.Hash != (common.Hash{}) {
			return fmt.Errorf("%w: a by-number request carries a hash", ErrMalformed)
		}
		if r.From+r.Count < r.From {
			return fmt.Errorf("%w: range %d+%d overflows", ErrMalformed, r.From, r.Count)
		}
	case ByHash:
		if r.From != 0 {
			return fmt.Errorf("%w: a by-hash request carries a number", ErrMalformed)
		}
	default:
		return fmt.Errorf("%w: unknown request kind %d", ErrMalformed, r.Kind)
	}
	return nil
}

// String describes the request for logs and errors.
func (r *Request) String() string {
	if r.Kind == ByHash {
		return fmt.Sprintf("%d blocks ending at %s", r.Count, r.Hash)
	}
	return fmt.Sprintf("blocks %d..%d", r.From, r.From+r.Count-1)
}

// EncodeRequest is RLP([kind, from, hash, count]).
func EncodeRequest(r *Request) ([]byte, error) { return rlp.EncodeToBytes(r) }

// DecodeRequest decodes and validates a request. It never panics and
// allocates at most maxRequestBytes.
func DecodeRequest(data []byte) (*Request, error) {
	if len(data) > maxRequestBytes {
		return nil, fmt.Errorf("%w: request of %d bytes", ErrTooLarge, len(data))
	}
	r := new(Request)
	if err := rlp.DecodeBytes(data, r); err != nil {
		return nil, fmt.Errorf("%w: request: %w", ErrMalformed, err)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}

// Status is the first byte of every response.
type Status uint8

const (
	// StatusOK is followed by the blocks, each one frame, until the
	// stream ends.
	StatusOK Status = 0
	// StatusBadRequest: the request did not decode or validate. The
	// asking peer is penalised.
	StatusBadRequest Status = 1
	// StatusRateLimited: the peer asked too often or for too much; ask
	// again later.
	StatusRateLimited Status = 2
	// StatusNotFound: a by-hash request names a block the server does
	// not have.
	StatusNotFound Status = 3
	// StatusServerError: the server failed (its own fault, not the
	// request's).
	StatusServerError Status = 4
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusBadRequest:
		return "bad request"
	case StatusRateLimited:
		return "rate limited"
	case StatusNotFound:
		return "not found"
	case StatusServerError:
		return "server error"
	}
	return fmt.Sprintf("status %d", uint8(s))
}

// StatusError is a response other than StatusOK, as the client sees it.
type StatusError struct {
	Status  Status
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("rangesync: peer answered %s: %s", e.Status, e.Message)
}

// writeStatus writes a status byte and, unless it is StatusOK, the
// message (uvarint length, text, cut to maxMessageBytes).
func writeStatus(w io.Writer, s Status, msg string) error {
	buf := []byte{byte(s)}
	if s != StatusOK {
		if len(msg) > maxMessageBytes {
			msg = msg[:maxMessageBytes]
		}
		buf = binary.AppendUvarint(buf, uint64(len(msg)))
		buf = append(buf, msg...)
	}
	_, err := w.Write(buf)
	return err
}

// readStatus reads a response's status: nil for StatusOK, else a
// *StatusError (or ErrMalformed for an unknown status or a bad message).
func readStatus(r *bufio.Reader) error {
	b, err := r.ReadByte()
	if err != nil {
		return fmt.Errorf("rangesync: read status: %w", err)
	}
	s := Status(b)
	if s == StatusOK {
		return nil
	}
	if s > StatusServerError {
		return fmt.Errorf("%w: unknown status %d", ErrMalformed, b)
	}
	n, err := binary.ReadUvarint(r)
	if err != nil || n > maxMessageBytes {
		return fmt.Errorf("%w: status message length", ErrMalformed)
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(r, msg); err != nil {
		return fmt.Errorf("%w: status message: %w", ErrMalformed, err)
	}
	return &StatusError{Status: s, Message: string(msg)}
}

// blockRLP is a block on the wire and in files: RLP([header, body]).
type blockRLP struct {
	Header *types.Header
	Body   *block.Body
}

// EncodeBlock is RLP([header, body]) (body as block.Body encodes it).
func EncodeBlock(b *chain.Block) ([]byte, error) {
	if b == nil || b.Header == nil || b.Body == nil {
		return nil, errors.New("rangesync: encode a nil block")
	}
	return rlp.EncodeToBytes(&blockRLP{Header: b.Header, Body: b.Body})
}

// DecodeBlock decodes RLP([header, body]) strictly (no trailing bytes,
// the body's own strict decoders). It never panics; it does not check
// the seal or the roots (verifyAlone does).
func DecodeBlock(data []byte) (*chain.Block, error) {
	if len(data) > MaxBlockBytes {
		return nil, fmt.Errorf("%w: block of %d bytes", ErrTooLarge, len(data))
	}
	var dec blockRLP
	if err := rlp.DecodeBytes(data, &dec); err != nil {
		return nil, fmt.Errorf("%w: block: %w", ErrMalformed, err)
	}
	return checkDecoded(&dec)
}

func checkDecoded(dec *blockRLP) (*chain.Block, error) {
	if dec.Header == nil || dec.Body == nil || dec.Header.Number == nil || !dec.Header.Number.IsUint64() {
		return nil, fmt.Errorf("%w: block without header, body or number", ErrMalformed)
	}
	return &chain.Block{Header: dec.Header, Body: dec.Body}, nil
}

// writeFrame writes one block of a response: uvarint(n) || snappy block
// of the block's RLP (n bytes).
func writeFrame(w io.Writer, enc []byte) error {
	comp := snappy.Encode(nil, enc)
	buf := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(comp)), uint64(len(comp)))
	buf = append(buf, comp...)
	_, err := w.Write(buf)
	return err
}

// maxFrameBytes is the largest compressed frame of a MaxBlockBytes block.
var maxFrameBytes = snappy.MaxEncodedLen(MaxBlockBytes)

// readFrame reads one frame and decodes its block. It returns io.EOF
// when the stream ends cleanly between frames, and the frame's size
// (compressed, as it was read). It allocates at most what the frame's
// (bounded) lengths announce.
func readFrame(r *bufio.Reader) (*chain.Block, int, error) {
	n, err := binary.ReadUvarint(r)
	if err == io.EOF {
		return nil, 0, io.EOF
	}
	if err != nil {
		return nil, 0, fmt.Errorf("%w: frame length: %w", ErrMalformed, err)
	}
	if n == 0 || n > uint64(maxFrameBytes) {
		return nil, 0, fmt.Errorf("%w: frame of %d bytes", ErrTooLarge, n)
	}
	comp := make([]byte, n)
	if _, err := io.ReadFull(r, comp); err != nil {
		return nil, 0, fmt.Errorf("%w: frame: %w", ErrMalformed, err)
	}
	b, err := decodeFrame(comp)
	return b, int(n), err
}

// decodeFrame decodes one frame's snappy block and the block it holds.
func decodeFrame(comp []byte) (*chain.Block, error) {
	dl, err := snappy.DecodedLen(comp)
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %w", ErrMalformed, err)
	}
	if dl > MaxBlockBytes {
		return nil, fmt.Errorf("%w: block of %d bytes", ErrTooLarge, dl)
	}
	raw, err := snappy.Decode(nil, comp)
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %w", ErrMalformed, err)
	}
	return DecodeBlock(raw)
}
