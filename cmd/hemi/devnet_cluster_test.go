package main

import (
	"strings"
	"testing"
)

// TestDevnetClusterFlags: bad node counts are refused with the rule
// before anything starts (the one-process devnet never runs instead).
func TestDevnetClusterFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--followers", "2"},
		{"--sequencers", "0"},
		{"--sequencers", "-1"},
		{"--sequencers", "3", "--followers", "-1"},
		{"--sequencers", "1000"},
	} {
		err := runApp(t, append([]string{"devnet", "--p2p", "127.0.0.1:0", "--api", "", "--rpc", ""}, args...)...)
		if err == nil || !strings.Contains(err.Error(), "needs 1..32 sequencers") {
			t.Fatalf("%v: %v, want the node counts refused", args, err)
		}
	}
}
