package tunnel

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hemi-go/hemi/internal/chain/genesis"
)

// The vault's output descriptor (BIP-380, BIP-386 tr(), Bitcoin Core's
// sortedmulti_a and tapscript miniscript):
//
//	tr(NUMS,{sortedmulti_a(k,S1,...,Sn),and_v(v:older(N),multi_a(m,R1,...,Rr))})#checksum
//
// NUMS is NUMSKeyX written as an x-only key; the signers are listed in
// sorted order (sortedmulti_a sorts them anyway, so every genesis with
// the same key set prints the same descriptor), the recovery keys in
// leaf order. Bitcoin Core 26+ imports it watch-only:
//
//	bitcoin-cli createwallet vault true true "" false true
//	bitcoin-cli -rpcwallet=vault importdescriptors '[{"desc":"<descriptor>","timestamp":"now"}]'

// descriptorBody is the descriptor without its checksum.
func descriptorBody(c *genesis.TunnelConfig) string {
	signers := slices.Clone(c.Signers)
	slices.SortFunc(signers, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	keys := func(ks [][32]byte) string {
		s := make([]string, len(ks))
		for i, k := range ks {
			s[i] = hex.EncodeToString(k[:])
		}
		return strings.Join(s, ",")
	}
	return fmt.Sprintf("tr(%s,{sortedmulti_a(%d,%s),and_v(v:older(%d),multi_a(%d,%s))})",
		NUMSKeyX, c.K, keys(signers), c.RecoveryDelay, c.M, keys(c.Recovery))
}

// ErrDescriptor: a descriptor string whose checksum is missing or wrong,
// or that holds a character BIP-380 does not allow.
var ErrDescriptor = errors.New("tunnel: descriptor")

// descInputCharset is BIP-380's INPUT_CHARSET: the position of a
// character gives its 5-bit symbol (low 5 bits) and group (high bits).
const descInputCharset = "0123456789()[],'/*abcdefgh@:$%{}" +
	"IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~" +
	"ijklmnopqrstuvwxyzABCDEFGH`#\"\\ "

// descChecksumCharset is bech32's alphabet, in which the 8 checksum
// characters are written.
const descChecksumCharset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

// descPolymod is BIP-380's polymod: a BCH code over GF(32) with the
// generator below, degree 8.
func descPolymod(c uint64, val int) uint64 {
	c0 := c >> 35
	c = ((c & 0x7ffffffff) << 5) ^ uint64(val)
	for i, g := range [5]uint64{0xf5dee51989, 0xa9fdca3312, 0x1bab10e32d, 0x3706b1677a, 0x644d626ffd} {
		if c0>>i&1 != 0 {
			c ^= g
		}
	}
	return c
}

// Checksum is BIP-380's 8-character checksum of a descriptor (without
// "#"): every character's symbol, then every three characters' groups,
// then 8 zeros, through descPolymod, xor 1.
func Checksum(desc string) (string, error) {
	c := uint64(1)
	cls, clsCount := 0, 0
	for i := 0; i < len(desc); i++ {
		pos := strings.IndexByte(descInputCharset, desc[i])
		if pos < 0 {
			return "", fmt.Errorf("%w: character %q at %d is not in BIP-380's input charset", ErrDescriptor, desc[i], i)
		}
		c = descPolymod(c, pos&31)
		cls = cls*3 + pos>>5
		if clsCount++; clsCount == 3 {
			c = descPolymod(c, cls)
			cls, clsCount = 0, 0
		}
	}
	if clsCount > 0 {
		c = descPolymod(c, cls)
	}
	for range 8 {
		c = descPolymod(c, 0)
	}
	c ^= 1
	var out [8]byte
	for j := range 8 {
		out[j] = descChecksumCharset[(c>>(5*(7-j)))&31]
	}
	return string(out[:]), nil
}

// WithChecksum is desc + "#" + Checksum(desc). desc must be in the
// input charset (the vault's descriptors are).
func WithChecksum(desc string) string {
	sum, err := Checksum(desc)
	if err != nil {
		panic(err) // callers pass descriptors they built
	}
	return desc + "#" + sum
}

// VerifyChecksum checks a "desc#checksum" string and returns desc.
func VerifyChecksum(s string) (string, error) {
	desc, sum, ok := strings.Cut(s, "#")
	if !ok {
		return "", fmt.Errorf("%w: no checksum (want DESCRIPTOR#xxxxxxxx)", ErrDescriptor)
	}
	if strings.Contains(sum, "#") {
		return "", fmt.Errorf("%w: more than one '#'", ErrDescriptor)
	}
	if len(sum) != 8 {
		return "", fmt.Errorf("%w: expected an 8-character checksum, got %d characters", ErrDescriptor, len(sum))
	}
	want, err := Checksum(desc)
	if err != nil {
		return "", err
	}
	if sum != want {
		return "", fmt.Errorf("%w: checksum %q does not match the computed %q", ErrDescriptor, sum, want)
	}
	return desc, nil
}
