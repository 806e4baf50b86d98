package index

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"
)

func TestAddressScript(t *testing.T) {
	mustHex := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name   string
		addr   string
		params *chaincfg.Params
		want   []byte
		err    error
	}{
		{"mainnet P2PKH", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", &chaincfg.MainNetParams,
			mustHex("76a91477bff20c60e522dfaa3350c39b030a5d004e839a88ac"), nil},
		{"mainnet P2SH", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", &chaincfg.MainNetParams,
			mustHex("a914b472a266d0bd89c13706a4132ccfb16f7c3b9fcb87"), nil},
		{"mainnet P2WPKH", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", &chaincfg.MainNetParams,
			mustHex("0014751e76e8199196d454941c45d1b3a323f1433bd6"), nil},
		{"mainnet P2WSH", "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3", &chaincfg.MainNetParams,
			mustHex("00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262"), nil},
		{"mainnet P2TR", "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297", &chaincfg.MainNetParams,
			mustHex("5120a37c3903c8d0db6512e2b40b0dffa05e5a3ab73603ce8c9c4b7771e5412328f9"), nil},
		{"regtest P2WPKH", "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", regtest,
			mustHex("0014751e76e8199196d454941c45d1b3a323f1433bd6"), nil},
		{"mainnet address on regtest", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", regtest, nil, ErrInvalidAddress},
		{"garbage", "not-an-address", regtest, nil, ErrInvalidAddress},
		{"empty", "", regtest, nil, ErrInvalidAddress},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AddressScript(tc.addr, tc.params)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("error %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("script %x %v, want %x", got, err, tc.want)
			}
		})
	}
}
