package node

import (
	"strings"
	"testing"
)

// TestProblems: a Bitcoin layer without peers or more than
// maxHealthyBitcoinLag blocks behind its best header makes the node
// unhealthy, with a reason for each; a synced one does not.
func TestProblems(t *testing.T) {
	for _, tc := range []struct {
		b    BitcoinStatus
		want []string
	}{
		{BitcoinStatus{Peers: 1, Lag: 0}, nil},
		{BitcoinStatus{Peers: 2, Lag: maxHealthyBitcoinLag}, nil},
		{BitcoinStatus{Peers: 0}, []string{"no peers"}},
		{BitcoinStatus{Peers: 1, Lag: maxHealthyBitcoinLag + 1}, []string{"3 blocks behind"}},
		{BitcoinStatus{Peers: 0, Lag: 40}, []string{"no peers", "40 blocks behind"}},
	} {
		got := problems(Status{Bitcoin: tc.b})
		if len(got) != len(tc.want) {
			t.Fatalf("%+v: problems %q, want %q", tc.b, got, tc.want)
		}
		for i, w := range tc.want {
			if !strings.Contains(got[i], w) {
				t.Fatalf("%+v: problem %q, want it to say %q", tc.b, got[i], w)
			}
		}
	}
}
