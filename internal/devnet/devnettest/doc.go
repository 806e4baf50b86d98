// Package devnettest is the harness the end-to-end tests and the
// benchmarks drive: Stack, a whole devnet in one process (devnet.Start)
// with manual mining (MineBTC, MineEmptyBTC) and waits on what it
// records (the indexer tip, the regtest mempool, L2 heads and when they
// were sealed, the PoP miner's events, finality). Its waits are bounded
// (DefaultStackWait) unless the caller's context has a deadline. Its
// tunnel helpers (tunnel.go) give the devnet's vault and pay it from the
// dev miner's coinbases as a wallet would (DepositFromCoinbase,
// FundVaultFromCoinbase).
//
// The package's own tests are the devnet's end-to-end tests: the L2 with
// a follower re-executing it, the PoP miner in process and remote, PoP
// rewards and finality across Bitcoin reorgs, and the tunnel's signers
// each verifying alone against its own follower node (followers_test.go
// runs those: own indexer, own chain fed by L2 gossip from the stack's
// sequencer, StackConfig.L2P2P). The tunnel tests share one set-up,
// tunnelEnv (tunnelenv_test.go): the stack, its vault and JSON-RPC
// client, and the refresh payout two of them start from (openRefresh).
//
// Layer: test support (DESIGN 7).
package devnettest
