package node

import (
	"runtime"
	"runtime/metrics"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
)

// gcPaceMargin is how many blocks' worth of allocation the heap must
// still have below its goal after a head settled for the collector to
// wait: the runtime starts a cycle before the heap reaches the goal (its
// trigger), so one block's worth would let it start inside the next one.
const gcPaceMargin = 2

// collectNow reports whether to run the collector now, a new head having
// settled: the heap (heap bytes, goal the runtime's next goal) would
// reach its goal within gcPaceMargin more blocks of perBlock allocated
// bytes each, so the runtime would start a cycle while the next block is
// inserted.
func collectNow(heap, goal, perBlock uint64) bool {
	return perBlock > 0 && goal > 0 && heap+gcPaceMargin*perBlock >= goal
}

// paceGC runs the garbage collector after a new head settled (heads:
// a SubscribeSettled stream) whenever the runtime would otherwise start
// a cycle while the next block is inserted (collectNow), until heads
// closes. Only at the tip: a head whose timestamp is more than two block
// times old is a catch-up's, whose blocks come back to back (there is
// no moment between them to move a cycle to).
//
// Why: a node's allocation comes in bursts, one per block (decoding,
// sender recovery, execution, the state commit), so the runtime starts
// its cycles inside that burst: `hemi bench net` traced the mark workers
// at 2-14 ms of a process's running time in the 80 ms after a commit,
// when every node of the network inserts the block on the same cores
// (and the idle mark workers take whatever core the insertion waits
// for). Run here, the same cycle costs the same CPU between blocks.
// Cycles come a little more often (at the settle point rather than at
// the goal), none later, so the heap never grows past the goal GOGC
// sets.
func paceGC(heads <-chan *types.Header, blockTime time.Duration) {
	samples := []metrics.Sample{
		{Name: "/gc/heap/allocs:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/heap/goal:bytes"},
	}
	var last uint64 // allocated bytes at the previous head at the tip
	for h := range heads {
		if time.Since(time.Unix(int64(h.Time), 0)) > 2*blockTime {
			last = 0
			continue
		}
		metrics.Read(samples)
		allocs, heap, goal := samples[0].Value.Uint64(), samples[1].Value.Uint64(), samples[2].Value.Uint64()
		var perBlock uint64
		if last > 0 {
			perBlock = allocs - last
		}
		last = allocs
		if collectNow(heap, goal, perBlock) {
			runtime.GC()
		}
	}
}
