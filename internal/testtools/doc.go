// Package testtools finds and runs the real programs the integration tests
// and benchmarks drive as peers or clients (btcd, Foundry's cast, forge and
// anvil, Node.js with ethers, viem and solc-js), in the manner of btcd's
// integration/rpctest and lnd's lntest: the lookup is written once here.
//
// Lookup, for each tool in the same order: the HEMI_* environment variable
// the Makefile sets (HEMI_BTCD, HEMI_CAST, HEMI_FORGE, HEMI_ANVIL, and
// HEMI_ETHERS_DIR for the npm folder), else the place under the module
// root's .tools where `make tools` (scripts/install-tools.sh) installs it,
// else the program on PATH. Node.js is the machine's, found on PATH only.
//
// Invariants:
//   - A test skips (Tool, NPM) only when the program is absent, and its
//     message names the variable and `make tools`; `.ci/run` runs `make
//     test`, which installs every tool first, so CI never skips. A variable
//     that is set but names no executable file counts as absent, as before.
//   - Run reads a program's stdout and stderr apart: clients such as cast
//     and node print warnings on stderr, and read together a warning
//     corrupts the JSON answer on stdout (issue 8).
//   - Find has no test dependency beyond this package, so `hemi bench` uses
//     it outside tests.
//
// Layer: test support (DESIGN 7).
package testtools
