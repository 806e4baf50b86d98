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
// Run loads the saved state (below), then reads the index's events from
// the saved position on (with nothing saved, from a little below the
// Bitcoin view of L2 block 1: publications cannot be older) and follows
// the chain's canonical keystones, dropping those a reorg removed. After
// every Bitcoin block that adds or removes publications it calls the
// chain's Reconsider, so a side branch whose keystones reached Bitcoin
// first takes over. Queries: Finality(number), Heads, KeystoneStatus,
// Prefer. Prometheus: hemi_finality_{safe_block,finalized_block,keystones,
// bitcoin_height,finalized_not_superfinal_blocks} and
// hemi_finality_superfinality_lost_total; "finality advanced" is logged
// when safe or finalized moves.
//
// # Tags
//
//   - finalized is the newest superfinal canonical keystone ever seen, and
//     it never moves back (Ethereum tools assume it cannot): it is saved
//     (synced) before it is answered. When a Bitcoin reorg deeper than the
//     superfinal depth removes the publication that made it superfinal,
//     the tag stays; Finality reports the confirmations as they are now,
//     with Finalized and SuperfinalityLost set; the gauge
//     finalized_not_superfinal_blocks holds how many blocks at or below
//     the tag are not superfinal now, the counter superfinality_lost_total
//     counts such events, and an Error is logged at once and then at most
//     once a minute until the blocks are superfinal again (Info then).
//     Prefer refuses any branch switch below the tag, and the chain, for
//     which the service is a chain.Finalizer, refuses one too. Only a
//     chain database replaced under the node (the finalized block no
//     longer canonical at start or after a sync) lowers it, logged at
//     Error.
//   - safe is the newest canonical keystone with at least one
//     confirmation, but never below finalized. Like Ethereum's safe it
//     may move back: a Bitcoin reorg that removes a publication, or an L2
//     reorg, lowers it.
//   - Both are 0, the genesis, while none is.
//
// # State on disk
//
// With Config.Dir (the node's <datadir>/finality) the state is a pebble
// database: a format version and the L2 genesis hash; the Bitcoin
// position (the next index event, the last one applied, the tracker's
// tip); one record per Bitcoin block holding publications
// (tracker.Block); one per keystone the tracker was told about
// (tracker.Keystone); the canonical keystone list; the finalized tag.
// Every applied event is one batch of its position and its block record,
// every keystone sync one batch of the list's change and its keystones,
// so a kill -9 at any moment reopens at a consistent position, and the
// rest is replayed (the batches are not synced; the tag is). So a
// restart reads what came after the save, not the chains from their
// start: loading is a scan of records that grow with publications and
// keystones only, and the index and chain reads are those of the events
// and heads since (TestRestartWorkDoesNotGrow counts them: the same for
// 1,000 L2 / 100 Bitcoin blocks as for 100,000 / 10,000).
//
// At start the saved Bitcoin half is checked against the index (it has
// at least as many events, and the event at the saved position is the
// one applied); otherwise it is dropped and rebuilt, keystones and tag
// kept. A Bitcoin reorg while the node was down is the index's
// disconnect and connect events after the saved position; an L2 reorg is
// found by checking the newest saved canonical keystone against the
// chain, walking back until one matches. A store of an older format or
// another genesis is rebuilt; one of a newer format is refused with
// ErrStoreVersion. Without Dir everything is rebuilt at every Run.
//
// The table is genesis.PoPConfig.ForkTable; when empty, tracker.DefaultForkTable
// (VeriBlock's {100, 100, 95, 89, 80, 69, 56, 40, 21}: same block or one
// block later is as good, then decaying, nothing after 8 blocks, the
// finality delay). The depth is genesis.PoPConfig.SuperfinalDepth; when 0,
// genesis.DefaultSuperfinalDepth (10).
//
// Layer: services (DESIGN 4).
package finality
