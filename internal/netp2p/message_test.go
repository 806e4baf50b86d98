package netp2p

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/rlp"
	"github.com/golang/snappy"
)

// TestMessageRoundTrip: a block encodes to a message that decodes to the
// same header hash and body, deterministically (the same bytes every
// time, so the content-based message id deduplicates the same block
// published by two nodes).
func TestMessageRoundTrip(t *testing.T) {
	b := testBlock(t, testKey("seq"), 7, [32]byte{9}, 3)
	data := encode(t, b)
	if again := encode(t, b); !bytes.Equal(again, data) || MessageID(again) != MessageID(data) {
		t.Fatal("encoding the same block twice gave different messages")
	}
	got, err := DecodeBlock(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.Hash() != b.Hash() || got.Body.Len() != 4 || got.Body.TxHashes()[3] != b.Body.TxHashes()[3] {
		t.Fatalf("decoded block %s with %d txs, want %s with 4", got.Hash(), got.Body.Len(), b.Hash())
	}
}

// TestDecodeErrors: each kind of bad message gives its error kind, and
// the size limits are checked before decompressing.
func TestDecodeErrors(t *testing.T) {
	good := encode(t, testBlock(t, testKey("seq"), 1, [32]byte{}, 1))
	raw, _ := snappy.Decode(nil, good)
	huge := snappy.Encode(nil, make([]byte, MaxBlockSize+1))
	trailing := snappy.Encode(nil, append(append([]byte(nil), raw...), 0x80))
	noBody, _ := rlp.EncodeToBytes([]any{[]any{}})
	for _, c := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"not snappy", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, ErrMalformed},
		{"snappy of junk", snappy.Encode(nil, []byte("junk")), ErrMalformed},
		{"truncated", good[:len(good)/2], ErrMalformed},
		{"trailing bytes", trailing, ErrMalformed},
		{"missing body", snappy.Encode(nil, noBody), ErrMalformed},
		{"compressed over the limit", make([]byte, MaxMessageSize+1), ErrTooLarge},
		{"decompressed over the limit", huge, ErrTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := DecodeBlock(c.data); !errors.Is(err, c.want) {
				t.Fatalf("DecodeBlock: %v, want %v", err, c.want)
			}
		})
	}
}

// FuzzDecodeBlock: the decoder never panics, and whatever decodes
// re-encodes to a message that decodes to the same block hash and
// transactions (snappy is not canonical, so bytes may differ).
func FuzzDecodeBlock(f *testing.F) {
	f.Add(encode(f, testBlock(f, testKey("seq"), 1, [32]byte{}, 0)))
	f.Add(encode(f, testBlock(f, testKey("seq"), 2, [32]byte{1}, 2)))
	f.Add([]byte{})
	f.Add(snappy.Encode(nil, []byte{0xc2, 0xc0, 0xc0}))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeBlock(data)
		if err != nil {
			return
		}
		again, err := EncodeBlock(b)
		if err != nil {
			t.Fatalf("decoded block does not encode: %v", err)
		}
		b2, err := DecodeBlock(again)
		if err != nil {
			t.Fatalf("re-encoded block does not decode: %v", err)
		}
		if b2.Hash() != b.Hash() || b2.Body.Len() != b.Body.Len() {
			t.Fatalf("round trip changed the block: %s/%d, was %s/%d", b2.Hash(), b2.Body.Len(), b.Hash(), b.Body.Len())
		}
	})
}
