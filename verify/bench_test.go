package verify_test

import (
	"testing"

	"github.com/hemi-go/hemi/verify"
)

// BenchmarkVerifyDevnetTransfer verifies the devnet's transfer bundle.
func BenchmarkVerifyDevnetTransfer(b *testing.B) {
	data, g := devnetBundle(b)
	id, err := verify.ParseGenesis(g)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if r := verify.VerifyJSON(data, verify.Options{Identity: id}); !r.OK {
			b.Fatal(r.Error)
		}
	}
}

// BenchmarkParseDevnetTransfer decodes the devnet's transfer bundle.
func BenchmarkParseDevnetTransfer(b *testing.B) {
	data, _ := devnetBundle(b)
	for b.Loop() {
		if _, err := verify.ParseBundle(data); err != nil {
			b.Fatal(err)
		}
	}
}
