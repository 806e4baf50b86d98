package main

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/hemi-go/hemi/verify"
)

// TestRunVerify: `hemi verify` prints what the devnet bundle proves and
// returns nil (exit 0), and names the failed link and returns errVerify
// (exit 1) for a policy the bundle does not meet.
func TestRunVerify(t *testing.T) {
	bundle, err := os.ReadFile("../../verify/testdata/devnet_transfer.json")
	if err != nil {
		t.Fatal(err)
	}
	gen, err := os.ReadFile("../../verify/testdata/devnet_genesis.json")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runVerify(bundle, verify.Input{Genesis: string(gen)}, false, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "PROVED: L2 transaction") || !strings.Contains(out.String(), "regtest proof of work") {
		t.Fatalf("output:\n%s", out.String())
	}
	out.Reset()
	err = runVerify(bundle, verify.Input{Genesis: string(gen), MinKeystoneConfs: 1000}, true, &out)
	if !errors.Is(err, errVerify) || !strings.Contains(err.Error(), `"confirmations"`) || !strings.Contains(out.String(), `"failedLink": "confirmations"`) {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if err := runVerify(bundle, verify.Input{Headers: "zz"}, false, &out); err == nil || !strings.Contains(err.Error(), "--headers") {
		t.Fatalf("bad --headers: %v", err)
	}
}
