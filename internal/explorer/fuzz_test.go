package explorer

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// FuzzParams: the path and query decoders never panic, and what they
// accept prints back to the same value.
func FuzzParams(f *testing.F) {
	for _, s := range []string{"0", "12", "0x1f", "0X", "-1", "99999999999999999999", "0xzz",
		"0x" + strings.Repeat("ab", 32), strings.Repeat("AB", 32), "0x" + strings.Repeat("1", 40),
		strings.Repeat("f", 40), "", "\x00\xff", "0x" + strings.Repeat("g", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, ok := parseNumber(s); ok {
			if back, ok2 := parseNumber(strconv.FormatUint(n, 10)); !ok2 || back != n {
				t.Fatalf("number %q -> %d does not round-trip", s, n)
			}
		}
		if h, ok := parseHash(s); ok {
			if back, ok2 := parseHash(h.Hex()); !ok2 || back != h {
				t.Fatalf("hash %q -> %s does not round-trip", s, h)
			}
		}
		if a, ok := parseAddress(s); ok {
			if back, ok2 := parseAddress(a.Hex()); !ok2 || back != a || a == (common.Address{}) && !strings.Contains(s, "0000") {
				t.Fatalf("address %q -> %s does not round-trip", s, a)
			}
		}
		if h, ok := btcHashParam(s); ok {
			if back, ok2 := btcHashParam(h.String()); !ok2 || back != h {
				t.Fatalf("bitcoin hash %q -> %s does not round-trip", s, h)
			}
		}
		_ = abiString([]byte(s))
	})
}

// FuzzTrustParams: the deposit outpoint parser and the mint decoder
// never panic; an accepted outpoint prints back to itself.
func FuzzTrustParams(f *testing.F) {
	f.Add(strings.Repeat("ab", 32)+":0", []byte(nil))
	f.Add(strings.Repeat("AB", 32)+":4294967295", []byte{0x01, 0x02, 0x03, 0x04})
	f.Add(strings.Repeat("ab", 32)+":-1", tunnel.MintCalldata(wire.OutPoint{Index: 3}, common.Address{1}, 5))
	f.Add(":", tunnel.MintCalldata(wire.OutPoint{Index: 3}, common.Address{1}, 5)[:36])
	f.Fuzz(func(t *testing.T, s string, data []byte) {
		if h, v, ok := parseOutpoint(s); ok {
			if h2, v2, ok2 := parseOutpoint(fmt.Sprintf("%s:%d", h, v)); !ok2 || h2 != h || v2 != v {
				t.Fatalf("outpoint %q -> %s:%d does not round-trip", s, h, v)
			}
		}
		if p := mintedDeposit(&block.SystemTx{Data: data}); p != "" && !strings.HasPrefix(p, "/provenance/deposit/") {
			t.Fatalf("mint %x links %q", data, p)
		}
	})
}
