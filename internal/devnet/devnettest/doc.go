// Package devnettest is the harness the end-to-end tests and the
// benchmarks drive: Stack, a whole devnet in one process (devnet.Start)
// with manual mining (MineBTC, MineEmptyBTC) and waits on what it
// records (the indexer tip, the regtest mempool, L2 heads and when they
// were sealed, the PoP miner's events, finality). Its waits are bounded
// (DefaultStackWait) unless the caller's context has a deadline.
//
// The package's own tests are the devnet's end-to-end tests: the L2 with
// a follower re-executing it, the PoP miner in process and remote, PoP
// rewards and finality across Bitcoin reorgs, and the tunnel's signers
// each verifying alone against its own follower node (followers_test.go
// runs those: own indexer, own chain fed by L2 gossip from the stack's
// sequencer, StackConfig.L2P2P).
//
// Layer: test support (DESIGN 7).
package devnettest
