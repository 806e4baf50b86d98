// Package devnet runs the development network in one process: the embedded
// regtest Bitcoin node (internal/btc/regtest) serving P2P on loopback, the
// node's Bitcoin layer (internal/tbc) syncing from it over P2P exactly as it
// would from the real network, a timer that mines blocks to the dev
// mining key, and the L2 (l2.go): the devnet genesis file (written to
// GenesisFile in the data directory, its path in the banner, so `hemi
// node --genesis` can run the same network) anchored at the indexed
// Bitcoin tip minus the view lag, anvil's ten funded dev accounts
// (public keys, printed), the mempool and the sequencer sealing with the
// public devnet key (sequencer.DevKey) every block time, the finality
// service, the JSON-RPC server and the PoP miner (popm.go) funded from the
// dev coinbase.
//
// The L2 is a node (internal/node, built by NewL2); Start (start.go)
// starts the regtest node, the Bitcoin layer, the PoP miner's funding,
// the node and the miner in that order and is the one place that does.
// Run is Start with interval mining, fixed listen addresses and a
// banner. The harness the end-to-end tests and the benchmarks drive by
// hand (mining, waiting on what it records) is devnettest.Stack, a
// Start with recorders.
//
// Its data directory is wiped at every start, like btcd's regtest: a new
// regtest chain shares only its genesis block with the last one.
//
// Layer: assembly (DESIGN 2).
package devnet
