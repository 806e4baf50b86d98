package bench

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

func TestParseNodeLog(t *testing.T) {
	h1, h2, h3 := common.Hash{1}, common.Hash{2}, common.Hash{3}
	log := strings.Join([]string{
		`{"time":"2026-12-06T10:00:00.100Z","level":"INFO","msg":"new head","number":1,"hash":"` + h1.Hex() + `"}`,
		`{"time":"2026-12-06T10:00:00.090Z","level":"INFO","msg":"block committed","number":1,"hash":"` + h1.Hex() + `","committed_at":"2026-12-06T10:00:00.050Z"}`,
		`{"time":"2026-12-06T10:00:01.100Z","level":"INFO","msg":"new head","number":2,"hash":"` + h2.Hex() + `"}`,
		`{"time":"2026-12-06T10:00:01.200Z","level":"INFO","msg":"side block stored","number":2,"hash":"` + h3.Hex() + `"}`,
		`panic: a crash's stack trace`,
		`{"time":"2026-12-06T10:00:02.000Z","level":"INFO","msg":"new head","hash":"` + h3.Hex() + `"}`, // no number
		`{"time":"2026-12-06T10:00:02.000Z","level":"INFO","msg":"block committed","number":3,"hash":"` + h3.Hex() + `","committed_at":"junk"}`,
		`{"time":"2026-12-06T10:00:02.500Z","level":"INFO","msg":"new he`, // cut by kill -9
		"",
	}, "\n")
	l, err := parseNodeLog(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Heads) != 2 || l.Heads[0].Hash != h1 || l.Heads[1].Number != 2 || len(l.Commits) != 1 || len(l.Seen) != 1 || l.Skipped != 4 {
		t.Fatalf("parsed %+v", l)
	}
	commits := map[common.Hash]commitEvent{h1: l.Commits[0]}
	base := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	delays, missing := propagation(commits, []*nodeLog{l, {}}, base, base.Add(time.Second))
	if len(delays) != 1 || delays[0] != 50*time.Millisecond || missing != 1 {
		t.Fatalf("propagation %v, missing %d", delays, missing)
	}
	canon := map[uint64]common.Hash{1: h1, 2: h2}
	if n := lostHeads(l, canon); n != 0 {
		t.Fatalf("lost %d", n)
	}
	if n := lostHeads(l, map[uint64]common.Hash{1: h1, 2: h3}); n != 1 {
		t.Fatalf("lost %d, want 1 (block 2 replaced)", n)
	}
	// Checked up to block 1 only: the head at 2 came after, not judged.
	if n := lostHeads(l, map[uint64]common.Hash{0: {}, 1: h1}); n != 0 {
		t.Fatalf("lost %d, want 0 (block 2 above the checked head)", n)
	}
	// Height 2 has h2 as a head and h3 as a side block.
	if n := equivocations([]*nodeLog{l}); n != 1 {
		t.Fatalf("equivocations %d, want 1", n)
	}
	if c, ok := firstCommitAfter([]*nodeLog{l}, base); !ok || c.Hash != h1 {
		t.Fatalf("first commit %+v %v", c, ok)
	}
	if _, ok := firstCommitAfter([]*nodeLog{l}, base.Add(time.Second)); ok {
		t.Fatal("a commit after the last one")
	}
}

// TestParseNodeLogLongLine: a line longer than maxLogLine is skipped,
// the next one read.
func TestParseNodeLogLongLine(t *testing.T) {
	long := `{"msg":"new head","pad":"` + strings.Repeat("x", maxLogLine) + `"}`
	ok := `{"time":"2026-12-06T10:00:00.100Z","msg":"new head","number":1,"hash":"` + common.Hash{1}.Hex() + `"}`
	l, err := parseNodeLog(strings.NewReader(long + "\n" + ok + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Heads) != 1 || l.Skipped != 1 {
		t.Fatalf("heads %d, skipped %d", len(l.Heads), l.Skipped)
	}
}

// FuzzParseNodeLog: any bytes parse without panic; every head and
// commit read carries a number and a hash.
func FuzzParseNodeLog(f *testing.F) {
	f.Add([]byte(`{"time":"2026-12-06T10:00:00.100Z","msg":"new head","number":1,"hash":"0x0100000000000000000000000000000000000000000000000000000000000000"}`))
	f.Add([]byte(`{"msg":"block committed","number":7,"hash":"0x01","committed_at":"2026-12-06T10:00:00.05Z"}` + "\n{"))
	f.Add([]byte(`{"msg":"equivocation: a sequencer sealed two blocks at one height (kept as evidence; PoP fork choice decides)","number":3}`))
	f.Add([]byte("\n\n\x00{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := parseNodeLog(strings.NewReader(string(data)))
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range l.Heads {
			if h.Hash == (common.Hash{}) || h.At.IsZero() {
				t.Fatalf("head without hash or time: %+v", h)
			}
		}
		for _, c := range l.Commits {
			if c.Hash == (common.Hash{}) {
				t.Fatalf("commit without hash: %+v", c)
			}
		}
	})
}

// TestPropagationStages: the leader's publish line and a follower's
// import line split one pair's propagation into its stages; a line
// lacking a stage is skipped, a block without a publish line is left
// out of the stages.
func TestPropagationStages(t *testing.T) {
	h1, h2 := common.Hash{1}, common.Hash{2}
	leader, err := parseNodeLog(strings.NewReader(strings.Join([]string{
		`{"time":"2026-12-06T10:00:00.060Z","level":"INFO","msg":"block published","number":1,"hash":"` + h1.Hex() + `","via":"commit"}`,
		`{"time":"2026-12-06T10:00:00.070Z","level":"INFO","msg":"block published","number":1,"hash":"` + h1.Hex() + `","via":"head"}`,
		`{"time":"2026-12-06T10:00:00.090Z","level":"INFO","msg":"block committed","number":1,"hash":"` + h1.Hex() + `","committed_at":"2026-12-06T10:00:00.050Z"}`,
		`{"time":"2026-12-06T10:00:01.090Z","level":"INFO","msg":"block committed","number":2,"hash":"` + h2.Hex() + `","committed_at":"2026-12-06T10:00:01.050Z"}`,
	}, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	follower, err := parseNodeLog(strings.NewReader(strings.Join([]string{
		`{"time":"2026-12-06T10:00:00.082Z","level":"INFO","msg":"gossiped block imported","number":1,"hash":"` + h1.Hex() + `","received_at":"2026-12-06T10:00:00.062Z","validate_ms":2.5,"wait_ms":0.5,"insert_ms":17}`,
		`{"time":"2026-12-06T10:00:00.085Z","level":"INFO","msg":"new head","number":1,"hash":"` + h1.Hex() + `"}`,
		`{"time":"2026-12-06T10:00:01.082Z","level":"INFO","msg":"gossiped block imported","number":2,"hash":"` + h2.Hex() + `","received_at":"2026-12-06T10:00:01.062Z"}`,
		`{"time":"2026-12-06T10:00:01.085Z","level":"INFO","msg":"new head","number":2,"hash":"` + h2.Hex() + `"}`,
	}, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	if follower.Skipped != 1 || len(leader.Published) != 1 || !leader.Published[h1].Equal(time.Date(2026, 12, 6, 10, 0, 0, 60e6, time.UTC)) {
		t.Fatalf("leader %+v, follower skipped %d", leader.Published, follower.Skipped)
	}
	commits := map[common.Hash]commitEvent{}
	for _, c := range leader.Commits {
		commits[c.Hash] = c
	}
	base := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	st := stagesOf(commits, []*nodeLog{leader}, []*nodeLog{follower}, base, base.Add(2*time.Second))
	want := propagationStages{Publish: []time.Duration{10 * time.Millisecond}, Deliver: []time.Duration{2 * time.Millisecond},
		Validate: []time.Duration{2500 * time.Microsecond}, Wait: []time.Duration{500 * time.Microsecond},
		Insert: []time.Duration{17 * time.Millisecond}, Head: []time.Duration{3 * time.Millisecond}}
	for i, pair := range [][2][]time.Duration{{st.Publish, want.Publish}, {st.Deliver, want.Deliver}, {st.Validate, want.Validate},
		{st.Wait, want.Wait}, {st.Insert, want.Insert}, {st.Head, want.Head}} {
		if !slices.Equal(pair[0], pair[1]) {
			t.Fatalf("stage %d: %v, want %v", i, pair[0], pair[1])
		}
	}
}
