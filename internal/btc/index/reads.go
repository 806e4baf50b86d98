package index

import "sync/atomic"

// readCounter counts the database reads the query methods make: every
// iterator positioning (a seek or a step, including the last one that
// finds nothing) and every point Get. It exists so tests and `hemi bench
// hvm` can state a query's cost as a number of reads, which does not
// depend on the machine, where a timing would. Connecting blocks is not
// counted. One atomic add per read keeps it cheap enough to stay on.
type readCounter struct{ n atomic.Uint64 }

// step counts one iterator positioning and passes its result through, so
// a loop reads `for ok := ix.reads.step(it.First()); ok; ok = ix.reads.step(it.Next())`.
func (c *readCounter) step(ok bool) bool {
	c.n.Add(1)
	return ok
}

// get counts one point read.
func (c *readCounter) get() { c.n.Add(1) }

// Reads returns the number of database reads the query methods (TxByID,
// Balance, UTXOs, Outputs, SpendOf, Publications) have made since Open. The
// reads of one query are the difference of two calls around it when no
// other query runs meanwhile.
func (ix *Index) Reads() uint64 { return ix.reads.n.Load() }
