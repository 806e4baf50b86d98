// Package layers guards the floors of the house: every package of the module
// belongs to one layer, and a package may import only packages of its own
// layer or of a lower one, so the pure rules a verifier shares never pull in
// storage or services, and nothing below the assembly depends on how a node
// is put together (STYLE "Keep new packages at the same floor discipline").
//
// The layers, lowest first (the README's "Layers" table is this table; the
// test checks that they match):
//
//   - base: libraries with no Bitcoin or L2 knowledge (HTTP serving, the
//     metrics registry, pebble's logs).
//   - formats: wire formats and parameters (the keystone and PoP payload,
//     the L2 block format, Bitcoin network parameters).
//   - pure rules: consensus rules and deterministic builders as functions of
//     their input, no goroutines, clocks, disk or network (genesis and
//     system-transaction derivation, the hVM precompiles, txgen's signing).
//   - stores: the databases and what they decide at write time (the Bitcoin
//     index, the L2 chain), on pebble.
//   - services: long-running parts with goroutines and I/O (P2P, the
//     Bitcoin layer, finality, mempool, block producer, PoP miner, RPC).
//   - assembly: what builds a node or a devnet from the one config.
//   - test support: harnesses, real-process helpers, golden files, the
//     real-client suite and the benchmarks; allowed to import anything below
//     commands. _test.go files of every package count as test support, so
//     only non-test imports are checked.
//   - commands: cmd/hemi.
//
// A new package without a layer fails the test with a message saying where
// to add it (the table in layers_test.go, the README and a "Layer:" line in
// its doc.go). Known upward imports that issue 9 item 4 (pure rules out of
// the storage packages) or a later change removes are listed, each with why,
// in the test's allow-list; an entry no longer needed fails the test so it
// is deleted.
//
// Layer: test support (DESIGN 7).
package layers
