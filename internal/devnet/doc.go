// Package devnet runs the development network in one process: the embedded
// regtest Bitcoin node (internal/btc/regtest) serving P2P on loopback, the
// node's Bitcoin layer (internal/tbc) syncing from it over P2P exactly as it
// would from the real network, a timer that mines blocks to the dev
// mining key, and the L2 (l2.go): the devnet genesis anchored at the
// indexed Bitcoin tip minus the view lag, anvil's ten funded dev accounts
// (public keys, printed), the mempool and the sequencer sealing with the
// public devnet key (sequencer.DevKey) every block time. Later issues add
// the PoP miner and tunnel signers.
//
// Its data directory is wiped at every start, like btcd's regtest: a new
// regtest chain shares only its genesis block with the last one.
package devnet
