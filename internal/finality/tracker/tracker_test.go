package tracker

import (
	"errors"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/pop"
)

func kid(n byte) [32]byte { return [32]byte{0xee, n} }

func bhash(h int32, fork byte) chainhash.Hash {
	return chainhash.Hash{byte(h), byte(h >> 8), fork, 0xb7}
}

func pub(id [32]byte, txIndex uint32) pop.Publication {
	return pop.Publication{Keystone: id, Txid: chainhash.Hash{id[1], byte(txIndex), 0x77}, TxIndex: txIndex}
}

// btcSim drives a tracker like the index would: a stack of blocks with
// connect and disconnect.
type btcSim struct {
	t     *testing.T
	tr    *Tracker
	stack []chainhash.Hash
	next  int32
}

func newSim(t *testing.T, depth uint32, start int32) *btcSim {
	return &btcSim{t: t, tr: New(depth), next: start}
}

func (s *btcSim) mine(fork byte, pubs ...pop.Publication) chainhash.Hash {
	s.t.Helper()
	h := bhash(s.next, fork)
	if _, err := s.tr.ConnectBitcoin(s.next, h, pubs); err != nil {
		s.t.Fatal(err)
	}
	s.stack = append(s.stack, h)
	s.next++
	return h
}

func (s *btcSim) disconnect(n int) {
	s.t.Helper()
	for range n {
		h := s.stack[len(s.stack)-1]
		var parent chainhash.Hash
		if len(s.stack) > 1 {
			parent = s.stack[len(s.stack)-2]
		}
		if _, err := s.tr.DisconnectBitcoin(h, parent); err != nil {
			s.t.Fatal(err)
		}
		s.stack = s.stack[:len(s.stack)-1]
		s.next--
	}
}

func wantStatus(t *testing.T, tr *Tracker, id [32]byte, published bool, height int32, from [32]byte, confs uint32, superfinal bool) {
	t.Helper()
	s := tr.Status(id)
	if s.Published != published {
		t.Fatalf("keystone %x: published %v, want %v (%+v)", id[:2], s.Published, published, s)
	}
	if !published {
		return
	}
	if s.Publication.Height != height || s.Publication.Keystone != from || s.Confirmations != confs || s.Superfinal != superfinal {
		t.Fatalf("keystone %x: got height %d from %x confs %d superfinal %v; want %d from %x confs %d superfinal %v",
			id[:2], s.Publication.Height, s.Publication.Keystone[:2], s.Confirmations, s.Superfinal,
			height, from[:2], confs, superfinal)
	}
}

func TestTrackerEffectivePublication(t *testing.T) {
	s := newSim(t, 3, 100)
	k1, k2, k3 := kid(1), kid(2), kid(3)
	s.tr.AddKeystone(k1, 25, common.Hash{1}, [32]byte{})
	s.tr.AddKeystone(k2, 50, common.Hash{2}, k1)
	s.tr.AddKeystone(k3, 75, common.Hash{3}, k2)
	s.mine(0)
	wantStatus(t, s.tr, k1, false, 0, k1, 0, false)

	// k2 is published first: it covers k1 too.
	s.mine(0, pub(k2, 1))
	wantStatus(t, s.tr, k1, true, 101, k2, 1, false)
	wantStatus(t, s.tr, k2, true, 101, k2, 1, false)
	wantStatus(t, s.tr, k3, false, 0, k3, 0, false)

	// A later publication of k1 itself does not make it later or earlier.
	s.mine(0, pub(k1, 1), pub(k3, 2))
	wantStatus(t, s.tr, k1, true, 101, k2, 2, false)
	wantStatus(t, s.tr, k3, true, 102, k3, 1, false)
	s.mine(0)
	wantStatus(t, s.tr, k1, true, 101, k2, 3, true)
	wantStatus(t, s.tr, k3, true, 102, k3, 2, false)

	// Reorg out blocks 101..103; k1's own publication comes back first.
	s.disconnect(3)
	wantStatus(t, s.tr, k1, false, 0, k1, 0, false)
	s.mine(1, pub(k1, 3), pub(k1, 1))
	wantStatus(t, s.tr, k1, true, 101, k1, 1, false)
	wantStatus(t, s.tr, k2, false, 0, k2, 0, false)
	if got := s.tr.Status(k1).Publication.TxIndex; got != 1 {
		t.Fatalf("duplicate in one block: earliest position counts, got tx %d", got)
	}
	s.mine(1, pub(k3, 1))
	wantStatus(t, s.tr, k2, true, 102, k3, 1, false)
	wantStatus(t, s.tr, k1, true, 101, k1, 2, false)
}

func TestTrackerLateKeystoneAndUnknownIDs(t *testing.T) {
	s := newSim(t, 2, 0)
	k1, k2, other := kid(1), kid(2), kid(9)
	// Publications arrive before their keystones, and of an id no
	// keystone will ever have.
	s.mine(0, pub(other, 1))
	s.mine(0, pub(k2, 1))
	if changed := s.tr.AddKeystone(k2, 50, common.Hash{2}, k1); !changed {
		t.Fatal("adding a published keystone must report a change")
	}
	wantStatus(t, s.tr, k2, true, 1, k2, 1, false)
	// k1 arrives after its child: the child's publication covers it.
	s.tr.AddKeystone(k1, 25, common.Hash{1}, [32]byte{})
	wantStatus(t, s.tr, k1, true, 1, k2, 1, false)
	s.mine(0)
	wantStatus(t, s.tr, k1, true, 1, k2, 2, true)
	if s.tr.Status(other).Known || s.tr.Status(other).Published {
		t.Fatal("a publication of an unknown id must not make it a known keystone")
	}
	if got := len(s.tr.Publications(other)); got != 1 {
		t.Fatalf("publications of an unknown id are kept: got %d", got)
	}
	// Adding twice changes nothing.
	if s.tr.AddKeystone(k1, 25, common.Hash{1}, [32]byte{}) {
		t.Fatal("re-adding a keystone reported a change")
	}
	if s.tr.Keystones() != 2 {
		t.Fatalf("keystones tracked %d, want 2", s.tr.Keystones())
	}
}

func TestTrackerSideBranchCommits(t *testing.T) {
	// k1 <- k2a (branch A), k1 <- k2b (branch B): either child's
	// publication covers k1, whichever branch it is on.
	s := newSim(t, 10, 0)
	k1, k2a, k2b := kid(1), kid(0x2a), kid(0x2b)
	s.tr.AddKeystone(k1, 25, common.Hash{1}, [32]byte{})
	s.tr.AddKeystone(k2a, 50, common.Hash{2}, k1)
	s.tr.AddKeystone(k2b, 50, common.Hash{3}, k1)
	s.mine(0)
	s.mine(0, pub(k2b, 1))
	s.mine(0, pub(k2a, 1))
	wantStatus(t, s.tr, k1, true, 1, k2b, 2, false)
	s.disconnect(2)
	s.mine(1, pub(k2a, 1))
	wantStatus(t, s.tr, k1, true, 1, k2a, 1, false)
	wantStatus(t, s.tr, k2b, false, 0, k2b, 0, false)
}

func TestTrackerErrors(t *testing.T) {
	tr := New(0)
	if tr.Depth() != DefaultSuperfinalDepth {
		t.Fatalf("depth %d, want default %d", tr.Depth(), DefaultSuperfinalDepth)
	}
	// Disconnecting with nothing connected is ignored (below the start).
	if _, err := tr.DisconnectBitcoin(bhash(5, 0), bhash(4, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.ConnectBitcoin(7, bhash(7, 0), nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		run  func() error
	}{
		{"connect gap", func() error { _, err := tr.ConnectBitcoin(9, bhash(9, 0), nil); return err }},
		{"connect same height", func() error { _, err := tr.ConnectBitcoin(7, bhash(7, 1), nil); return err }},
		{"disconnect not tip", func() error { _, err := tr.DisconnectBitcoin(bhash(7, 1), bhash(6, 0)); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.run(); !errors.Is(err, ErrNotTip) {
				t.Fatalf("got %v, want ErrNotTip", err)
			}
		})
	}
	if h, _, _ := tr.Tip(); h != 7 {
		t.Fatalf("a refused input changed the tip to %d", h)
	}
}

// TestTrackerAccessors covers what the service reads through the
// package boundary: the tip block's publication count before a
// disconnect, and the status of a keystone the tracker was not told
// about (a side branch's), judged by its own publications.
func TestTrackerAccessors(t *testing.T) {
	s := newSim(t, 3, 100)
	side, unpublished := kid(9), kid(8)
	s.mine(0)
	tip := s.mine(0, pub(side, 1), pub(kid(7), 2))
	if n := s.tr.TipPublications(tip); n != 2 {
		t.Fatalf("TipPublications(tip) = %d, want 2", n)
	}
	if n := s.tr.TipPublications(bhash(100, 0)); n != 0 {
		t.Fatalf("TipPublications(not the tip) = %d, want 0", n)
	}
	if st := s.tr.Status(side); st.Known || st.Published {
		t.Fatalf("Status of an untold keystone: %+v, want unknown", st)
	}
	st := s.tr.OwnStatus(side)
	if !st.Known || !st.Published || st.Publication.Height != 101 || st.Confirmations != 1 || st.Superfinal {
		t.Fatalf("OwnStatus of a published side keystone: %+v", st)
	}
	if st := s.tr.OwnStatus(unpublished); !st.Known || st.Published {
		t.Fatalf("OwnStatus of an unpublished keystone: %+v", st)
	}
	s.disconnect(1)
	if st := s.tr.OwnStatus(side); st.Published {
		t.Fatalf("OwnStatus after its block was disconnected: %+v", st)
	}
}

// TestRestoreRefusesBadState: a saved state that no tracker could have
// produced (a corrupt save) is refused with ErrBadState rather than
// restored into wrong answers or an endless walk.
func TestRestoreRefusesBadState(t *testing.T) {
	p := []pop.Publication{pub(kid(1), 1)}
	tests := []struct {
		name string
		st   State
	}{
		{"blocks without a tip", State{Blocks: []Block{{Height: 1, Pubs: p}}}},
		{"block above the tip", State{HasTip: true, TipHeight: 1, Blocks: []Block{{Height: 2, Pubs: p}}}},
		{"blocks out of order", State{HasTip: true, TipHeight: 9, Blocks: []Block{{Height: 5, Pubs: p}, {Height: 5, Pubs: p}}}},
		{"block at the tip height with another hash", State{HasTip: true, TipHeight: 5, TipHash: bhash(5, 0),
			Blocks: []Block{{Height: 5, Hash: bhash(5, 1), Pubs: p}}}},
		{"empty block", State{HasTip: true, TipHeight: 5, Blocks: []Block{{Height: 5}}}},
		{"keystone twice", State{Keystones: []Keystone{{ID: kid(1)}, {ID: kid(1)}}}},
		{"keystone its own previous", State{Keystones: []Keystone{{ID: kid(1), PrevID: kid(1)}}}},
		{"keystone cycle", State{Keystones: []Keystone{{ID: kid(1), PrevID: kid(3)}, {ID: kid(2), PrevID: kid(1)}, {ID: kid(3), PrevID: kid(2)}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Restore(3, tc.st); !errors.Is(err, ErrBadState) {
				t.Fatalf("got %v, want ErrBadState", err)
			}
		})
	}
}

// TestRestoreThenDisconnect: a restored tracker holds no blocks without
// publications, yet disconnects down through them and through a
// publication's block, as the original would.
func TestRestoreThenDisconnect(t *testing.T) {
	s := newSim(t, 2, 10)
	k1 := kid(1)
	s.tr.AddKeystone(k1, 25, common.Hash{1}, [32]byte{})
	s.mine(0)
	s.mine(0, pub(k1, 1))
	s.mine(0)
	s.mine(0)
	tr, err := Restore(2, s.tr.State())
	if err != nil {
		t.Fatal(err)
	}
	s.tr = tr
	wantStatus(t, s.tr, k1, true, 11, k1, 3, true)
	s.disconnect(2)
	wantStatus(t, s.tr, k1, true, 11, k1, 1, false)
	s.disconnect(1)
	wantStatus(t, s.tr, k1, false, 0, k1, 0, false)
	s.mine(1)
	s.mine(1, pub(k1, 2))
	wantStatus(t, s.tr, k1, true, 12, k1, 1, false)
	if h, hash, _ := s.tr.Tip(); h != 12 || hash != bhash(12, 1) {
		t.Fatalf("tip %d %s", h, hash)
	}
}
