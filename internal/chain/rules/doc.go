// Package rules holds the L2 header and seal rules (DESIGN 3.2): a header's
// number, timestamp, gas limit and use, base fee, fork-dependent shape, its
// Extra record (the Bitcoin view it executes against) and its seal by a
// sequencer of the set, plus the PREVRANDAO value a block must carry; and
// the Bitcoin view rule (DESIGN 3.4, CheckView) over a narrow Views
// interface. They are pure functions of the header, its parent, the rules'
// parameters, the time and the Bitcoin facts given, and import no
// storage, so the node (package chain, which adapts its index to Views)
// and an offline verifier apply the same rules. The seal itself is
// decoded by package block (block.Signer).
//
// Layer: pure rules (DESIGN 3.2, 3.4, 8).
package rules
