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
