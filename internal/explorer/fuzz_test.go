package explorer

import (
	"strconv"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
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
