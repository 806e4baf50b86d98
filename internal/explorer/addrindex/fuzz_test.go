package addrindex

import (
	"bytes"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// FuzzDecodeTip: the tip record decoder refuses every wrong length with
// an error and round-trips what it accepts.
func FuzzDecodeTip(f *testing.F) {
	f.Add(encodeTip(Tip{0, common.Hash{}}))
	f.Add(encodeTip(Tip{1 << 40, common.Hash{1, 2, 3}}))
	f.Add([]byte{1, 2, 3})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		tip, err := decodeTip(b)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeTip(tip), b) {
			t.Fatalf("%x decodes to %+v, which encodes differently", b, tip)
		}
	})
}
