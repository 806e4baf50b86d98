// Package indexadapt adapts the node's Bitcoin index (internal/btc/index)
// to what each of its consumers asks for, so that the consumers keep only
// their interfaces and import no store (STYLE 4; issue 9, "adapters live
// in the assembly"):
//
//   - View (view.go) is the hVM's hvm.BitcoinView, pinned to one block:
//     the answers as of that block never change, also after it is reorged
//     out (index invariant 2), and a failure of the index is remembered
//     (Err) and never turned into an answer (hvm invariant 3).
//   - Chain (chain.go) is the L2 chain's chain.Bitcoin (the view rules'
//     facts, execution Views, keystone publications and their publishers)
//     and the block producer's MainChainAt; the index's "not yet" errors
//     become ErrViewNotReady (rules.ErrViewNotReady).
//   - PoPMiner (popm.go) is the in-process PoP miner's popm.Bitcoin over
//     the index and the P2P client that broadcasts (the devnet's miner).
//
// It is a package of its own rather than part of internal/node so that
// the consumers' own tests can build on the adapters the node runs: it
// imports none of the chain, sequencer or node packages (a test of
// package chain cannot import internal/node, which imports chain). The
// tests of packages hvm and popm, which this package imports, reach it
// through a hook an external test file sets (hvm.NewIndexViewHook,
// popm.NewIndexBitcoinHook). internal/node asserts every adapter against
// its consumer's interface at compile time.
//
// Layer: assembly (DESIGN 2).
package indexadapt
