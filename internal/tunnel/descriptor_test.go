package tunnel

import (
	"errors"
	"strings"
	"testing"
)

// TestChecksumVectors: BIP-380's example and Bitcoin Core's
// descriptor_tests.cpp checksums, and the errors Core reports for a bad
// checksum.
func TestChecksumVectors(t *testing.T) {
	if len(descInputCharset) != 95 || len(descChecksumCharset) != 32 {
		t.Fatalf("charsets %d %d", len(descInputCharset), len(descChecksumCharset))
	}
	const xprv = "sh(multi(2,[00000000/111'/222]xprvA1RpRA33e1JQ7ifknakTFpgNXPmW2YvmhqLQYMmrj4xJXXWYpDPS3xz7iAxn8L39njGVyuoseXzU6rcxFLJ8HFsTjSyQbLYnMpCqE2VbFWc,xprv9uPDJpEQgRQfDcW7BkF7eTya6RPxXeJCqCJGHuCJ4GiRVLzkTXBAJMu2qaMWPrS7AANYqdq6vcBcBUdJCVVFceUvJFjaPdGZ2y9WACViL4L/0))"
	const xpub = "sh(multi(2,[00000000/111'/222]xpub6ERApfZwUNrhLCkDtcHTcxd75RbzS1ed54G1LkBUHQVHQKqhMkhgbmJbZRkrgZw4koxb5JaHWkY4ALHY2grBGRjaDMzQLcgJvLJuZZvRcEL,xpub68NZiKmJWnxxS6aaHmn81bvJeTESw724CRDs6HbuccFQN9Ku14VQrADWgqbhhTHBaohPX4CjNLf9fq9MYo6oDaPPLPxSb7gwQN3ih19Zm4Y/0))"
	for _, tc := range []struct{ desc, sum string }{
		{"raw(deadbeef)", "89f8spxm"}, // BIP-380
		{xprv, "ggrsrxfy"},            // Core descriptor_tests.cpp "Checksums"
		{xpub, "tjg09x5t"},
		{strings.Replace(xpub, "multi(2,", "multi(3,", 1), "d4x0uxyv"}, // Core: "Error in payload"
		{"addr(mkmZxiEcEd8ZqjQWVZuC6so5dFMKEFpN2j)", "02wpgw69"},
	} {
		got, err := Checksum(tc.desc)
		if err != nil || got != tc.sum {
			t.Errorf("Checksum(%.40s...) = %q, %v; want %q", tc.desc, got, err, tc.sum)
		}
		if d, err := VerifyChecksum(tc.desc + "#" + tc.sum); err != nil || d != tc.desc {
			t.Errorf("VerifyChecksum: %v", err)
		}
	}
	for _, bad := range []struct{ s, want string }{
		{xpub + "#tjq09x4t", "does not match"}, // Core: "Error in checksum"
		{xpub + "#tjg09x5", "8-character"},
		{xpub + "#tjg09x5tq", "8-character"},
		{xpub + "#", "8-character"},
		{xpub + "##tjg09x5t", "more than one"},
		{xpub, "no checksum"},
		{"raw(Ü)#00000000", "input charset"},
	} {
		if _, err := VerifyChecksum(bad.s); !errors.Is(err, ErrDescriptor) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("VerifyChecksum(...%s): %v, want %q", bad.s[max(0, len(bad.s)-12):], err, bad.want)
		}
	}
}

// FuzzChecksum: Checksum never panics; a checksummed string verifies,
// and changing one character of it is caught (a BCH code of distance
// >= 2 detects every single error).
func FuzzChecksum(f *testing.F) {
	f.Add("raw(deadbeef)", 3)
	f.Add("tr(50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0,{sortedmulti_a(1,aa),multi_a(1,bb)})", 40)
	f.Add("", 0)
	f.Add("\xff#", 1)
	f.Fuzz(func(t *testing.T, s string, pos int) {
		sum, err := Checksum(s)
		if err != nil {
			if !errors.Is(err, ErrDescriptor) {
				t.Fatalf("error of no kind: %v", err)
			}
			return
		}
		full := s + "#" + sum
		if strings.Count(s, "#") == 0 {
			if d, err := VerifyChecksum(full); err != nil || d != s {
				t.Fatalf("own checksum refused: %v", err)
			}
		}
		if len(s) == 0 {
			return
		}
		i := (pos%len(s) + len(s)) % len(s)
		b := []byte(s)
		j := strings.IndexByte(descInputCharset, b[i])
		b[i] = descInputCharset[(j+1)%len(descInputCharset)]
		if other, err := Checksum(string(b)); err == nil && other == sum {
			t.Fatalf("one changed character at %d keeps the checksum %s", i, sum)
		}
	})
}
