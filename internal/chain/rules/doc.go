// Package rules holds the L2 header and seal rules (DESIGN 3.2): a header's
// number, timestamp, gas limit and use, base fee, fork-dependent shape, its
// Extra record (the Bitcoin view it executes against) and its seal by a
// sequencer of the set, plus the PREVRANDAO value a block must carry. They
// are pure functions of the header, its parent, the rules' parameters and
// the time given, and import no storage, so the node (package chain) and
// an offline verifier apply the same rules. The Bitcoin view rule
// (chain.Rules.CheckView) asks the node's index and stays in chain; the
// seal itself is decoded by package block (block.Signer).
//
// Layer: pure rules (DESIGN 3.2, 8).
package rules
