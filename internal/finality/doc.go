// Package finality turns the node's own Bitcoin index into L2 finality
// (DESIGN 4): for every L2 block, the keystone that covers it, the earliest
// canonical Bitcoin publication that commits to that keystone, its Bitcoin
// confirmations and whether it is superfinal; and it decides Proof-of-Proof
// fork choice between competing L2 branches.
//
// # Parts
//
// Tracker is a pure state machine (no goroutines, clocks or I/O): Bitcoin
// blocks are connected and disconnected one at a time, in chain order, with
// the PoP publications each holds; keystones of any L2 branch are added as
// they become known. Service is the I/O shell: it feeds a Tracker from the
// index's events and the chain's heads, answers queries, implements
// chain.ForkChoice and asks the chain to reconsider its head when
// publications change.
//
// # Effective publication
//
// Keystones form a tree by their previous-keystone id. A keystone commits
// to all its ancestors, so the effective publication of keystone K is the
// earliest canonical Bitcoin publication (by height, then position of the
// transaction in its block, then output index) of K or of any keystone in
// K's subtree, on whatever branch. Invariants the tracker keeps after every
// input:
//
//   - eff(K) = min(own(K), eff(child) for each child of K), where own(K) is
//     the earliest canonical publication of K's own id;
//   - hence effective heights never decrease along a branch from the root
//     to its tip, and a block is safe or superfinal only if its ancestors
//     are;
//   - publications of ids that no known keystone has (unknown L2 blocks,
//     other chains) are kept, since the keystone may arrive later, but
//     affect nothing until it does; a duplicate publication of an id in a
//     later position never changes the earliest;
//   - confirmations = Bitcoin tip height - publication height + 1;
//     superfinal = confirmations >= SuperfinalDepth.
//
// # Fork choice rule
//
// Prefer(current, candidate) is given the keystones of each branch above
// their common ancestor, in height order. For each branch and keystone, take
// the Bitcoin height of its effective publication (computed as above, but
// also along the given branch, so a candidate the tracker has not been told
// about still counts its own publications). Then:
//
//  1. If current[0] is superfinal, refuse: a node never reorganises below a
//     superfinal block.
//  2. For every L2 keystone number present on either branch: a keystone
//     missing on one branch counts as unpublished there. If neither side is
//     published, both score 0. Otherwise the reference is the earlier of
//     the two publication heights, and each side scores ForkTable[delay]
//     points where delay = its height - reference; unpublished, or a delay
//     beyond the table, scores 0.
//  3. The candidate wins only with a strictly higher total: a tie (and in
//     particular two branches with no publications at all) keeps the
//     current branch.
//
// Publications of a side branch's keystones count for that branch even
// though the tracker only holds canonical keystones: Prefer lowers each
// keystone's publication by the own publications of the later keystones
// in the list it is given.
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
// The table is genesis.PoPConfig.ForkTable; when empty, DefaultForkTable
// (VeriBlock's {100, 100, 95, 89, 80, 69, 56, 40, 21}: same block or one
// block later is as good, then decaying, nothing after 8 blocks, the
// finality delay). The depth is genesis.PoPConfig.SuperfinalDepth; when 0,
// genesis.DefaultSuperfinalDepth (10).
//
// Layer: services (DESIGN 4).
package finality
