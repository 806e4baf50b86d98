package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestRunTunnel runs the tunnel benchmark briefly: the sizes are exact
// (the fee rule computes the signed size; the payouts were accepted by
// the regtest mempool), so they are checked to the vbyte; times are not.
func TestRunTunnel(t *testing.T) {
	var out bytes.Buffer
	res, err := RunTunnel(context.Background(), TunnelBenchConfig{Runs: 3}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	// 2-of-3 committee leaf (104 bytes) and 65-byte control block: one
	// input 467 WU; header 42 WU; P2WPKH output 124 WU; change 172 WU;
	// OP_RETURN 92 WU.
	if res.LoneVB != 225 || res.PerWithdrawalVB10 != 50.4 || res.PerWithdrawalVB25 != 969.0/25 {
		t.Fatalf("sizes %+v\n%s", res, out.String())
	}
	if res.BatchRatio > tunnelRatioTarget || res.SignVerifyMS <= 0 {
		t.Fatalf("%+v", res)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "tunnel deposit_to_mint_btc_blocks=") || !strings.Contains(last, " batch_ratio=0.172 ") {
		t.Fatalf("last line %q", last)
	}
}
