package indexadapt

import (
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/p2p"
	"github.com/hemi-go/hemi/internal/popm"
)

// TestVerdictOf: how the peers' answers to a broadcast become the
// machine's verdict.
func TestVerdictOf(t *testing.T) {
	tests := []struct {
		name string
		res  p2p.BroadcastResult
		want popm.Verdict
	}{
		{"accepted by one, rejected by another", p2p.BroadcastResult{Accepted: []string{"a"},
			Rejected: []p2p.Rejection{{Peer: "b", Code: wire.RejectInsufficientFee, Reason: "fee"}}}, popm.VerdictAccepted},
		{"mined while we waited", p2p.BroadcastResult{MinedIn: &chainhash.Hash{1}}, popm.VerdictAccepted},
		{"rejected as a duplicate", p2p.BroadcastResult{Rejected: []p2p.Rejection{{Peer: "a", Code: wire.RejectDuplicate, Reason: "already have transaction"}}}, popm.VerdictAccepted},
		{"rejected", p2p.BroadcastResult{Rejected: []p2p.Rejection{{Peer: "a", Code: wire.RejectInsufficientFee, Reason: "fee"}}}, popm.VerdictRejected},
		{"rejected by one, known to another", p2p.BroadcastResult{Known: []string{"b"},
			Rejected: []p2p.Rejection{{Peer: "a", Code: wire.RejectNonstandard, Reason: "nonstandard"}}}, popm.VerdictRejected},
		{"known to the peers only", p2p.BroadcastResult{Known: []string{"a", "b"}}, popm.VerdictAccepted},
		{"known to one, dropped by another", p2p.BroadcastResult{Known: []string{"a"}, Dropped: []string{"b"}}, popm.VerdictAccepted},
		{"dropped", p2p.BroadcastResult{Dropped: []string{"a"}}, popm.VerdictUnknown},
		{"unanswered", p2p.BroadcastResult{Unanswered: []string{"a"}}, popm.VerdictUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, _, _ := verdictOf(tc.res); got != tc.want {
				t.Fatalf("verdict %d, want %d", got, tc.want)
			}
		})
	}
}
