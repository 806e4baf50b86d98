// Package tracker holds the finality rules of DESIGN 4 as a pure state
// machine, the Tracker, and the Proof-of-Proof fork choice rule (Score,
// Prefer): events in (Bitcoin blocks connected and disconnected with the
// publications each holds, keystones added), decisions out, no
// goroutines, clocks, I/O or storage, so that the node's finality service
// (internal/finality, its I/O shell) and an offline verifier apply the
// same rules. It imports neither pebble nor the Bitcoin index.
//
// Layer: pure rules (DESIGN 4).
//
// # Saved state
//
// The tracker keeps the Bitcoin tip and only the canonical blocks that
// hold publications, so DisconnectBitcoin is told the disconnected
// block's parent (the new tip). State and Restore save and restore it
// (blocks with publications, keystones, tip), with binary records
// (Block, Keystone; DecodeBlock and DecodeKeystone refuse bad input with
// ErrBadState, and Restore refuses an inconsistent state, a keystone
// cycle included); its size grows with publications and keystones, not
// with Bitcoin's length. FuzzTracker checks the invariants below against
// a recomputation from scratch with saves and restores at random points.
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
package tracker
