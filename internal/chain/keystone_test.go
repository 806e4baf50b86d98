package chain

import "testing"

// TestCoveringKeystone: the first keystone at or after a block, at the
// interval's edges; with keystones off (interval 0, which Config allows)
// there is none (0) instead of a division by zero.
func TestCoveringKeystone(t *testing.T) {
	tests := []struct {
		name         string
		iv, number   uint64
		want         uint64
		wantKeystone bool
	}{
		{"genesis", 25, 0, 25, false},
		{"first block", 25, 1, 25, false},
		{"keystone itself", 25, 25, 25, true},
		{"after a keystone", 25, 26, 50, false},
		{"interval 1", 1, 7, 7, true},
		{"keystones off, genesis", 0, 0, 0, false},
		{"keystones off", 0, 7, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Chain{cfg: Config{KeystoneInterval: tt.iv}}
			if got := c.CoveringKeystone(tt.number); got != tt.want {
				t.Fatalf("CoveringKeystone(%d) with interval %d = %d, want %d", tt.number, tt.iv, got, tt.want)
			}
			if got := c.IsKeystone(tt.number); got != tt.wantKeystone {
				t.Fatalf("IsKeystone(%d) = %v", tt.number, got)
			}
		})
	}
}
