package tracker

import (
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/pop"
)

func TestScore(t *testing.T) {
	p := func(n uint64, h int32) BranchKeystone { return BranchKeystone{Number: n, Published: true, Height: h} }
	u := func(n uint64) BranchKeystone { return BranchKeystone{Number: n} }
	tests := []struct {
		name      string
		table     []uint32
		cur, cand []BranchKeystone
		wantCur   uint64
		wantCand  uint64
	}{
		{"both empty", nil, nil, nil, 0, 0},
		{"same block", nil, []BranchKeystone{p(25, 10)}, []BranchKeystone{p(25, 10)}, 100, 100},
		{"current first by 2", nil, []BranchKeystone{p(25, 10)}, []BranchKeystone{p(25, 12)}, 100, 95},
		{"candidate first by 3", nil, []BranchKeystone{p(25, 13)}, []BranchKeystone{p(25, 10)}, 89, 100},
		{"beyond table", nil, []BranchKeystone{p(25, 10)}, []BranchKeystone{p(25, 19)}, 100, 0},
		{"last table entry", nil, []BranchKeystone{p(25, 10)}, []BranchKeystone{p(25, 18)}, 100, 21},
		{"unpublished", nil, []BranchKeystone{u(25)}, []BranchKeystone{p(25, 10)}, 0, 100},
		{"neither published", nil, []BranchKeystone{u(25), u(50)}, []BranchKeystone{u(25)}, 0, 0},
		{"missing keystone on candidate", nil, []BranchKeystone{p(25, 10), p(50, 11)}, []BranchKeystone{p(25, 10)}, 200, 100},
		{"missing keystone on current", nil, []BranchKeystone{p(25, 10)}, []BranchKeystone{p(25, 11), p(50, 12)}, 100, 200},
		{"sums per height", nil, []BranchKeystone{p(25, 10), p(50, 20)}, []BranchKeystone{p(25, 14), p(50, 20)}, 200, 180},
		{"custom table", []uint32{10, 1}, []BranchKeystone{p(25, 10)}, []BranchKeystone{p(25, 11)}, 10, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, d := Score(tc.table, tc.cur, tc.cand)
			if c != tc.wantCur || d != tc.wantCand {
				t.Fatalf("Score = %d, %d; want %d, %d", c, d, tc.wantCur, tc.wantCand)
			}
			// The rule is symmetric.
			d2, c2 := Score(tc.table, tc.cand, tc.cur)
			if c2 != c || d2 != d {
				t.Fatalf("swapped Score = %d, %d; want %d, %d", d2, c2, d, c)
			}
		})
	}
}

// TestPreferScenarios drives a tracker through Bitcoin events and asks
// fork choice between branch A (current) and branch B (candidate) that
// fork after keystone k1: A has a25, a50; B has b25, b50 (or only b25).
func TestPreferScenarios(t *testing.T) {
	a25, a50, b25, b50 := kid(0xa1), kid(0xa2), kid(0xb1), kid(0xb2)
	branchA := []KeystoneRef{{Number: 25, ID: a25}, {Number: 50, ID: a50}}
	branchB := []KeystoneRef{{Number: 25, ID: b25}, {Number: 50, ID: b50}}
	type step struct {
		mine       [][32]byte // publications of one new Bitcoin block (nil: empty block)
		disconnect int        // blocks to disconnect before mining
	}
	tests := []struct {
		name      string
		depth     uint32
		cand      []KeystoneRef
		addB      bool // tell the tracker about branch B's keystones
		steps     []step
		want      bool
		wantAfter *bool // after one more step: a reorg flips the answer
		reorg     []step
	}{
		{name: "A first", steps: []step{{mine: [][32]byte{a25}}, {mine: [][32]byte{b25}}}, want: false},
		{name: "B first", steps: []step{{mine: [][32]byte{b25}}, {}, {mine: [][32]byte{a25}}}, want: true},
		{name: "same block tie keeps current", steps: []step{{mine: [][32]byte{b25, a25}}}, want: false},
		{name: "nothing published keeps current", steps: []step{{}, {}}, want: false},
		{name: "B unknown to tracker still scored", addB: false, steps: []step{{mine: [][32]byte{b50}}, {mine: [][32]byte{a25}}}, want: true},
		{name: "candidate missing a keystone", cand: branchB[:1], addB: true,
			steps: []step{{mine: [][32]byte{a25, b25}}, {mine: [][32]byte{a50}}}, want: false},
		{name: "candidate missing a keystone wins when current's is unpublished", cand: branchB[:1], addB: true,
			steps: []step{{mine: [][32]byte{b25}}, {}, {}, {mine: [][32]byte{a25}}}, want: true},
		{name: "delay beyond the table", addB: true,
			steps: []step{{mine: [][32]byte{b25}}, {}, {}, {}, {}, {}, {}, {}, {}, {mine: [][32]byte{a25, a50}}, {mine: [][32]byte{b50}}}, want: true},
		{name: "later keystone covers earlier", addB: true,
			steps: []step{{mine: [][32]byte{b50}}, {}, {mine: [][32]byte{a25}}, {mine: [][32]byte{a50}}}, want: true},
		{name: "Bitcoin reorg removes B's publication", addB: true,
			steps:     []step{{mine: [][32]byte{b25}}, {}, {}, {mine: [][32]byte{a25}}},
			want:      true,
			reorg:     []step{{disconnect: 4, mine: [][32]byte{a25}}, {}, {mine: [][32]byte{b25}}},
			wantAfter: new(false)},
		{name: "superfinal current refuses", depth: 3,
			steps: []step{{mine: [][32]byte{a25}}, {}, {mine: [][32]byte{b25, b50}}}, want: false},
		{name: "one confirmation below depth still scored", depth: 4,
			steps: []step{{mine: [][32]byte{a25}}, {mine: [][32]byte{b25, b50}}, {}}, want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, tc.depth, 200)
			if tc.depth == 0 {
				s = newSim(t, 100, 200)
			}
			root := kid(1)
			s.tr.AddKeystone(root, 0, common.Hash{}, [32]byte{})
			s.tr.AddKeystone(a25, 25, common.Hash{0xa1}, root)
			s.tr.AddKeystone(a50, 50, common.Hash{0xa2}, a25)
			if tc.addB {
				s.tr.AddKeystone(b25, 25, common.Hash{0xb1}, root)
				s.tr.AddKeystone(b50, 50, common.Hash{0xb2}, b25)
			}
			cand := tc.cand
			if cand == nil {
				cand = branchB
			}
			run := func(steps []step, fork byte) {
				for _, st := range steps {
					s.disconnect(st.disconnect)
					var ps []pop.Publication
					for i, id := range st.mine {
						ps = append(ps, pub(id, uint32(i+1)))
					}
					s.mine(fork, ps...)
				}
			}
			run(tc.steps, 0)
			if got := s.tr.Prefer(nil, branchA, cand); got != tc.want {
				t.Fatalf("Prefer = %v, want %v", got, tc.want)
			}
			if tc.wantAfter != nil {
				run(tc.reorg, 1)
				if got := s.tr.Prefer(nil, branchA, cand); got != *tc.wantAfter {
					t.Fatalf("after the Bitcoin reorg Prefer = %v, want %v", got, *tc.wantAfter)
				}
			}
		})
	}
}
