// Package txgen is a deterministic wallet, transaction builder and block
// builder for tests and benchmarks.
//
// Keys are derived from a seed and an index, so the same seed always gives
// the same addresses, transactions and blocks. Transactions spend P2WPKH
// (BIP 143 ECDSA) and P2TR key-path (BIP 86 tweak, BIP 341 Schnorr)
// outputs. The block builder extends a chain tip with blocks that pass full
// consensus validation under the given parameters: BIP 34 height in the
// coinbase, a BIP 141 witness commitment, the merkle root, a timestamp above
// the median time past, the subsidy schedule of the parameters and a solved
// proof of work (practical only for regtest-like targets).
//
// Invariants: a transaction's txid does not depend on its signatures (every
// input is segwit), so callers may plan chains of spends from unsigned
// transactions and sign them later, in parallel. Nothing here touches the
// network or the disk.
//
// Layer: pure rules (DESIGN 2, "embedded regtest Bitcoin"; popm and devnet use it outside tests too).
package txgen
