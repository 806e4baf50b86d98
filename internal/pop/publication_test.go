package pop

import (
	"testing"
)

func TestPublicationCompare(t *testing.T) {
	at := func(h int32, idx, vout uint32) Publication { return Publication{Height: h, TxIndex: idx, Vout: vout} }
	cases := []struct {
		name string
		a, b Publication
		want int
	}{
		{"same position", at(5, 2, 1), at(5, 2, 1), 0},
		{"lower height first", at(4, 9, 9), at(5, 0, 0), -1},
		{"higher height last", at(6, 0, 0), at(5, 9, 9), 1},
		{"same height: earlier tx first", at(5, 1, 7), at(5, 2, 0), -1},
		{"same tx: lower output first", at(5, 2, 0), at(5, 2, 1), -1},
		{"same tx: higher output last", at(5, 2, 3), at(5, 2, 1), 1},
		{"height outranks position", at(5, 0, 0), at(4, 100, 100), 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.a.Compare(&tc.b); got != tc.want {
				t.Errorf("Compare = %d, want %d", got, tc.want)
			}
			if got := tc.b.Compare(&tc.a); got != -tc.want {
				t.Errorf("reverse Compare = %d, want %d", got, -tc.want)
			}
			if got := tc.a.Before(&tc.b); got != (tc.want < 0) {
				t.Errorf("Before = %v, want %v", got, tc.want < 0)
			}
		})
	}
}

func TestSortPublicationsStable(t *testing.T) {
	ps := []Publication{
		{Height: 7, TxIndex: 1, Vout: 0, Keystone: [32]byte{1}},
		{Height: 3, TxIndex: 4, Vout: 2, Keystone: [32]byte{2}},
		{Height: 7, TxIndex: 0, Vout: 5, Keystone: [32]byte{3}},
		{Height: 3, TxIndex: 4, Vout: 2, Keystone: [32]byte{4}}, // same position as [1]: stays after it
		{Height: 3, TxIndex: 4, Vout: 1, Keystone: [32]byte{5}},
	}
	SortPublications(ps)
	want := []byte{5, 2, 4, 3, 1}
	for i, p := range ps {
		if p.Keystone[0] != want[i] {
			t.Fatalf("position %d holds publication %d, want %d (order %v)", i, p.Keystone[0], want[i], ps)
		}
	}
}
