package verify_test

import (
	"testing"

	"github.com/hemi-go/hemi/verify"
	"github.com/hemi-go/hemi/verify/verifytest"
)

// BenchmarkVerifyForgedDeposit verifies a forged deposit bundle (the
// bench's first case, on a small state).
func BenchmarkVerifyForgedDeposit(b *testing.B) {
	f, err := verifytest.Build(verifytest.Spec{Kind: verify.KindDeposit, DepositConfs: 16, KeystoneConfs: 10, FillerAccounts: 1000})
	if err != nil {
		b.Fatal(err)
	}
	data, _ := f.Bundle.Marshal()
	o := verify.Options{Identity: f.Identity}
	for b.Loop() {
		if r := verify.VerifyJSON(data, o); !r.OK {
			b.Fatal(r.Error)
		}
	}
}
