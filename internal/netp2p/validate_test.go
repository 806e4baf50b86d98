package netp2p

import (
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/hemi-go/hemi/internal/chain/block"
)

// TestGate: each rule of doc.go's table, with its verdict and reason.
func TestGate(t *testing.T) {
	seq, other := testKey("seq"), testKey("other")
	g := NewGate([]common.Address{crypto.PubkeyToAddress(seq.PublicKey)})
	facts := Facts{Head: 10, Finalized: 4, Known: func(h common.Hash) bool { return h == common.Hash{0x4b} }}

	good := testBlock(t, seq, 11, common.Hash{1}, 2)
	junk := testBlock(t, seq, 11, common.Hash{1}, 2)
	junk.Body = testBlock(t, seq, 11, common.Hash{1}, 3).Body // valid header, another body
	badSeal := testBlock(t, seq, 12, common.Hash{1}, 1)
	badSeal.Header.Time++ // the seal no longer covers the header
	unsealed := testBlock(t, seq, 12, common.Hash{1}, 1)
	e, _ := block.DecodeExtra(unsealed.Header.Extra)
	e.Seal = nil
	unsealed.Header.Extra, _ = e.Encode()

	for _, c := range []struct {
		name    string
		data    []byte
		verdict Verdict
		reason  string
	}{
		{"malformed", []byte("junk"), Reject, ReasonMalformed},
		{"oversized", make([]byte, MaxMessageSize+1), Reject, ReasonTooLarge},
		{"valid header with a junk body", encode(t, junk), Reject, ReasonBadTxRoot},
		{"bad seal", encode(t, badSeal), Reject, ReasonUnknownSequencer}, // recovers another key
		{"unsealed", encode(t, unsealed), Reject, ReasonBadSeal},
		{"unknown sequencer", encode(t, testBlock(t, other, 11, common.Hash{1}, 1)), Reject, ReasonUnknownSequencer},
		{"at the finalized block", encode(t, testBlock(t, seq, 4, common.Hash{1}, 1)), Reject, ReasonBehindFinalized},
		{"far ahead", encode(t, testBlock(t, seq, 10+MaxAhead+1, common.Hash{1}, 1)), Ignore, ReasonFarAhead},
		{"good", encode(t, good), Accept, ReasonOK},
		{"replayed", encode(t, good), Ignore, ReasonSeen},
		{"at the window's edge", encode(t, testBlock(t, seq, 10+MaxAhead, common.Hash{1}, 1)), Accept, ReasonOK},
		{"just above finalized", encode(t, testBlock(t, seq, 5, common.Hash{1}, 1)), Accept, ReasonOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := g.Check(c.data, facts)
			if d.Verdict != c.verdict || d.Reason != c.reason {
				t.Fatalf("%s/%s (%v), want %s/%s", d.Verdict, d.Reason, d.Err, c.verdict, c.reason)
			}
			if (d.Err == nil) != (c.verdict == Accept) {
				t.Fatalf("err %v with verdict %s", d.Err, d.Verdict)
			}
		})
	}
	// The junk body was rejected before the real block came: the real
	// block (same header hash) is still accepted, it was not marked seen.
	g2 := NewGate(g.seqList())
	if d := g2.Check(encode(t, junk), facts); d.Verdict != Reject {
		t.Fatalf("junk body: %s", d.Verdict)
	}
	if d := g2.Check(encode(t, good), facts); d.Verdict != Accept {
		t.Fatalf("the real block after its junk-body twin: %s/%s (%v), want accept", d.Verdict, d.Reason, d.Err)
	}
	// A block the chain stores already is ignored.
	known := testBlock(t, seq, 9, common.Hash{2}, 0)
	if d := g2.CheckBlock(known, Facts{Head: 10, Known: func(h common.Hash) bool { return h == known.Hash() }}); d.Verdict != Ignore || d.Reason != ReasonKnown {
		t.Fatalf("stored block: %s/%s, want ignore/known", d.Verdict, d.Reason)
	}
}

func (g *Gate) seqList() []common.Address {
	var out []common.Address
	for a := range g.sequencers {
		out = append(out, a)
	}
	return out
}

// TestGateHeightLimitAndEvidence: at most MaxPerHeight distinct blocks
// per height are accepted; a second block by the same sequencer at a
// height is accepted and kept as evidence; a different sequencer's block
// at the same height is no equivocation.
func TestGateHeightLimitAndEvidence(t *testing.T) {
	a, b := testKey("seq a"), testKey("seq b")
	g := NewGate([]common.Address{crypto.PubkeyToAddress(a.PublicKey), crypto.PubkeyToAddress(b.PublicKey)})
	facts := Facts{Head: 5}
	blocks := []struct {
		key    string
		parent byte
		want   Verdict
		evid   bool
	}{
		{"a", 1, Accept, false},
		{"b", 2, Accept, false}, // another sequencer: a competing block, no equivocation
		{"a", 3, Accept, true},  // a's second block at 6
		{"a", 4, Ignore, false}, // the fourth distinct block at 6
	}
	for i, c := range blocks {
		key := a
		if c.key == "b" {
			key = b
		}
		d := g.CheckBlock(testBlock(t, key, 6, common.Hash{c.parent}, 0), facts)
		if d.Verdict != c.want || (d.Evidence != nil) != c.evid {
			t.Fatalf("block %d: %s/%s evidence %v, want %s evidence %v", i, d.Verdict, d.Reason, d.Evidence != nil, c.want, c.evid)
		}
		if c.want == Ignore && d.Reason != ReasonHeightFull {
			t.Fatalf("block %d: reason %s, want %s", i, d.Reason, ReasonHeightFull)
		}
	}
	ev := g.Evidence()
	if len(ev) != 1 || ev[0].Number != 6 || ev[0].Signer != crypto.PubkeyToAddress(a.PublicKey) || ev[0].First.Hash() == ev[0].Second.Hash() {
		t.Fatalf("evidence %+v, want one equivocation by a at 6", ev)
	}
	// A block this node published itself is seen: its echo is ignored.
	own := testBlock(t, a, 7, common.Hash{9}, 0)
	g.MarkLocal(own.Header)
	if d := g.CheckBlock(own, facts); d.Verdict != Ignore || d.Reason != ReasonSeen {
		t.Fatalf("echo of a published block: %s/%s", d.Verdict, d.Reason)
	}
}
