package bench

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRunTunnel runs the tunnel benchmark briefly: the sizes are exact
// (the fee rule computes the signed size; the payouts were accepted by
// the regtest mempool), so they are checked to the vbyte; times are not.
func TestRunTunnel(t *testing.T) {
	var out bytes.Buffer
	res, err := RunTunnel(context.Background(), TunnelBenchConfig{Runs: 3, DepositBlockInterval: 3 * time.Second}, &out)
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
	// Deposit to mint on the devnet stack: at least the confirmations
	// plus the view lag (the view cannot hold them sooner), at most one
	// L2 block after (<= 9 at the defaults); counted in blocks, not time.
	d := res.Deposit
	if lo := int(d.Confirmations + d.ViewLag); d.BTCBlocks < lo || d.BTCBlocks > lo+1 || d.BTCBlocks > 9 {
		t.Fatalf("deposit to mint %+v: want %d or %d Bitcoin blocks\n%s", d, lo, lo+1, out.String())
	}
	if c, pc := d.ViewHeight-d.DepositHeight+1, d.ParentViewHeight-d.DepositHeight+1; c < int32(d.Confirmations) || pc >= int32(d.Confirmations) {
		t.Fatalf("minted at view %d (parent's %d) for a deposit at %d: not the first view with %d confirmations", d.ViewHeight, d.ParentViewHeight, d.DepositHeight, d.Confirmations)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, fmt.Sprintf("tunnel deposit_to_mint_btc_blocks=%d deposit_to_mint_s=", d.BTCBlocks)) || !strings.Contains(last, " batch_ratio=0.172 ") {
		t.Fatalf("last line %q", last)
	}
}
