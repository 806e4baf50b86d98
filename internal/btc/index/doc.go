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
//     outputs by SHA-256 of their script with value and creating block,
//     spends (outpoint -> spending input), PoP keystone publications
//     (see "PoP publications").
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
//     their index entries, canonical heights, header status flags, the
//     events describing the move and every index tip. A crash (kill -9)
//     at any moment therefore reopens at the tip of the last committed
//     batch with every index consistent with it. Every such batch is
//     synced before its tip and events are published, so what a caller
//     or subscriber saw survives a kill -9 or a machine crash; batching
//     many blocks per commit during sync keeps fsyncs rare.
//  2. Index entries are never deleted. Every entry names the block it came
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
// contiguous blocks in one open batch, written through an arena and sorted
// by key before pebble sees it, and commits when the batch reaches
// Config.BatchBytes (pebble then ingests it as a flushable batch, skipping
// memtable inserts), when the block tip reaches the best header, when the
// batch holds a reorg, or after Config.MaxBatchDelay. Spends are keyed by
// outpoint, so indexing never reads the database. BlockTip, queries and
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
