package clock

import "time"

// Clock tells the time and waits. After behaves like time.After. Users
// that only read the time (the chain's header rule) call only Now.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// System is the wall clock.
type System struct{}

var _ Clock = System{}

// Now returns time.Now().
func (System) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (System) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Fixed is a clock stopped at T: for importing or replaying blocks whose
// timestamps are far from today (tests, benchmarks), where the header
// rule must judge them against a set time.
type Fixed struct{ T time.Time }

var _ Clock = Fixed{}

// Now returns T.
func (c Fixed) Now() time.Time { return c.T }

// After returns a channel that receives T at once when d <= 0 and never
// otherwise: time does not pass on a stopped clock.
func (c Fixed) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.T
	}
	return ch
}
