package verify

import (
	"os"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
)

// TestSealHash checks sealHash, which splices the unsealed record into
// the header's own RLP, against go-ethereum's hash of a copy of the
// header with the record unsealed, on the devnet's real headers; and that
// a header it cannot split is an error, not a crash.
func TestSealHash(t *testing.T) {
	for _, file := range []string{"testdata/devnet_transfer.json", "testdata/devnet_deposit.json"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ParseBundle(data)
		if err != nil {
			t.Fatal(err)
		}
		raws := []hexBytes{b.Keystone.Header}
		if b.Tx != nil {
			raws = append(raws, b.Tx.Header)
			raws = append(raws, b.Tx.Link.Headers...)
		}
		for i, raw := range raws {
			var h types.Header
			if err := rlp.DecodeBytes(raw, &h); err != nil {
				t.Fatal(err)
			}
			cp := types.CopyHeader(&h)
			cp.Extra = h.Extra[:extraUnsealed]
			got, err := sealHash(raw)
			if err != nil {
				t.Fatalf("%s header %d: %v", file, i, err)
			}
			if want := cp.Hash(); got != want {
				t.Errorf("%s header %d: seal hash %v, go-ethereum's %v", file, i, got, want)
			}
		}
	}
	for _, bad := range [][]byte{nil, {0xc0}, {0xc3, 0x80, 0x80, 0x80}, {0xf9, 0x02}} {
		if _, err := sealHash(bad); err == nil {
			t.Errorf("sealHash(%x) = nil error", bad)
		}
	}
}

// TestVerifyAllocs bounds the allocations of one verification of the
// devnet's transfer: in WebAssembly an allocation costs several times
// what it costs natively, and the verifier once made more of them (a
// memorydb per trie proof copying every node, a second map and a
// big.Int per Bitcoin header, a header copy and re-encoding for the
// seal): 2,263 against 1,639 now. Allocation counts do not depend on the
// machine's load.
func TestVerifyAllocs(t *testing.T) {
	data, g := devnetTransfer(t)
	id, err := ParseGenesis(g)
	if err != nil {
		t.Fatal(err)
	}
	n := testing.AllocsPerRun(20, func() {
		if r := VerifyJSON(data, Options{Identity: id}); !r.OK {
			t.Fatal(r.Error)
		}
	})
	const maxVerifyAllocs = 1800
	t.Logf("%.0f allocations per verification", n)
	if n > maxVerifyAllocs {
		t.Errorf("%.0f allocations per verification, at most %d expected", n, maxVerifyAllocs)
	}
}

// TestVerifyInputAllocs bounds the allocations of one whole verification
// from the user's input, the call the WebAssembly verifier makes: the
// genesis file parsed without its hash (which no check reads, and which
// took a second decoding and an encoding of the file: 1,971 allocations
// then, 1,659 now), the bundle verified.
func TestVerifyInputAllocs(t *testing.T) {
	data, g := devnetTransfer(t)
	in := Input{Genesis: string(g)}
	n := testing.AllocsPerRun(20, func() {
		if r := VerifyInput(data, in, time.Time{}); !r.OK {
			t.Fatal(r.Error)
		}
	})
	const maxInputAllocs = 1750
	t.Logf("%.0f allocations per verification from the input", n)
	if n > maxInputAllocs {
		t.Errorf("%.0f allocations per verification from the input, at most %d expected", n, maxInputAllocs)
	}
}

// devnetTransfer is the devnet transfer's bundle and the devnet's genesis
// file (testdata).
func devnetTransfer(t *testing.T) (bundle, genesis []byte) {
	t.Helper()
	bundle, err := os.ReadFile("testdata/devnet_transfer.json")
	if err != nil {
		t.Fatal(err)
	}
	if genesis, err = os.ReadFile("testdata/devnet_genesis.json"); err != nil {
		t.Fatal(err)
	}
	return bundle, genesis
}
