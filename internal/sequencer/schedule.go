package sequencer

import "time"

// NextDue is when the block after a parent with timestamp parentTime
// (seconds) is due: blockTime after it. A due time in the past (the
// sequencer was stopped, or a build was slow) means build now.
func NextDue(parentTime uint64, blockTime time.Duration) time.Time {
	return time.Unix(int64(parentTime), 0).Add(blockTime)
}

// Timestamp is the header time of a block built at now on a parent with
// timestamp parentTime: now in whole seconds, but at least one second
// after the parent (the chain's rule).
func Timestamp(parentTime uint64, now time.Time) uint64 {
	t := now.Unix()
	if t < 0 || uint64(t) <= parentTime {
		return parentTime + 1
	}
	return uint64(t)
}

// startDue is when a producer started at now with Config.StartAtOnce
// builds its first block on a parent with timestamp parentTime, its
// regular due time being due: now, unless the block is due already or
// the parent's timestamp is ahead of now (a leader that started early
// just before: the block would run more than one second ahead of the
// clock, so the regular schedule holds). ok reports whether the due
// time moved.
func startDue(parentTime uint64, due, now time.Time) (time.Time, bool) {
	if !due.After(now) || time.Unix(int64(parentTime), 0).After(now) {
		return due, false
	}
	return now, true
}
