// Package ha is sequencer high availability (DESIGN 9): the sequencers of
// the genesis set form a hashicorp/raft group whose log is the chain of
// committed blocks. Only the leader builds; a sealed block is committed
// to the group before it is stored as head, served or gossiped, and a
// sealed block the group never committed goes nowhere.
//
// # Parts
//
//   - Group (group.go, lead.go): one member. Run opens the raft log and
//     stable store (raft-boltdb/v2, Dir/raft.db) and the snapshot store
//     (Dir/snapshots), listens on raft's TCP transport (Config.Bind),
//     bootstraps the group from Config.Peers when Dir holds no state, and
//     runs the leadership loop. Commit is the producer's
//     sequencer.Committer: it appends the block to the log and returns
//     once the group committed it and this member stored it.
//   - fsm (fsm.go): applies committed blocks to the member's chain, the
//     leader's own with chain.CommitBuilt (already executed), any other
//     with chain.InsertBlock (a block already stored is fine; a Bitcoin
//     view not indexed yet or a missing parent is waited for and retried,
//     never skipped).
//   - Entries (entry.go): a version byte, then RLP [header, body] as
//     internal/chain/block encodes them; FuzzEntry.
//   - Status (lead.go, transport.go): a member's role, last applied
//     block, head and Bitcoin position; members ask each other over the
//     raft port (a first byte 'H' instead of a raft RPC type) to choose
//     whom to hand leadership to.
//   - Relay (relay.go): a member that does not lead keeps the
//     transactions sent to its JSON-RPC in its own pool (so it includes
//     them if it becomes leader) and hands each to the leader's
//     JSON-RPC at once; whenever the leader changes, and after a failed
//     send, it resends its whole pool (batches of 100; the leader answers
//     "already known" for what it has), with what it relayed and has not
//     seen mined (relaykeep.go: kept apart from the pool, which may
//     refuse or evict it, until the member's chain shows the sender's
//     nonce past it; at most KeepTxs, KeepBytes and KeepFor, 4,096,
//     8 MiB and an hour by default), which also goes into its own pool
//     when it leads. The leader's URL is learned from
//     the leader's Status (its Config.RPCURL, `ha.rpc_url`, by default
//     its rpc.listen) over the raft port: nothing per member to list.
//     Every request carries rpc.ForwardedHeader, and a node that does
//     not include transactions itself refuses such a request instead of
//     forwarding it: a leader never forwards, a forwarded transaction is
//     never forwarded again (at most one member hop; two from a follower
//     whose rpc.sequencer_urls names a member that does not lead). Each
//     request is bounded by RelayConfig.Timeout (2 s);
//     hemi_ha_forward_total{result} counts forwarded, refused, failed,
//     resent and resend_failed; hemi_ha_relay_kept_txs and
//     hemi_ha_relay_kept_bytes are the transactions kept after relaying
//     them, hemi_ha_relay_kept_dropped_total{reason} those dropped
//     unmined (oldest: a bound; expired: KeepFor). The relay keeps the
//     transaction the RPC server decoded (rpc.GroupRelay passes it with
//     the client's bytes, which go to the leader unchanged), its sender
//     from the cache the pool's recovery filled: one decode and one
//     recovery per relayed transaction.
//   - Admin (admin.go): GET /ha/status and /ha/members, POST
//     /ha/members, DELETE /ha/members/{id}, on a loopback address or
//     behind a bearer token (`hemi ha status|members|add|remove`).
//
// # Invariants
//
//  1. One block per height. The FSM applies an entry only if its block
//     is the child of the last applied block (number last+1, parent
//     last's hash); otherwise every member refuses it alike (ErrRejected:
//     the verdict depends on the entry and the last applied block only).
//     A stale leader's in-flight entry: if it reached a majority, the
//     next leader commits it (raft commits earlier terms' entries with
//     its first own entry, the barrier below) and builds on it; if not,
//     the next leader's log overwrites it and the stale leader's Commit
//     fails (leadership lost, or its lease ran out when it could not
//     reach a majority) and the block is dropped; if it was committed
//     after another block at its height, the FSM refuses it and its
//     Commit returns ErrRejected.
//  2. A new leader continues from the last committed block: before its
//     producer starts it waits for a raft barrier in its term (every
//     committed entry applied) and checks its chain head is the last
//     applied block.
//  3. Leadership only to a caught-up member: the producer runs only while
//     the member leads AND its Bitcoin index is within MaxBitcoinLag
//     (default 1) of the best height its Bitcoin peers announce (judged
//     by heights, never by the clock: an hour without a Bitcoin block is
//     normal), its FSM waits for nothing, and its head is the last applied
//     block or the committed block the FSM is storing (Status.Applying:
//     the head moves inside the store, before the block counts as
//     applied). A leader that is not (a stale member that won an election,
//     or a leader that fell behind) hands leadership to the caught-up
//     member with the most applied blocks (LeadershipTransferToServer);
//     so does a leader whose chain has not advanced for 3 block times.
//     With no caught-up member the chain waits: none builds.
//  4. The log keeps a bounded tail: a snapshot is the last applied block
//     (number, hash) only, blocks live in the chain database; raft
//     snapshots every SnapshotThreshold entries (checked every
//     SnapshotInterval) and keeps TrailingLogs behind it. Restore waits
//     until the chain holds the snapshot's block (a member restored from
//     a leader's snapshot syncs its chain first).
//  5. A member stopped while an entry waits abandons it and takes no
//     snapshot after it; raft replays it from the log on restart.
//
// # Timings
//
// DefaultTimings (Timings' doc): heartbeat 200 ms, election 200 ms,
// leader lease 150 ms, commit 10 ms, for a LAN. A stopped leader hands
// leadership over on its way out (no election timeout); a killed or cut
// off one is replaced after 200-400 ms of silence: TestLeaderCutOff
// measured 330-570 ms (median 430) from the cut to the new leader's
// producer running (10 runs, 3 members in one process on the shared
// 2-core machine), and 150-180 ms until the cut-off leader's producer
// stopped (its lease). The
// new leader's producer builds its first block at once, not at its due
// time (sequencer.Config.StartAtOnce, timestamped parent+1 s): before
// that, a kill-to-next-block time included up to one block time of
// schedule (p50 945 ms in TestLeaderKill9, which kills right after a
// block); now it is detection, election, the barrier and one build:
// `hemi bench net` measures it (README).
//
// # Records
//
// Commit logs one Info line per block, "block committed", with
// committed_at: the wall-clock moment raft handed the block to the
// leader's FSM (the group had committed it). `hemi bench net` measures
// propagation from it and failover to the new leader's first one.
//
// # Gossip at commit
//
// With Config.Publisher (the node's netp2p service) the FSM hands the
// leader's own block to it as soon as the block is applied, that is
// committed and the child of the last applied block, and before the
// chain stores it: followers receive it while the leader writes it. An
// entry the FSM refuses (ErrRejected) is never handed over, so a sealed
// block that is not the chain's next goes nowhere.
//
// # Not done yet
//
// Raft's transport is plain TCP, unauthenticated: members belong on a
// private LAN (the admin endpoint is authenticated or loopback). Status
// queries are answered to anyone who reaches the raft port. The
// kill -9 process test and `hemi devnet --sequencers 3` come with the
// node's process harness.
//
// Layer: services (DESIGN 2 "network", 9).
package ha
