// Package sequencer is the BSS's block producer (DESIGN 2): the loop
// that builds, seals and commits an L2 block every block time. The
// mempool is internal/txpool (as go-ethereum separates core/txpool from
// miner); the producer asks it for pending transactions through Pool,
// and hands each sealed block to a Committer (interface.go) that the
// assembly (internal/node) installs: today the chain's CommitBuilt, with
// raft (DESIGN 9) a commit to the group first.
//
// # Block production (Sequencer)
//
// Every BlockTime after the head's timestamp (NextDue; the header time is
// Timestamp: now in seconds, at least parent+1) a block is sealed:
//
//  1. ChooseView picks the Bitcoin view: the most-work chain's block
//     ViewLag below its tip if chain.Rules.CheckIndexedView accepts it after the
//     parent's view (forward along the chain, or onto a heavier branch
//     after a Bitcoin reorg), else the parent's view again; none
//     acceptable is chain.ErrViewNotReady and the build is retried after
//     Config.Retry;
//  2. Order lays out the pool's pending transactions: across senders by
//     effective tip at the block's base fee, highest first, each sender's
//     nonces in order, ties to the first seen;
//  3. a chain.Builder executes the derived system transactions first
//     (the chain's Derivers, in Bitcoin order) then the candidates,
//     skipping those invalid now or not fitting;
//  4. block.Seal with the sequencer key (LoadKey: a hex key from a file
//     or $HEMI_SEQUENCER_KEY, never a flag; the devnet uses DevKey, a
//     fixed public key); the view is checked once more (still on the
//     most-work chain, or still ChooseView's pick: a Bitcoin reorg may
//     land while the block is finished; if not, the block is built again
//     from step 1, up to three times), then the Committer persists it
//     (chain.CommitBuilt, which re-applies the view rules), and the
//     chain's Subscribe tells every subscriber, the pool included.
//
// Building ahead (Config.Ahead, default BlockTime/10): between two ticks
// the loop opens the next block (steps 1-3 with what is pending, at the
// view chosen then and the timestamp the block will have) and every
// Ahead executes the transactions that became pending since, from each
// sender's nonce in the block's state on (PendingFrom; prebuild.go). At
// the tick it executes the last arrivals, computes the roots, seals and
// commits, so the time from tick to commit is the roots and the write,
// not the execution of the whole block. A block built ahead is therefore
// ordered by arrival step first, by Order within a step: a high-tip
// transaction arriving late does not move ahead of those already
// executed. If at the tick the parent, the view ChooseView picks or the
// timestamp differ from the block built ahead, it is discarded and the
// block is built from scratch as above. BuildNext (tests, Ahead < 0)
// always builds from scratch.
//
// Blocks are built on time whether or not there are transactions.
//
// Starting at once (Config.StartAtOnce, a raft group's new leader): the
// first block after Run starts is built at once rather than at its due
// time, timestamped parent+1 s (at most one second ahead of the clock,
// inside the chain's MaxFuture); the schedule then continues from its
// timestamp. Not when the head's own timestamp is ahead of the clock, so
// leadership changing hands repeatedly never runs the chain further
// ahead.
//
// # Invariants
//
//  1. The sequencer never commits a block another node would reject: the
//     view is checked with the same Rules.CheckIndexedView every node applies,
//     and the Committer's CommitBuilt validates the sealed header and
//     the view again.
//  2. The view never moves backwards or onto a lighter branch; it may
//     stay the same. A committed block's view was on the most-work chain
//     the index knew right before the commit (or is the parent's view,
//     kept while nothing better is acceptable).
//  3. ChooseView, Order, NextDue and Timestamp are pure: no clocks,
//     goroutines or I/O; time comes from Config.Clock.
//
// Metrics (Config.Registerer): hemi_sequencer_blocks_built_total,
// _txs_included_total, _txs_skipped_total, _view_not_ready_total,
// _build_failures_total, _build_seconds, _bitcoin_view_height,
// _head_number; hemi_txpool_pending, hemi_txpool_queued.
//
// Layer: services (DESIGN 2 "sequencer", 3.3, 3.4).
package sequencer
