package node

import (
	"testing"
	"time"
)

// TestHeadSettle: the settle time a node's Config.HeadSettle and block
// time give.
func TestHeadSettle(t *testing.T) {
	for _, tc := range []struct {
		name       string
		set, block time.Duration
		want       time.Duration
	}{
		{"default", 0, time.Second, DefaultHeadSettle},
		{"default, fast blocks: a quarter of the block time", 0, 400 * time.Millisecond, 100 * time.Millisecond},
		{"default, no block time", 0, 0, DefaultHeadSettle},
		{"set: as given", time.Hour, time.Second, time.Hour},
		{"off", -1, time.Second, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := headSettle(tc.set, tc.block); got != tc.want {
				t.Fatalf("headSettle(%s, %s) = %s, want %s", tc.set, tc.block, got, tc.want)
			}
		})
	}
}
