// Package devnettest is the harness the end-to-end tests and the
// benchmarks drive: Stack, a whole devnet in one process (devnet.Start)
// with manual mining (MineBTC, MineEmptyBTC) and waits on what it
// records (the indexer tip, the regtest mempool, L2 heads and when they
// were sealed, the PoP miner's events, finality). Its waits are bounded
// (DefaultStackWait) unless the caller's context has a deadline.
//
// The package's own tests are the devnet's end-to-end tests: the L2 with
// a follower re-executing it, the PoP miner in process and remote, PoP
// rewards and finality across Bitcoin reorgs.
//
// Layer: test support (DESIGN 7).
package devnettest
