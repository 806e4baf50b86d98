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

// TestKeystoneCacheByBranch: keystones read twice (the second time from
// keystoneFor's cache) are those of their own branch: two branches with
// keystones at the same numbers each get their own previous keystone.
func TestKeystoneCacheByBranch(t *testing.T) {
	s := newForkScenario(t, "", nil)
	a := s.grow(s.chain.Genesis(), 6, userKeys[0], toA) // keystones 2, 4, 6
	b := s.grow(a[0].Header, 7, userKeys[1], toB)       // 2', 4', 6', 8' forked at 1
	for _, branch := range [][]*Block{a, b} {
		var prevID [32]byte
		for _, blk := range branch {
			if !s.chain.IsKeystone(blk.NumberU64()) {
				continue
			}
			want, err := s.chain.computeKeystone(blk.Header)
			if err != nil {
				t.Fatal(err)
			}
			if want.PrevID != prevID {
				t.Fatalf("keystone %d's previous is not its branch's", blk.NumberU64())
			}
			for range 2 {
				got, err := s.chain.KeystoneByHash(blk.Hash())
				if err != nil || *got != *want {
					t.Fatalf("keystone %d %s: %+v %v, want %+v", blk.NumberU64(), blk.Hash(), got, err, want)
				}
				got.ID = [32]byte{} // a caller's change stays its own
			}
			prevID = want.ID
		}
	}
	if k, err := s.chain.KeystoneAt(4); err != nil || k.Hash != a[3].Hash() {
		t.Fatalf("canonical keystone 4: %+v %v, want block %s", k, err, a[3].Hash())
	}
}
