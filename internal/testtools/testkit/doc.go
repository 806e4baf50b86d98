// Package testkit holds the small pieces almost every harness of the
// module wrote again for itself: a loopback address with a free port, for
// a server a test must name before it starts (a child process, a config,
// a raft peer list); a log buffer that many goroutines' loggers write
// into at once, which a test searches and prints the tail of when it
// fails; and the reading of one counter or gauge from a registry. They
// lived as copies in the ha, devnettest, popm, tbc integration,
// peerserve, regtest and cmd/hemi tests, btcdtest and the bench.
//
// Invariants:
//   - FreeAddr's port was free when it returned, nothing more: a server
//     in the test's own process should listen on 127.0.0.1:0 itself and
//     hand the listener over, so no other process can take the port first.
//   - LogBuffer's String is exactly what was written, in write order, as
//     long as Keep is 0; with Keep set it is the last Keep lines (at
//     least) and memory stays bounded on a long run.
//   - Nothing here imports a package of the module (only the standard
//     library and Prometheus's client), so any package's tests and every
//     test-support package may use it.
//
// Layer: test support (DESIGN 7).
package testkit
