// Package indextest builds Bitcoin indexes for other packages' tests: it
// makes deterministic regtest chains and forks in-process (Chain, with
// internal/btc/txgen), opens a small index and feeds it blocks the way the
// P2P client would, then waits until they are connected. It is imported only from _test.go files.
//
// Layer: test support (DESIGN 7).
package indextest
