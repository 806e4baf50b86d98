package tracker

import (
	"github.com/hemi-go/hemi/internal/pop"
)

// KeystoneRef names one keystone of a branch for fork choice: what the
// chain knows of each keystone above the common ancestor of two branches.
type KeystoneRef struct {
	Number uint64
	ID     [32]byte
}

// BranchKeystone is one keystone of a branch as fork choice sees it: its
// L2 number and the Bitcoin height of its effective publication.
type BranchKeystone struct {
	Number    uint64
	Published bool
	Height    int32 // valid when Published
}

// Score applies the fork choice table (package doc, rule 2) to two
// branches' keystones above their common ancestor, each in height order,
// and returns each side's points. An empty table means DefaultForkTable.
func Score(table []uint32, current, candidate []BranchKeystone) (cur, cand uint64) {
	if len(table) == 0 {
		table = DefaultForkTable
	}
	points := func(k *BranchKeystone, ref int32) uint64 {
		if k == nil || !k.Published {
			return 0
		}
		d := int64(k.Height) - int64(ref)
		if d < 0 || d >= int64(len(table)) {
			return 0
		}
		return uint64(table[d])
	}
	i, j := 0, 0
	for i < len(current) || j < len(candidate) {
		var a, b *BranchKeystone
		switch {
		case j >= len(candidate) || (i < len(current) && current[i].Number < candidate[j].Number):
			a = &current[i]
			i++
		case i >= len(current) || candidate[j].Number < current[i].Number:
			b = &candidate[j]
			j++
		default:
			a, b = &current[i], &candidate[j]
			i++
			j++
		}
		var ref int32
		switch {
		case a != nil && a.Published && b != nil && b.Published:
			ref = min(a.Height, b.Height)
		case a != nil && a.Published:
			ref = a.Height
		case b != nil && b.Published:
			ref = b.Height
		default:
			continue
		}
		cur += points(a, ref)
		cand += points(b, ref)
	}
	return cur, cand
}

// branch resolves refs to BranchKeystones: each keystone's effective
// publication is the tracker's, lowered by the own publications of the
// later keystones of the same list (which commit to it even when the
// tracker has not been told about them).
func (t *Tracker) branch(refs []KeystoneRef) []BranchKeystone {
	out := make([]BranchKeystone, len(refs))
	var later *pop.Publication
	for i := len(refs) - 1; i >= 0; i-- {
		later = earlier(later, t.effective(refs[i].ID))
		out[i] = BranchKeystone{Number: refs[i].Number}
		if later != nil {
			out[i].Published, out[i].Height = true, later.Height
		}
	}
	return out
}

// Prefer decides PoP fork choice (package doc): false when current[0] is
// superfinal, else whether candidate scores strictly more than current
// under table.
func (t *Tracker) Prefer(table []uint32, current, candidate []KeystoneRef) bool {
	cur := t.branch(current)
	if len(cur) > 0 && cur[0].Published {
		if tip, _, ok := t.Tip(); ok && tip >= cur[0].Height && uint32(tip-cur[0].Height+1) >= t.depth {
			return false
		}
	}
	a, b := Score(table, cur, t.branch(candidate))
	return b > a
}
