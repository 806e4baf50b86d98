// Package devnet runs the development network in one process: the embedded
// regtest Bitcoin node (internal/btc/regtest) serving P2P on loopback, the
// node's Bitcoin layer (internal/tbc) syncing from it over P2P exactly as it
// would from the real network, a timer that mines blocks to the dev
// mining key, and the L2 (l2.go): the devnet genesis anchored at the
// indexed Bitcoin tip minus the view lag, anvil's ten funded dev accounts
// (public keys, printed), the mempool and the sequencer sealing with the
// public devnet key (sequencer.DevKey) every block time, the finality
// service, the JSON-RPC server and the PoP miner (popm.go) funded from the
// dev coinbase.
//
// Stack (stack.go) assembles all of it and is the one place that does:
// Run is a Stack with interval mining, fixed listen addresses and a
// banner; tests and benchmarks start one with StartStack and drive it by
// hand (MineBTC, MineEmptyBTC), waiting on what it records (the indexer
// tip, the regtest mempool, L2 heads and when they were sealed, the PoP
// miner's events, finality). Its waits are bounded (DefaultStackWait)
// unless the caller's context has a deadline. Under Run the records grow
// by one entry an L2 block for as long as it runs.
//
// Its data directory is wiped at every start, like btcd's regtest: a new
// regtest chain shares only its genesis block with the last one.
package devnet
