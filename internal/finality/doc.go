// Package finality turns the node's own Bitcoin index into L2 finality
// (DESIGN 4): for every L2 block, the keystone that covers it, the earliest
// canonical Bitcoin publication that commits to that keystone, its Bitcoin
// confirmations and whether it is superfinal; and it decides Proof-of-Proof
// fork choice between competing L2 branches.
//
// # Parts
//
// The rules live in package tracker (internal/finality/tracker), which
// imports no storage so the verifier can share them: Tracker is a pure
// state machine (no goroutines, clocks or I/O): Bitcoin blocks are
// connected and disconnected one at a time, in chain order, with the PoP
// publications each holds; keystones of any L2 branch are added as they
// become known; the effective publication and the fork choice rule are
// documented there. Service is the I/O shell: it feeds a Tracker from the
// index's events and the chain's heads, answers queries, implements
// chain.ForkChoice and asks the chain to reconsider its head when
// publications change.
//
// # Service
//
// Run reads the index's events from a little below the Bitcoin view of L2
// block 1 (publications cannot be older), rebuilding the tracker at every
// start (it keeps no state on disk), and follows the chain's canonical
// keystones, dropping those a reorg removed. After every Bitcoin block
// that adds or removes publications it calls the chain's Reconsider, so a
// side branch whose keystones reached Bitcoin first takes over. Queries:
// Finality(number), Heads (safe: the newest canonical keystone with a
// publication; finalized: the newest superfinal one; both 0, the genesis,
// while there is none), KeystoneStatus, Prefer. Prometheus gauges
// hemi_finality_{safe_block,finalized_block,keystones,bitcoin_height};
// "finality advanced" is logged when safe or finalized moves.
//
// The table is genesis.PoPConfig.ForkTable; when empty, tracker.DefaultForkTable
// (VeriBlock's {100, 100, 95, 89, 80, 69, 56, 40, 21}: same block or one
// block later is as good, then decaying, nothing after 8 blocks, the
// finality delay). The depth is genesis.PoPConfig.SuperfinalDepth; when 0,
// genesis.DefaultSuperfinalDepth (10).
//
// Layer: services (DESIGN 4).
package finality
