// Package index is TBC's Bitcoin header chain, block store and indexes, on
// pebble. The P2P client (internal/btc/p2p) feeds it headers and blocks
// through the p2p.Chain interface; the rest of the node asks it questions
// as of any retained Bitcoin block and subscribes to its reorg events.
//
// # What it holds
//
//   - Every valid header, in memory as a tree (parent pointers, height,
//     cumulative work, status flags) and on disk. Headers are checked with
//     btcd's CheckBlockHeaderSanity and CheckBlockHeaderContext (PoW,
//     retarget, median time past, checkpoints) against their parent in the
//     tree; the best header chain is the one with most cumulative work
//     (first seen wins ties). Side forks are kept.
//   - Raw blocks, verified against their header (hash, merkle root without
//     mutation, BIP141 witness commitment) and stored as they arrive, in
//     any order. Transaction scripts and the UTXO set are NOT validated:
//     the index trusts the most-work chain, like an SPV client that also
//     keeps the blocks.
//   - Indexes, each with its own tip: canonical heights, tx -> location,
//     outputs by SHA-256 of their script with value and creating block
//     (the unspent set's change records of kind create),
//     spends (outpoint -> spending input), PoP keystone publications
//     (see "PoP publications"), and the per-script unspent set and
//     balance with their change records (see "Per-script unspent set").
//
// # Per-script unspent set
//
// Balance and UTXOs (hVM 0x40/0x41, `hemi btc balance|utxos`) must not
// cost what an address's whole history costs, so they do not walk every
// output ever paid to the script. The connector keeps, in the same
// batches as the rest (layouts in utxokeys.go):
//
//   - u: the unspent outputs at the block tip, keyed by script hash |
//     height | position in block | output index (the 0x41 order), and p:
//     the same outputs by outpoint, so an input finds what it spends;
//   - a: each script's balance at the block tip, as merge operands that
//     pebble sums (balanceMerger), so indexing never reads a balance;
//   - d: change records, never deleted: one per output created and one
//     per output spent, keyed by script hash | height | block id | kind |
//     position | output or input index, valued with the output. The
//     creations are also the outputs by script that Outputs walks;
//   - j: per block, the scripts whose outputs of earlier blocks it spent,
//     so a disconnect finds them in d and restores the set exactly.
//
// u, p and a are current-state tables: connect and disconnect rewrite
// them, and they are the only entries the index deletes. A block is
// applied tx by tx, inputs then outputs, on every connect (also of a
// block indexed before, whose records are then rewritten unchanged); an
// input whose output the set does not hold (an OP_RETURN, the genesis
// coinbase, an unknown or already spent outpoint) changes nothing, so the
// change records of a block are exactly its changes to the set. The two
// mainnet coinbases that repeat an earlier txid (duplicateTxids) remove
// the earlier outputs as a spend would. IndexFork replays a side fork
// from its fork point over the set there (the current set, less what the
// connected blocks above the fork point changed) to write its records.
//
// Queries as of the set tip S (below) read u and a. A query as of another
// view V whose highest block shared with S's chain is F reads the
// script's change records at heights F+1..max(S, V), undoes those of
// connected blocks up to S (newest first), replays those of V's own
// blocks, and merges the result with the rows of u at heights up to F. Reads, as counted by Reads, with
// U the script's unspent outputs and R its change records at those
// heights on any fork (records of other forks are read and skipped):
//
//	Balance                     1 (V = S)        2 + R (otherwise)
//	UTXOs page p of size n      min((p+1)n, U+1) (V = S)
//	                            at most 2 + 2R + (p+1)n (otherwise)
//
// The answers are those of the scan of every output paying the script
// with a spend lookup for each, which TestUTXOSetMatchesScan checks as of
// every block of reorged and side forks; TestQueryReadsBounded checks the
// counts for an address with 5,000 past outputs against one with 10.
//
// Those R records are read once per script, view and stored state, not
// once per query: the difference they make (the change set: the outputs
// the overlay replaces and the balance difference) is memoized in a
// size-bounded LRU (go-ethereum's BasicLRU, Config.ChangeMemoBytes,
// default DefaultChangeMemoBytes = 16 MiB, sized by each entry's outputs),
// keyed by script hash, the view's block and a generation bumped with
// every replacement of the query snapshot. That replacement, under the
// chain lock's write side, is the only way the set tip, the connected
// chain, the indexed flags or the stored records a change set depends on
// change, and it also empties the memo, so a memoized set is never read
// against another state. Concurrent first queries of one key compute it
// once (singleflight). A query that hits reads none of the records and
// Reads counts 0 for them:
//
//	Balance                     1 (hit)
//	UTXOs page p of size n      at most 1 + K + (p+1)n (hit)
//
// where K is the script's stored outputs spent by the view's own blocks
// above the base (stored rows the walk steps over): 0 for a view on the
// connected chain at or below the set tip, the hVM's case. Sets computed
// without a record (R = 0) are not kept: they cost the one seek a hit
// would save. So while the memo has room, the total record reads of all
// queries as of one view, whatever their number, are at most the change
// records of the blocks between the view and the set tip (each record
// belongs to one script), plus each query's constant reads; an entry
// evicted (or larger than the whole memo) is read again by its next
// query. TestMemoReadsOnce checks the counts, TestMemoNotStale and
// TestUTXOSetMatchesScan (also with a memo that evicts constantly) the
// answers across connects, reorgs, IndexFork and a reopen,
// TestMemoBounded the bound.
//
// The stored u, p and a tables hold the set as of the set tip (the tip
// of index "utxo"), a block of the connected chain at or below the block
// tip. The change records and undo records are committed with every
// block; the set itself is stored with the batch that reaches the best
// header (so a node following the tip stores it with every block), with
// every batch holding a reorg (so the set tip stays on the connected
// chain), when the changes held in memory outgrow an eighth of
// Config.UTXOCacheBytes (a flush writes them in one batch), and when
// all the outputs held outgrow the whole budget. In between, the
// connector (mainSet, a write-back cache like btcd's utxocache) holds in
// one map the outputs created since the set tip, the stored outputs spent
// since and stored outputs read or written before, and the balance
// changes apart, so during a sync most outputs are created and spent
// without ever reaching u or p, and the others are written in large
// batches sorted with the rest; balances are merge operands that pebble
// sums (balanceMerger), so indexing never reads one. Written outputs stay
// in the map; over budget, after a flush, the oldest are dropped (down to
// three quarters of it). A spend of an output the map does not hold
// reads p, the only database read of the write path, so a sync whose
// unspent set fits the budget (the default, 256 MiB, holds about 1.8
// million outputs; TestMainSetMemory checks the estimate) never reads
// the database and its cost per transaction does not grow with the set
// (TestUTXOCacheHoldsSet). A crash or a failed commit loses only
// memory: Open (or the connector) applies the connected blocks above the
// set tip again, from the stored blocks. Queries treat the set tip as the
// stored set's view: a view at it reads u and a only, any other view
// (the block tip during a sync included) the change records above the
// highest block it shares with the set tip, with the bound above counted
// from that block. Queries read through a pebble snapshot replaced with
// each commit under the chain lock, so they never see the tables ahead of
// the in-memory chain and set tip. The on-disk format (3) is stored in m;
// a database of another format, including format 2 (headers and blocks
// among the connect batches' tables, see keys.go) and format 1 (before
// the unspent set; another comparer and merger, which pebble refuses
// first), is refused with ErrFormat naming the fix ("reindex: delete
// DIR"). The set
// has no catch-up from older databases: it exists from the database's
// start.
//
// # PoP publications
//
// An output is indexed as a publication of keystone id iff its script is
// exactly pop's 83-byte form (pop.ParseScript): OP_RETURN OP_PUSHDATA1
// 0x50, "HEMI", a 76-byte keystone of version 1; the key is the
// keystone's id. Anything else that looks like PoP is ignored, not
// indexed and not an error: a wrong magic, a version other than 1, a
// push of another length or with another opcode (a direct push,
// OP_PUSHDATA2/4, two pushes), bytes after the payload, a script that
// does not start with OP_RETURN. The transaction itself is indexed as any
// other. Duplicates are all indexed: the same keystone in several outputs
// of one transaction, in several transactions of a block, in several
// blocks; Publications returns them in Bitcoin order (height, position in
// the block, output), and consumers (finality, PoP rewards) decide which
// counts. The output's value is not looked at, and outputs of coinbase
// transactions are indexed too. The index does not know L2 blocks: a
// publication of an id no L2 keystone has is indexed like any other
// (internal/chain pays nothing for it). TestPoPBadInput covers each case.
//
// # Invariants
//
//  1. The connected chain (block tip) only moves along the best header
//     chain, one atomic pebble batch at a time, and only to a chain with
//     more work whose blocks are all stored. Each batch holds whole blocks:
//     their index entries, canonical heights, indexed flags (i), the
//     events describing the move and every index tip. A crash (kill -9)
//     at any moment therefore reopens at the tip of the last committed
//     batch with every index consistent with it. Every such batch is
//     synced before its tip and events are published, so what a caller
//     or subscriber saw survives a kill -9 or a machine crash; batching
//     many blocks per commit during sync keeps fsyncs rare.
//  2. Index entries are never deleted, except the current-state tables of
//     the unspent set (u, p, a), which always describe the block tip of
//     the same batch. Every entry names the block it came
//     from (by node id), and a query as of block X counts an entry of block
//     B iff B is X or an ancestor of X (O(1) on the main chain through the
//     height-indexed connected chain, a short walk for side forks). A reorg
//     therefore only rewrites canonical heights and tips, and queries as of
//     any block that was ever connected keep answering exactly as they did
//     (side-fork data is retained forever; nothing is pruned). Stored
//     side-fork blocks that were never connected can be indexed on request
//     with IndexFork.
//  3. A block is flagged indexed only when all indexes hold its entries;
//     queries as of a block that is not give ErrNotIndexed.
//  4. Events (connected / disconnected) are stored in the same batch as the
//     change and delivered in order to each subscriber from its own
//     goroutine, after the in-memory chain reflects them; a slow subscriber
//     only lags (see Subscribe).
//  5. The genesis block is stored but its transactions are not indexed
//     (its coinbase is unspendable), as in Bitcoin Core and btcd.
//
// # Write path and performance
//
// AcceptBlock serializes the block straight into the batch that stores it,
// hashes every transaction once from those bytes (txid, and wtxid when a
// witness commitment is present) and keeps the decoded block in memory
// (bounded by Config.PendingBytes) until it connects. The connector stages
// contiguous blocks in one open batch, written through an arena (fixed
// chunks, never copied while it grows) and sorted by key before pebble
// sees it, and commits when the batch reaches Config.BatchBytes, when the
// block tip reaches the best header, when the batch holds a reorg, or
// after Config.MaxBatchDelay. A batch that reached Config.BatchBytes (a
// sync's) is written as one sstable and ingested (ingest.go): the L0
// table a flushable batch would have become, without writing it to the
// write-ahead log first; ingestion is atomic and durable, and the WAL is
// synced before it so the table never outlives the unsynced blocks and
// headers it indexes. Headers and blocks are keyed below every table a
// connect writes, so the memtable (which holds them) never overlaps an
// ingested table and is flushed only when full (keys.go). Smaller batches (a node at the tip) and batches
// writing one key twice (a reorg) are committed as synced batches. A batch committed
// because it is full (a sync) is sorted, committed and published by a
// goroutine of its own while the connector stages the next one on top of
// it; at most one is in flight, and everything else waits for it first,
// so batches still commit and publish in order, each synced before it is
// published (connect.go). Spends are keyed by
// outpoint; the only database reads while indexing are the unspent set's
// cache misses (see "Per-script unspent set"). BlockTip, queries and
// events only ever show committed batches.
//
// Reads use prefix seeks: the database's comparer splits hash-addressed
// keys into the hash part and the block part, and sstables carry bloom
// filters on the hash part, so a lookup skips tables that cannot hold it.
// The comparer's name is part of the on-disk format.
//
// # Concurrency
//
// All methods are safe for concurrent use. Header acceptance and the
// connected chain share one RWMutex (queries hold it for reading for their
// whole duration, so an answer is consistent with one chain state). Blocks
// are verified and stored concurrently by their callers; one caller at a
// time connects, and it connects every block that became ready, including
// those stored meanwhile by others (so a block may connect shortly after
// its AcceptBlock returned; a timer commits batches that wait).
//
// Layer: stores (DESIGN 2 "Bitcoin node/indexer", 3.6).
package index
