// Package btcdtest starts real btcd processes on regtest for integration
// tests and benchmarks, in the manner of btcd's integration/rpctest and lnd's
// lntest.
//
// StartProcess launches one btcd with its own temporary data directory and
// HOME, free loopback ports for P2P and RPC, RPC without TLS, and mainnet-like
// relay policy (--rejectnonstd). The returned Node talks to it over RPC
// (HTTP POST mode) and offers helpers to mine, connect peers and wait for a
// height or tip. Start wraps StartProcess for tests: it skips the test when
// the btcd binary is absent, fails the test on any helper error and stops
// the process (printing its log when the test failed) at cleanup.
//
// Invariants:
//   - A Node owns exactly one btcd process and one directory; Stop ends the
//     process (interrupt, then kill after a grace period) and removes the
//     directory unless the caller supplied it. Stop is idempotent.
//   - The binary is found in $HEMI_BTCD, then <module root>/.tools/bin/btcd,
//     then $PATH (internal/testtools, the one lookup of every tool).
//     scripts/install-tools.sh (run by `make test`) installs it.
//   - btcd regtest wipes its chain at every start, so every Node begins at
//     the regtest genesis block.
//
// Layer: test support (DESIGN 3.5, 7).
package btcdtest
