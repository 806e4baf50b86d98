package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// The node log lines `hemi bench net` reads (JSON, --log-format json):
// each node's own record of what it did and when, on one machine and so
// one clock.
const (
	// logCommitted is ha.Group.Commit's line on the leader: the block
	// and committed_at, when raft handed it to the leader's FSM.
	logCommitted = "block committed"
	// logHead is the node's line per new canonical head
	// (node.Node.logHeads): the record's time is when the node had it.
	logHead = "new head"
	// logSide is the chain's line for a block stored on a side branch.
	logSide = "side block stored"
	// logPublished is netp2p's line on the sequencer that published a
	// block (the record's time: Publish returned).
	logPublished = "block published"
	// logImported is netp2p's line on a node that imported a gossiped
	// block: received_at (its validation started), validate_ms, wait_ms
	// (for the import loop) and insert_ms; the record's time is the end
	// of the insertion.
	logImported = "gossiped block imported"
	// logEquivocation is netp2p's evidence line: two blocks at one
	// height by one sequencer.
	logEquivocation = "equivocation: a sequencer sealed two blocks at one height (kept as evidence; PoP fork choice decides)"
)

// maxLogLine bounds one log line the parser reads (a longer one is
// skipped, never buffered whole).
const maxLogLine = 1 << 20

// logRecord is the part of a JSON log record the benchmark reads.
type logRecord struct {
	Time        time.Time   `json:"time"`
	Msg         string      `json:"msg"`
	Number      *uint64     `json:"number"`
	Hash        common.Hash `json:"hash"`
	CommittedAt string      `json:"committed_at"`
	First       common.Hash `json:"first"`
	Second      common.Hash `json:"second"`
	ReceivedAt  string      `json:"received_at"`
	ValidateMS  *float64    `json:"validate_ms"`
	WaitMS      *float64    `json:"wait_ms"`
	InsertMS    *float64    `json:"insert_ms"`
}

// importEvent is a gossiped block a node imported, with its stages.
type importEvent struct {
	Received               time.Time // its validation started
	Validate, Wait, Insert time.Duration
	Done                   time.Time // the insertion ended
}

// headEvent is a block a node had as its head, from when.
type headEvent struct {
	At     time.Time
	Number uint64
	Hash   common.Hash
}

// commitEvent is a block the group committed, as its leader logged it.
type commitEvent struct {
	At     time.Time // committed_at
	Number uint64
	Hash   common.Hash
}

// heightSeen is a block at a height a node stored or saw (side blocks,
// evidence): two hashes at one height anywhere is an equivocation.
type heightSeen struct {
	Number uint64
	Hash   common.Hash
}

// nodeLog is what one node's log says.
type nodeLog struct {
	Heads   []headEvent
	Commits []commitEvent
	Seen    []heightSeen
	// Published is when this node published each block (the first time);
	// Imported each gossiped block it imported, with its stages.
	Published map[common.Hash]time.Time
	Imported  map[common.Hash]importEvent
	// Skipped counts lines that are not JSON records or lack a field a
	// known message needs (a crash's stack trace, a line cut by kill -9).
	Skipped int
}

// parseNodeLog reads a node's JSON log. Lines that are not JSON records
// (stderr of a crash, a line cut by kill -9) are counted and skipped;
// the records the benchmark reads must carry their fields.
func parseNodeLog(r io.Reader) (*nodeLog, error) {
	out := &nodeLog{}
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, tooLong, err := readLine(br)
		switch {
		case tooLong:
			out.Skipped++
		case len(line) > 0:
			out.add(line)
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("bench: read node log: %w", err)
		}
	}
}

// readLine returns the next line without its newline; a line longer
// than maxLogLine is read and dropped (tooLong).
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	for {
		var (
			part     []byte
			isPrefix bool
		)
		part, isPrefix, err = br.ReadLine()
		if !tooLong {
			if len(line)+len(part) > maxLogLine {
				tooLong, line = true, nil
			} else {
				line = append(line, part...)
			}
		}
		if err != nil || !isPrefix {
			return line, tooLong, err
		}
	}
}

// add reads one line into l.
func (l *nodeLog) add(line []byte) {
	if len(line) == 0 || line[0] != '{' {
		l.Skipped++
		return
	}
	var rec logRecord
	if err := json.Unmarshal(line, &rec); err != nil {
		l.Skipped++
		return
	}
	switch rec.Msg {
	case logHead:
		if rec.Number == nil || rec.Time.IsZero() || rec.Hash == (common.Hash{}) {
			l.Skipped++
			return
		}
		l.Heads = append(l.Heads, headEvent{At: rec.Time, Number: *rec.Number, Hash: rec.Hash})
	case logCommitted:
		at, err := time.Parse(time.RFC3339Nano, rec.CommittedAt)
		if rec.Number == nil || err != nil || rec.Hash == (common.Hash{}) {
			l.Skipped++
			return
		}
		l.Commits = append(l.Commits, commitEvent{At: at, Number: *rec.Number, Hash: rec.Hash})
	case logSide:
		if rec.Number == nil || rec.Hash == (common.Hash{}) {
			l.Skipped++
			return
		}
		l.Seen = append(l.Seen, heightSeen{Number: *rec.Number, Hash: rec.Hash})
	case logPublished:
		if rec.Time.IsZero() || rec.Hash == (common.Hash{}) {
			l.Skipped++
			return
		}
		if l.Published == nil {
			l.Published = map[common.Hash]time.Time{}
		}
		if _, ok := l.Published[rec.Hash]; !ok {
			l.Published[rec.Hash] = rec.Time
		}
	case logImported:
		at, err := time.Parse(time.RFC3339Nano, rec.ReceivedAt)
		if err != nil || rec.Time.IsZero() || rec.Hash == (common.Hash{}) || rec.ValidateMS == nil || rec.WaitMS == nil || rec.InsertMS == nil {
			l.Skipped++
			return
		}
		if l.Imported == nil {
			l.Imported = map[common.Hash]importEvent{}
		}
		l.Imported[rec.Hash] = importEvent{Received: at, Validate: msDuration(*rec.ValidateMS), Wait: msDuration(*rec.WaitMS),
			Insert: msDuration(*rec.InsertMS), Done: rec.Time}
	case logEquivocation:
		if rec.Number == nil {
			l.Skipped++
			return
		}
		l.Seen = append(l.Seen, heightSeen{Number: *rec.Number, Hash: rec.First}, heightSeen{Number: *rec.Number, Hash: rec.Second})
	}
}

// propagation is, for every block committed in [from, to) and every
// follower log, the time from the commit to the follower having it as
// head; missing counts pairs a follower never logged (it got the block
// inside a catch-up, or never).
func propagation(commits map[common.Hash]commitEvent, followers []*nodeLog, from, to time.Time) (delays []time.Duration, missing int) {
	for _, c := range commits {
		if c.At.Before(from) || !c.At.Before(to) {
			continue
		}
		for _, f := range followers {
			at, ok := firstHead(f, c.Hash)
			if !ok {
				missing++
				continue
			}
			delays = append(delays, at.Sub(c.At))
		}
	}
	slices.Sort(delays)
	return delays, missing
}

// msDuration is a log's millisecond figure as a duration.
func msDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

// propagationStages splits propagation into its parts, over the same
// (block, follower) pairs as propagation, where the logs have every
// stage: the leader's commit to its publish, the publish to the
// follower's validation starting (gossipsub and the network), the
// validation, the wait for the import loop, the insertion, and the
// insertion's end to the follower's head line. Each slice is sorted.
type propagationStages struct {
	Publish, Deliver, Validate, Wait, Insert, Head []time.Duration
}

func stagesOf(commits map[common.Hash]commitEvent, sequencers, followers []*nodeLog, from, to time.Time) propagationStages {
	var st propagationStages
	for hash, c := range commits {
		if c.At.Before(from) || !c.At.Before(to) {
			continue
		}
		var pub time.Time
		for _, l := range sequencers {
			if at, ok := l.Published[hash]; ok && (pub.IsZero() || at.Before(pub)) {
				pub = at
			}
		}
		if pub.IsZero() {
			continue
		}
		for _, f := range followers {
			im, ok := f.Imported[hash]
			head, okHead := firstHead(f, hash)
			if !ok || !okHead {
				continue
			}
			st.Publish = append(st.Publish, pub.Sub(c.At))
			st.Deliver = append(st.Deliver, im.Received.Sub(pub))
			st.Validate = append(st.Validate, im.Validate)
			st.Wait = append(st.Wait, im.Wait)
			st.Insert = append(st.Insert, im.Insert)
			st.Head = append(st.Head, head.Sub(im.Done))
		}
	}
	for _, s := range [][]time.Duration{st.Publish, st.Deliver, st.Validate, st.Wait, st.Insert, st.Head} {
		slices.Sort(s)
	}
	return st
}

// firstHead is when the node first had hash as head.
func firstHead(l *nodeLog, hash common.Hash) (time.Time, bool) {
	for _, h := range l.Heads {
		if h.Hash == hash {
			return h.At, true
		}
	}
	return time.Time{}, false
}

// lostHeads counts the distinct blocks a node had as head that are not
// in the final canonical chain (canon: number -> hash, from 0 to the
// head every node was checked to hold): blocks it lost to a reorg. Heads
// above canon's top came after the check (the chain does not stop for
// it) and are not judged.
func lostHeads(l *nodeLog, canon map[uint64]common.Hash) int {
	lost := map[common.Hash]bool{}
	for _, h := range l.Heads {
		c, ok := canon[h.Number]
		if !ok && h.Number >= uint64(len(canon)) {
			continue
		}
		if !ok || c != h.Hash {
			lost[h.Hash] = true
		}
	}
	return len(lost)
}

// equivocations counts the heights at which the logs, together, name
// two or more different blocks (heads, side blocks, evidence).
func equivocations(logs []*nodeLog) int {
	at := map[uint64]map[common.Hash]bool{}
	note := func(n uint64, h common.Hash) {
		if h == (common.Hash{}) {
			return
		}
		if at[n] == nil {
			at[n] = map[common.Hash]bool{}
		}
		at[n][h] = true
	}
	for _, l := range logs {
		for _, h := range l.Heads {
			note(h.Number, h.Hash)
		}
		for _, c := range l.Commits {
			note(c.Number, c.Hash)
		}
		for _, s := range l.Seen {
			note(s.Number, s.Hash)
		}
	}
	n := 0
	for _, hs := range at {
		if len(hs) > 1 {
			n++
		}
	}
	return n
}

// firstCommitAfter is the earliest block committed after t in any of
// logs (the sequencers other than the one killed at t).
func firstCommitAfter(logs []*nodeLog, t time.Time) (commitEvent, bool) {
	var best commitEvent
	found := false
	for _, l := range logs {
		for _, c := range l.Commits {
			if c.At.After(t) && (!found || c.At.Before(best.At)) {
				best, found = c, true
			}
		}
	}
	return best, found
}
