package peerserve

import (
	"fmt"
	"io"

	"github.com/btcsuite/btcd/wire/v2"
)

// rawBlock is a block message whose payload is already serialized, so
// serving a block costs one copy instead of a decode and an encode.
type rawBlock []byte

var _ wire.Message = rawBlock(nil)

// BtcDecode is never used: rawBlock is only ever sent.
func (rawBlock) BtcDecode(io.Reader, uint32, wire.MessageEncoding) error {
	return fmt.Errorf("peerserve: raw block is send-only")
}

// BtcEncode writes the pre-serialized block.
func (b rawBlock) BtcEncode(w io.Writer, _ uint32, _ wire.MessageEncoding) error {
	_, err := w.Write(b)
	return err
}

// Command is the block command, so the peer frames it as a block message.
func (rawBlock) Command() string { return wire.CmdBlock }

// MaxPayloadLength is the largest block payload.
func (rawBlock) MaxPayloadLength(uint32) uint32 { return wire.MaxBlockPayload }
