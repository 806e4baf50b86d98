// Package addrindex is the explorer's address index (DESIGN 10): for
// every address, the canonical transactions it sent, received (or
// created) and the ERC-20/721 transfers it took part in (from the
// receipts' Transfer logs; no call tracing at import), in chain order.
// Otterscan's ots_searchTransactionsBefore/After (internal/rpc) and the
// explorer's address pages read it.
//
// # Shape
//
// New(Config) opens the index's own pebble database; Run(ctx) follows
// the chain (Chain.Subscribe) from the index's tip until ctx is done,
// catching up at start (STYLE 6): the index keeps its own tip and
// never blocks the chain's insertion. Blocks the chain still holds in
// memory (Chain.Recent) are indexed from there, so the senders recovered
// for the execution are reused; older ones are read back and their
// senders recovered on every core.
//
// # Storage (one pebble database)
//
//	m                       version (u32) | L2 genesis hash (32)
//	t                       tip: number (u64) | hash (32)
//	h number                the indexed block's hash (32) | time (u64)
//	b number                the block's distinct addresses (20 each): its undo record
//	a address number index  flags (1 byte, Flag*) | the transaction's record
//	x number index          the transaction's record: flags (1: system, has
//	                        recipient, success) | hash (32) | from (20) |
//	                        [to (20)] | value (0-32 bytes, big-endian)
//
// Integers are big-endian, so an address's entries sort in chain order
// and a reverse iteration walks its history backwards. System
// transactions count like user ones (positions are the block's, system
// transactions first). The zero address is not indexed for token
// transfers (mints and burns would make its history the whole chain's).
//
// The transaction records make a page of history a read of the index
// alone: a row needs no block, receipt or signature recovery (a page of
// 25 rows of a busy sender otherwise reads 25 blocks and their
// receipts). Each entry carries a copy of its transaction's record, so
// a page is one iteration over the address's entries plus a block
// record per block: the x records alone would cost a point read per
// row, each in another part of the database (a busy sender's older page
// read ~25 data blocks cold). The records cost the import one more
// write per transaction and ~75 more bytes per entry, all of which the
// import already has (sender, hash, status); x records stay for a
// block's rows (BlockTxs).
//
// # Reorgs and crash safety
//
// A block is connected in ONE batch: its entries, its undo record, its
// hash and the tip. A block that leaves the canonical chain is
// disconnected, newest first, in one batch each: its entries (a range
// delete per address of the undo record), its transaction and block
// records, the tip back to its parent. Subscribe re-delivers a reorg's new branch from the fork
// point's child, whose parent is on the indexed branch, so the index
// unwinds to it and connects the new blocks; at start, the index unwinds
// while its tip is not canonical. Batches are not fsynced: pebble's WAL
// is ordered, so a crash loses at most a suffix of blocks, which the
// next start indexes again; the index never holds half a block.
//
// # Queries
//
// Before and After page an address's entries the way Otterscan pages:
// at least pageSize transactions unless the history ends, never
// splitting a block. Each entry carries the indexed block's hash and
// time and the transaction's record, read from one snapshot, so a reader
// that is briefly behind a reorg sees the block the entry was built from.
//
// Layer: stores (DESIGN 10).
package addrindex
