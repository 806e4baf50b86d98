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

// TestCollectNow: the collector runs at a settled head only when the
// heap would reach its goal within gcPaceMargin more blocks.
func TestCollectNow(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		name                 string
		heap, goal, perBlock uint64
		want                 bool
	}{
		{"far below the goal", 20 * mb, 30 * mb, 2 * mb, false},
		{"two blocks below the goal", 26 * mb, 30 * mb, 2 * mb, true},
		{"one block below", 29 * mb, 30 * mb, 2 * mb, true},
		{"past the goal (a cycle runs)", 31 * mb, 30 * mb, 2 * mb, true},
		{"just outside the margin", 26*mb - 1, 30 * mb, 2 * mb, false},
		{"no rate yet", 29 * mb, 30 * mb, 0, false},
		{"no goal read", 29 * mb, 0, 2 * mb, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := collectNow(tc.heap, tc.goal, tc.perBlock); got != tc.want {
				t.Fatalf("collectNow(%d, %d, %d) = %v, want %v", tc.heap, tc.goal, tc.perBlock, got, tc.want)
			}
		})
	}
}
