package netp2p

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// TestStatus: a Status round-trips; another version, junk, or a stream
// longer than the limit is ErrBadStatus; Compatible names what differs.
func TestStatus(t *testing.T) {
	st := Status{Version: HandshakeVersion, ChainID: 7431337, GenesisHash: common.Hash{1}, HeadNumber: 42, HeadHash: common.Hash{2}}
	var buf bytes.Buffer
	if err := WriteStatus(&buf, st); err != nil {
		t.Fatal(err)
	}
	got, err := ReadStatus(&buf)
	if err != nil || got != st {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	v2 := st
	v2.Version = 2
	buf.Reset()
	WriteStatus(&buf, v2)
	for name, in := range map[string][]byte{"version 2": buf.Bytes(), "junk": []byte("junk"), "empty": nil,
		"huge list": append([]byte{0xfb, 0xff, 0xff, 0xff, 0xff}, make([]byte, 1024)...)} {
		if _, err := ReadStatus(bytes.NewReader(in)); !errors.Is(err, ErrBadStatus) {
			t.Errorf("%s: %v, want ErrBadStatus", name, err)
		}
	}
	other := st
	other.GenesisHash = common.Hash{9}
	if err := Compatible(st, other); !errors.Is(err, ErrGenesisMismatch) || !strings.Contains(err.Error(), other.GenesisHash.Hex()) {
		t.Fatalf("other genesis: %v", err)
	}
	other = st
	other.ChainID = 1
	if err := Compatible(st, other); !errors.Is(err, ErrChainIDMismatch) {
		t.Fatalf("other chain id: %v", err)
	}
	other = st
	other.HeadNumber = 7 // heads differ between peers: that is fine
	if err := Compatible(st, other); err != nil {
		t.Fatal(err)
	}
}

// FuzzReadStatus: ReadStatus never panics, reads at most maxStatusSize
// bytes, and what it accepts writes back to a Status it reads the same.
func FuzzReadStatus(f *testing.F) {
	var buf bytes.Buffer
	WriteStatus(&buf, Status{Version: HandshakeVersion, ChainID: 1, GenesisHash: common.Hash{1}, HeadNumber: 2, HeadHash: common.Hash{3}})
	f.Add(buf.Bytes())
	f.Add([]byte{0xc0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		st, err := ReadStatus(r)
		if read := len(in) - r.Len(); read > maxStatusSize {
			t.Fatalf("read %d bytes, limit %d", read, maxStatusSize)
		}
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := WriteStatus(&out, st); err != nil {
			t.Fatal(err)
		}
		again, err := ReadStatus(&out)
		if err != nil || again != st {
			t.Fatalf("re-read %+v, %v; was %+v", again, err, st)
		}
	})
}
