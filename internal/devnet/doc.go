// Package devnet runs the development network in one process: the embedded
// regtest Bitcoin node (internal/btc/regtest) serving P2P on loopback, the
// node's Bitcoin layer (internal/tbc) syncing from it over P2P exactly as it
// would from the real network, and a timer that mines blocks to the dev
// mining key. Later issues add the sequencer, PoP miner and tunnel signers.
//
// Its data directory is wiped at every start, like btcd's regtest: a new
// regtest chain shares only its genesis block with the last one.
package devnet
