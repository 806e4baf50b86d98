//go:build race

package bench

// raceEnabled shrinks the test chains under the race detector, which slows
// signing and validation about tenfold.
const raceEnabled = true
